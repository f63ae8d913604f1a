"""hgq_fpga: High Granularity Quantization for FPGA trigger networks.

Train Keras 3 models whose every weight and activation has a learned bit width, freeze them into an
integer firmware IR, emulate it bit-exactly, and emit firmware: Vitis HLS C++, Verilog RTL and a
standalone C++ emulator library, each proven bit-exact against the trained model.

The public names below are for users and load lazily, so ``import hgq_fpga`` (and the firmware
IR, the emulator and the backends) never import Keras or TensorFlow unless a Keras-facing function
is used. Inside the package, every module imports a function from its home module, never through
this root.
"""

from __future__ import annotations

from hgq_fpga._lazy import lazy_getattr

__version__ = "0.1.0"

#: public name -> (home module, attribute)
_LAZY = {
    "ebops": ("hgq_fpga.nn.ebops", "ebops"),
    "calibrate": ("hgq_fpga.nn.calibration", "calibrate"),
    "to_firmware": ("hgq_fpga.nn.freeze", "to_firmware"),
    "verify": ("hgq_fpga.checks.verify", "verify"),
    "load_firmware": ("hgq_fpga.ir.model", "load_firmware"),
    "FirmwareModel": ("hgq_fpga.ir.model", "FirmwareModel"),
}

__all__ = ["__version__", *_LAZY]

__getattr__ = lazy_getattr(__name__, _LAZY)

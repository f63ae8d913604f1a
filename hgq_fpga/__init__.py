"""hgq_fpga: High Granularity Quantization for FPGA trigger networks.

Train Keras 3 models whose every weight and activation has a learned bit width, freeze them into an
integer firmware description, emulate it bit-exactly, and emit Vitis/Vivado HLS C++.

The top-level names are loaded lazily, so ``import hgq_fpga`` (and the firmware IR, the emulator and
the HLS writer) never import Keras or TensorFlow unless a Keras-facing function is used.
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

#: public name -> (module, attribute)
_LAZY = {
    "ebops": ("hgq_fpga.cost", "ebops"),
    "calibrate": ("hgq_fpga.calibration", "calibrate"),
    "to_firmware": ("hgq_fpga.convert", "to_firmware"),
    "verify": ("hgq_fpga.verify", "verify"),
    "load_firmware": ("hgq_fpga.ir", "load_firmware"),
    "FirmwareModel": ("hgq_fpga.ir", "FirmwareModel"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hgq_fpga' has no attribute {name!r}")

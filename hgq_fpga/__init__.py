"""hgq_fpga: High Granularity Quantization for FPGA trigger networks.

Train Keras 3 models whose every weight and activation has a learned bit width, freeze them into an
integer firmware description, emulate it bit-exactly, and emit Vitis/Vivado HLS C++.

The top-level names are loaded lazily, so ``import hgq_fpga`` (and the firmware IR, the emulator and
the HLS writer) never import Keras or TensorFlow unless a Keras-facing function is used.
"""

from __future__ import annotations

from importlib import import_module

from hgq_fpga import _aliases
from hgq_fpga._lazy import lazy_getattr

__version__ = "0.1.0"

_aliases.install()

#: public name -> (module, attribute)
_LAZY = {
    "ebops": ("hgq_fpga.nn.ebops", "ebops"),
    "calibrate": ("hgq_fpga.nn.calibration", "calibrate"),
    "to_firmware": ("hgq_fpga.nn.freeze", "to_firmware"),
    "verify": ("hgq_fpga.verification", "verify"),
    "load_firmware": ("hgq_fpga.ir", "load_firmware"),
    "FirmwareModel": ("hgq_fpga.ir", "FirmwareModel"),
}

__all__ = ["__version__", *_LAZY]


#: sub-packages and modules reachable as attributes of a bare ``import hgq_fpga``
_SUBMODULES = ("fixed", "ir", "nn", "backends", "app",
               *(old.split(".")[1] for old in _aliases.MOVED if old.count(".") == 1))


def _submodule(name: str):
    if name in _SUBMODULES:
        return import_module(f"hgq_fpga.{name}")
    raise AttributeError(f"module 'hgq_fpga' has no attribute {name!r}")


__getattr__ = lazy_getattr(__name__, _LAZY, fallback=_submodule)

"""hgq_fpga: High Granularity Quantization for FPGA trigger networks.

Train Keras 3 models whose every weight and activation has a learned bit width, freeze them into an
integer firmware description, emulate it bit-exactly, and emit Vitis/Vivado HLS C++.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """Lazy re-exports, so that ``import hgq_fpga`` does not import Keras."""
    if name == "ebops":
        from .ebops import ebops
        globals()["ebops"] = ebops
        return ebops
    if name == "calibrate":
        from .calibration import calibrate
        globals()["calibrate"] = calibrate
        return calibrate
    raise AttributeError(f"module 'hgq_fpga' has no attribute {name!r}")

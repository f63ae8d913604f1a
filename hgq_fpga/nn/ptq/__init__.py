"""Post-training quantization (PTQ) of a float Keras model into bit-exact hgq_fpga firmware.

    result = quantize_float(model, x_calib, weight_bits=8, act_bits=8, search="easyquant")
    qmodel = result.model

The float model is mapped onto the hgq_fpga layers (:mod:`.mapping`), then every tensor's binary
point is searched on the calibration data (:mod:`.search`); optionally the widths are lowered
layer by layer to an EBOPs budget (:mod:`.mixed`). The returned model is in calibrated mode with
fixed types: ``hgq_fpga.to_firmware(qmodel)`` converts it and Keras = emulator bit for bit.
:func:`hgq_fpga.nn.calibration.uncalibrate` hands it to HGQ training with its widths as the
starting point. Every argument is checked first (:mod:`.arguments`).

Names are loaded lazily, so that the command line can check arguments (:mod:`.arguments`) before
it imports Keras.
"""

from __future__ import annotations

from hgq_fpga._lazy import lazy_getattr

_LAZY = {
    "PTQResult": ("hgq_fpga.nn.ptq.api", "PTQResult"),
    "quantize_float": ("hgq_fpga.nn.ptq.api", "quantize_float"),
    "quantize_float_budgets": ("hgq_fpga.nn.ptq.api", "quantize_float_budgets"),
    "UnmappableLayerError": ("hgq_fpga.nn.ptq.mapping", "UnmappableLayerError"),
    "ArgumentError": ("hgq_fpga.nn.ptq.arguments", "ArgumentError"),
}

__all__ = list(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)

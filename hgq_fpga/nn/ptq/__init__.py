"""Post-training quantization (PTQ) of a float Keras model into bit-exact hgq_fpga firmware.

    result = quantize_float(model, x_calib, weight_bits=8, act_bits=8, search="easyquant")
    qmodel = result.model

The float model is mapped onto the hgq_fpga layers (:mod:`.mapping`), then every tensor's binary
point is searched on the calibration data (:mod:`.search`); optionally the widths are lowered
layer by layer to an EBOPs budget (:mod:`.mixed`). The returned model is in calibrated mode with
fixed types: ``hgq_fpga.to_firmware(qmodel)`` converts it and Keras = emulator bit for bit.
:func:`hgq_fpga.nn.calibration.uncalibrate` hands it to HGQ training with its widths as the
starting point.
"""

from hgq_fpga.nn.ptq.api import PTQResult, quantize_float, quantize_float_budgets
from hgq_fpga.nn.ptq.mapping import UnmappableLayerError

__all__ = ["PTQResult", "quantize_float", "quantize_float_budgets", "UnmappableLayerError"]

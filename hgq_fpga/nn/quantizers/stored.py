"""Weight quantizers whose calibrated values are stored at calibration (``docs/method.md`` §8).

The multiplier-free quantizers (:mod:`~hgq_fpga.nn.quantizers.nhot`,
:mod:`~hgq_fpga.nn.quantizers.ternary`) pick each weight's code with searches and group statistics
that are easy in numpy but not exact in float32/float64 Keras ops. So calibration computes the codes
once, in exact integer numpy (:meth:`HQuantizer.weight_codes`), and stores the quantized values in a
float64 variable; calibrated mode returns those values (the same thing the batch-norm layers do
with their fused weights). The layers see an ordinary :class:`HQuantizer`: nothing in them changes.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.quantizers.hgq import HQuantizer


class StoredWeightQuantizer(HQuantizer):
    """Base of the weight quantizers whose exact quantized values are fixed at calibration.

    Subclasses override :meth:`weight_codes` (calibration, exact numpy) and the training-mode
    rounding. After calibration, :meth:`exact_quantize` returns the stored values, whatever float
    weights it is given (they must have the kernel's shape): re-calibrate after changing weights.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("kind", "weight")
        super().__init__(*args, **kwargs)
        if self.kind != "weight":
            raise ValueError(f"{type(self).__name__} quantizes weights only (kind='weight'), got {self.kind!r}")

    def build(self, shape) -> None:
        if self.tensor_shape is not None:
            return
        super().build(shape)
        self.w_calibrated = self.add_weight(name="w_calibrated", shape=self.tensor_shape, initializer="zeros",
                                          trainable=False, dtype="float64")

    def calibrate_weight(self, w) -> np.ndarray:
        wq = super().calibrate_weight(w)
        self.w_calibrated.assign(np.asarray(wq, np.float64))
        return wq

    def exact_quantize(self, x):
        """Calibrated mode: the quantized weights stored at calibration (float64, exact)."""
        if tuple(x.shape) != tuple(self.tensor_shape):
            raise ValueError(f"quantizer {self.name!r} stores weights of shape {self.tensor_shape}; "
                             f"got a tensor of shape {tuple(x.shape)}")
        return ops.convert_to_tensor(self.w_calibrated, "float64")


register = keras.saving.register_keras_serializable(package="hgq_fpga")

"""A quantizer with given, never learned, per-element types: what an imported model is made of.

:class:`FixedQuantizer` is an :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` that is always in deployment
mode: its ``(k, i, f)``, rounding and overflow come from the imported model, and calibration keeps
them (``hgq_fpga.calibrate`` still runs its exactness checks). It adds the rounding ``RND_CONV``
(half to even, what ``tf.round`` does in QKeras) and the overflow ``SAT_SYM`` to the trainable
quantizer's modes, with the semantics of ``ap_fixed`` (docs/method.md §1).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga import fixed
from hgq_fpga.nn.keras_backend import floor_keep_dtype
from hgq_fpga.nn.quantizers.hgq import HQuantizer

ROUNDING = ("TRN", "RND", "RND_CONV")
OVERFLOW = ("WRAP", "SAT", "SAT_SYM")


def tight_types(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per element the narrowest ``(k, i, f)`` that holds the float value exactly (0 bits for 0)."""
    v = np.asarray(values, np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError("weights contain NaN or inf")
    mant, exp = np.frexp(v)                       # v = mant * 2**exp, 0.5 <= |mant| < 1
    m = np.ldexp(mant, 53).astype(np.int64)       # exact integer significand
    tz = np.zeros(v.shape, np.int64)
    nz = m != 0
    low = m[nz] & -m[nz]                          # lowest set bit
    tz[nz] = np.frexp(low.astype(np.float64))[1] - 1
    f = np.where(nz, 53 - exp - tz, 0)            # v * 2**f is an odd integer
    raw = np.where(nz, m >> np.where(nz, tz, 0), 0)
    k = (raw < 0).astype(np.int64)
    mag = np.where(raw < 0, -raw - 1, raw)
    i = fixed.bit_length(mag) - f
    return np.where(nz, k, 0), np.where(nz, i, 0), np.where(nz, f, 0)


@keras.saving.register_keras_serializable(package="hgq_fpga")
class FixedQuantizer(HQuantizer):
    """Quantize to fixed per-element types with ``ap_fixed`` rounding and overflow; never trained.

    Args:
        kind: ``"weight"`` or ``"activation"``.
        round_mode: ``"TRN"``, ``"RND"`` or ``"RND_CONV"``.
        overflow_mode: ``"WRAP"``, ``"SAT"`` or ``"SAT_SYM"``.
    Set the types with :meth:`set_types` once the quantizer is built.
    """

    def __init__(self, kind: str = "activation", round_mode: str = "TRN", overflow_mode: str = "WRAP",
                 **kwargs: Any) -> None:
        kwargs.pop("calibrated", None)
        super().__init__(kind=kind, round_mode="TRN", overflow_mode="WRAP", **kwargs)
        round_mode = fixed.check_round(round_mode)
        overflow_mode = fixed.check_overflow(overflow_mode)
        if round_mode not in ROUNDING or overflow_mode not in OVERFLOW:
            raise ValueError(f"FixedQuantizer supports rounding {ROUNDING} and overflow {OVERFLOW}, got "
                             f"{round_mode!r}, {overflow_mode!r}")
        self.round_mode = round_mode
        self.overflow_mode = overflow_mode

    # the types are given, so the quantizer is always calibrated and uncalibrate/calibrate keep them
    @property
    def calibrated(self) -> bool:
        return True

    @calibrated.setter
    def calibrated(self, value: bool) -> None:
        pass

    def set_types(self, k, i, f) -> None:
        """Fix the per-element types (broadcast to the tensor shape)."""
        shape = self.tensor_shape
        self._set_types(*(np.broadcast_to(np.asarray(t, np.int64), shape) for t in (k, i, f)))

    def calibrate_weight(self, w) -> np.ndarray:
        """Calibration: keep the imported types; the weights must still be exactly representable."""
        w = np.asarray(w, np.float64)
        wq = np.asarray(ops.convert_to_numpy(self.exact_quantize(w)), np.float64)
        if not np.array_equal(wq, w):
            raise ValueError(f"quantizer {self.name!r}: the weights are no longer those imported (they "
                             "changed after import); import the model again")
        return wq

    def calibrate_activation(self, margin: int = 0) -> None:
        """Calibration: keep the imported types (``margin`` does not apply to them)."""

    def fake_quantize(self, x, training: bool = False):
        raise ValueError(f"quantizer {self.name!r} has imported fixed types and cannot be trained")

    def _round(self, v, negative):
        """Adds half-to-even (``RND_CONV``, QKeras's ``tf.round``) to HGQ's modes."""
        if self.round_mode != "RND_CONV":
            return super()._round(v, negative)
        fl = floor_keep_dtype(v)
        frac = v - fl
        odd = (fl - 2.0 * floor_keep_dtype(fl * 0.5)) > 0.5
        return fl + ops.cast((frac > 0.5) | ((frac == 0.5) & odd), "float64")

    def _lowest(self, k, span, hi, wl):
        """Adds ``SAT_SYM`` (a signed range symmetric around 0) to HGQ's modes."""
        lo = super()._lowest(k, span, hi, wl)
        if self.overflow_mode == "SAT_SYM":
            lo = ops.where((k > 0) & (wl > 1), -hi, lo)
        return lo

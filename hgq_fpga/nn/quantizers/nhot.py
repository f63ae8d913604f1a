"""n-hot weights: each weight is the nearest sum of at most ``n`` signed powers of two
(``docs/method.md`` §8; Sakuma et al., arXiv 2103.11704).

A constant multiply by such a weight is ``n - 1`` adders, whatever its width. The powers lie on
HGQ's learned grid: the least significant one is at least ``2**-F`` with ``F = round(f)`` learned
per weight exactly as in :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` (the gradient on ``f`` is
the same surrogate ``-ln2 * (wq - w)``), and there is no upper limit, so the per-weight bit width is
still learned and EBOPs still apply. In code units (``v = w * 2**F``) the n-hot value is the
integer nearest to ``v`` whose canonical signed-digit form has at most ``n`` nonzero digits; an
exact tie goes to the larger value (``RND``).

* Training (float32): a search that keeps, at each of ``n`` steps, the two powers of two around
  the residual (``2**k <= |r| < 2**(k+1)``, or 0 and 1 below one code); the nearest of the ``2**n``
  sums is the nearest n-hot value (checked against brute force in the tests).
* Calibration (exact int64 numpy): the sorted set of all codes with at most ``n`` signed digits up
  to the tensor's largest code, and a search with exact tie comparison (``2v`` against ``lo + hi``).
  The values are stored (:class:`~hgq_fpga.nn.quantizers.stored.StoredWeightQuantizer`), so the
  firmware holds ordinary integer weight codes.

``n_active`` (a non-trainable variable, so changing it needs no retrace) is the number of terms in
force during training; 0 means plain HGQ rounding. :class:`hgq_fpga.nn.nhot_schedule.NHotSchedule`
uses it for the two-stage schedule. Calibration always uses ``n``.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.fixed import bit_length
from hgq_fpga.nn.quantizers.stored import StoredWeightQuantizer, register

#: the largest code set calibration enumerates (values with at most n signed digits)
MAX_CODE_SET = 20_000_000


def signed_digit_codes(n: int, bits: int) -> np.ndarray:
    """Sorted int64 array of every sum of at most ``n`` signed powers ``±2**e``, ``0 <= e < bits``.

    Distinct positions suffice: a minimal signed-digit form never repeats a position.
    """
    parts = [np.zeros(1, np.int64)]
    for d in range(1, min(n, bits) + 1):
        pos = np.array(list(combinations(range(bits), d)), np.int64)              # (C, d)
        signs = np.array(np.meshgrid(*[[1, -1]] * d, indexing="ij")).reshape(d, -1).T  # (2^d, d)
        parts.append((signs[None] * np.left_shift(1, pos)[:, None, :]).sum(-1).ravel())
        if sum(p.size for p in parts) > MAX_CODE_SET:
            raise ValueError(f"n-hot code set for n={n} over {bits} bits is too large to enumerate; "
                             "use a smaller n or fewer fractional bits (f_max)")
    return np.unique(np.concatenate(parts))


def nearest_nhot_codes(v: np.ndarray, n: int) -> np.ndarray:
    """The nearest integer to each float64 ``v`` with at most ``n`` nonzero signed digits (ties up).

    Exact: candidates are integers below ``2**53`` and the tie test compares ``2v`` (exact) with
    the sum of the two neighbours (exact).
    """
    v = np.asarray(v, np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError("n-hot quantization of a non-finite weight")
    top = int(np.ceil(np.abs(v).max(initial=0.0)))
    bits = int(bit_length(np.array([top]))[0]) + 1
    if bits > 52:
        raise ValueError(f"n-hot weight codes need {bits} bits, more than float64 holds exactly")
    codes = signed_digit_codes(n, bits)
    j = np.clip(np.searchsorted(codes, v, side="left"), 1, codes.size - 1)
    lo, hi = codes[j - 1], codes[j]
    return np.where(2.0 * v >= (lo + hi).astype(np.float64), hi, lo)


def _nearest_float(leaves: list, v):
    """Training mode: the nearest of the candidate tensors ``leaves`` to ``v``, ties to the larger."""
    L = ops.stack(leaves, axis=0)
    d = ops.abs(L - v[None])
    best = ops.min(d, axis=0)
    return ops.max(ops.where(d == best[None], L, -np.inf), axis=0)


@register
class NHotQuantizer(StoredWeightQuantizer):
    """Weights as sums of at most ``n`` signed powers of two on HGQ's learned grid (see module doc).

    Args:
        n: number of signed power-of-two terms per weight (>= 1).
        max_terms: the most terms the training-mode search computes (>= n; default n); raise it to
            train at a looser constraint first (:class:`hgq_fpga.nn.nhot_schedule.NHotSchedule`).
        **kwargs: :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` options (``init_bits``,
            ``granularity``, ``f_min``/``f_max``...); rounding is always ``RND`` (nearest, ties up).
    """

    def __init__(self, n: int = 2, max_terms: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("init_bits", 6)
        if kwargs.setdefault("round_mode", "RND") != "RND":
            raise ValueError("NHotQuantizer rounds to the nearest n-hot value (round_mode='RND')")
        super().__init__(**kwargs)
        if int(n) < 1:
            raise ValueError(f"n-hot needs n >= 1 terms, got {n}")
        self.n = int(n)
        self.max_terms = int(max_terms) if max_terms is not None else self.n
        if self.max_terms < self.n:
            raise ValueError(f"max_terms ({self.max_terms}) must be >= n ({self.n})")

    def build(self, shape) -> None:
        if self.tensor_shape is not None:
            return
        super().build(shape)
        self.n_active = self.add_weight(name="n_active", shape=(),
                                        initializer=keras.initializers.Constant(float(self.n)),
                                        trainable=False, dtype="float32")

    def set_terms(self, n: int) -> None:
        """Set the number of terms used in training (0: plain HGQ rounding); takes effect at once."""
        if not 0 <= int(n) <= self.max_terms:
            raise ValueError(f"quantizer {self.name!r}: terms must be in [0, max_terms={self.max_terms}], got {n}")
        self.n_active.assign(float(n))

    def round_scaled(self, v):
        """Nearest code with at most ``n_active`` signed digits (0: nearest integer)."""
        leaves = [ops.zeros_like(v)]
        out = ops.floor(v + 0.5)
        out = ops.where(self.n_active < 0.5, out, 0.0 * out)
        for depth in range(1, self.max_terms + 1):
            grown = []
            for q in leaves:
                r = v - q
                a = ops.abs(r)
                s = ops.where(r < 0, -1.0, 1.0)
                small = a < 1.0
                p = ops.power(2.0, ops.floor(ops.log2(ops.maximum(a, 1.0))))
                grown += [q + ops.where(small, 0.0, s * p), q + ops.where(small, s, 2.0 * s * p)]
            leaves = grown
            best = _nearest_float(leaves, v)
            out = ops.where(ops.abs(self.n_active - depth) < 0.5, best, out)
        return out

    def weight_codes(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        F = self.rounded_f()
        return nearest_nhot_codes(np.ldexp(w, F), self.n).astype(np.int64), F

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(n=self.n, max_terms=self.max_terms)
        return config


def nhot(n: int = 2, **kwargs: Any) -> NHotQuantizer:
    """An :class:`NHotQuantizer` for a layer's ``kernel_quantizer=`` argument."""
    kwargs.setdefault("name", "kernel_quantizer")
    return NHotQuantizer(n=n, **kwargs)

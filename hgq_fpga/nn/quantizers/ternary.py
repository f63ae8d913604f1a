"""Fine-grained ternary weights: per group of ``N`` weights, ``w ∈ {-α_g, 0, +α_g}``
(``docs/method.md`` §8; Mellempudi et al., 2017, "Ternary neural networks with fine-grained
quantization").

Groups run along the input axis: the kernel is viewed as ``(R, C_out)`` with ``R`` = all axes but
the last flattened in row-major order (for a convolution: taps major, input channels minor), and
rows ``[g*N, (g+1)*N)`` of one output column form group ``g`` (the last group may be shorter).
From the float weights of a group, as FGQ does:

* threshold ``Δ_g = t · mean |w|`` (``t = 0.7`` by default),
* scale ``α_g = mean of |w| over the weights with |w| > Δ_g``,
* ``α_g`` rounded to a fixed-point constant with ``alpha_bits`` significant bits (nearest, ties
  up): ``F_g = alpha_bits - (floor(log2 α_g) + 1)``, code ``a_g = round(α_g · 2**F_g)``,
* ``w = sign(w) · a_g · 2**-F_g`` where ``|w| > Δ_g``, else 0 (pruned).

Training mode is a straight-through estimator (gradient 1 to the float weights); the group
statistics are recomputed from the float weights at each step. Calibration computes them in exact
float64 numpy and stores the values (:class:`~hgq_fpga.nn.quantizers.stored.StoredWeightQuantizer`).

**Firmware.** A group is represented as ordinary integer weight codes ``±a_g`` with ``F_g``
fractional bits in the Dense/Conv op: the IR, the emulator and every backend handle it unchanged
and exactly. A synthesis tool may factor ``a_g · Σ ±x`` itself; the IR's adder count
(:mod:`hgq_fpga.ir.adders`) counts the weights as written, so ``α_g`` costs its signed digits
minus one per nonzero weight.

The learned ``f`` of the base quantizer is unused (not trainable).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

from hgq_fpga.nn.quantizers.stored import StoredWeightQuantizer, register


def _as_rows(shape: tuple[int, ...]) -> tuple[int, int]:
    cout = shape[-1] if shape else 1
    return int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1, int(cout)


def ternary_codes(w: np.ndarray, group_size: int, alpha_bits: int,
                  threshold: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Exact FGQ ternarization of ``w`` (see module doc): int64 ``(codes, F)`` of ``w``'s shape."""
    w = np.asarray(w, np.float64)
    R, C = _as_rows(w.shape)
    W = w.reshape(R, C)
    a = np.abs(W)
    starts = np.arange(0, R, group_size)
    count = np.diff(np.append(starts, R))[:, None].astype(np.float64)
    delta = threshold * np.add.reduceat(a, starts, axis=0) / count                   # (G, C)
    g = np.arange(R) // group_size
    keep = a > delta[g]
    n_keep = np.add.reduceat(keep.astype(np.float64), starts, axis=0)
    alpha = np.add.reduceat(np.where(keep, a, 0.0), starts, axis=0) / np.maximum(n_keep, 1.0)
    e = np.frexp(alpha)[1].astype(np.int64)                                          # floor(log2 α) + 1
    F = np.where(alpha > 0, alpha_bits - e, 0)
    code = np.floor(np.ldexp(alpha, F) + 0.5).astype(np.int64)
    m = np.where(keep & (alpha[g] > 0), np.where(W < 0, -1, 1) * code[g], 0)
    return m.reshape(w.shape), np.broadcast_to(F[g], (R, C)).reshape(w.shape).astype(np.int64)


@register
class TernaryQuantizer(StoredWeightQuantizer):
    """FGQ ternary weights, one fixed-point scale per group of ``group_size`` inputs (module doc).

    Args:
        group_size: ``N``, the number of weights along the input axis that share ``α_g``.
        alpha_bits: significant bits of each ``α_g`` (its fixed-point width).
        threshold: ``t`` in ``Δ_g = t · mean |w|``.
        **kwargs: :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` options (``name``...).
    """

    def __init__(self, group_size: int = 16, alpha_bits: int = 4, threshold: float = 0.7,
                 **kwargs: Any) -> None:
        kwargs.setdefault("round_mode", "RND")
        super().__init__(**kwargs)
        if int(group_size) < 1:
            raise ValueError(f"ternary group_size must be >= 1, got {group_size}")
        if not 1 <= int(alpha_bits) <= 24:
            raise ValueError(f"ternary alpha_bits must be in [1, 24], got {alpha_bits}")
        if not 0.0 <= float(threshold) < 1.0:
            raise ValueError(f"ternary threshold must be in [0, 1), got {threshold}")
        self.group_size = int(group_size)
        self.alpha_bits = int(alpha_bits)
        self.threshold = float(threshold)

    def build(self, shape) -> None:
        if self.tensor_shape is not None:
            return
        super().build(shape)
        self.f.trainable = False

    def init_from_values(self, w) -> None:
        """Nothing to initialise: the scales come from the weights at every step."""

    def fake_quantize(self, x, training: bool = False):
        """Straight-through ternarization in float32; returns ``(wq, F)`` with ``F = F_g`` per weight."""
        shape = tuple(x.shape)
        R, C = _as_rows(shape)
        N = self.group_size
        G = -(-R // N)
        W = ops.reshape(x, (R, C))
        pad = G * N - R
        a = ops.stop_gradient(ops.abs(W))
        valid = ops.concatenate([ops.ones((R, C)), ops.zeros((pad, C))], axis=0) if pad else ops.ones((R, C))
        ap = ops.concatenate([a, ops.zeros((pad, C))], axis=0) if pad else a
        ap = ops.reshape(ap, (G, N, C))
        valid = ops.reshape(valid, (G, N, C))
        delta = self.threshold * ops.sum(ap, axis=1) / ops.sum(valid, axis=1)         # (G, C)
        keep = ops.cast(ap > delta[:, None], "float32") * valid
        alpha = ops.sum(ap * keep, axis=1) / ops.maximum(ops.sum(keep, axis=1), 1.0)
        live = alpha > 0
        e = ops.floor(ops.log2(ops.where(live, alpha, 1.0))) + 1.0
        F = ops.where(live, self.alpha_bits - e, 0.0)
        scale = ops.power(2.0, F)
        aq = ops.floor(alpha * scale + 0.5) / scale
        sign = ops.where(ops.reshape(ops.concatenate([W, ops.zeros((pad, C))], 0) if pad else W,
                                     (G, N, C)) < 0, -1.0, 1.0)
        wt = ops.reshape(sign * keep * aq[:, None], (G * N, C))[:R]
        Fe = ops.reshape(ops.broadcast_to(F[:, None], (G, N, C)), (G * N, C))[:R]
        wq = x + ops.stop_gradient(ops.reshape(wt, shape) - x)
        return wq, ops.stop_gradient(ops.reshape(Fe, shape))

    def weight_codes(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return ternary_codes(w, self.group_size, self.alpha_bits, self.threshold)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(group_size=self.group_size, alpha_bits=self.alpha_bits, threshold=self.threshold)
        return config


def ternary(group_size: int = 16, alpha_bits: int = 4, **kwargs: Any) -> TernaryQuantizer:
    """A :class:`TernaryQuantizer` for a layer's ``kernel_quantizer=`` argument."""
    kwargs.setdefault("name", "kernel_quantizer")
    return TernaryQuantizer(group_size=group_size, alpha_bits=alpha_bits, **kwargs)

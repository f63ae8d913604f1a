"""Exact accumulator types and execution plans for Dense and Conv.

A linear op computes ``acc[p, o] = Σ_j x[idx[p, j]]·w[j, o] + b[o]`` over output positions ``p``
(one for a Dense on a vector, every window for a convolution).  Each product is exact at
``f_x + f_w`` fractional bits; the accumulator of output element ``(p, o)`` sits at the largest
of those over its *live* terms (nonzero weight, nonzero-width input), so every term is aligned
by an exact left shift.  Folding that shift into the weight gives an integer matrix ``W'[p]`` with
``acc = X·W'[p] + B'`` exactly, which is what the emulator multiplies.

The declared accumulator type is the tightest one holding ``[Σ min(W'x), Σ max(W'x)] + B'`` over
the input's type range, computed from the actual weights.  Because two's-complement sums are
exact modulo ``2^64`` whenever the final result fits, int64 intermediate wrap-around is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.ir.tensor import TensorType, max_abs, shift_left_exact, type_of_range

#: float64 products and sums of integers are exact while every partial sum stays below this.
FLOAT_EXACT = 2.0 ** 52
#: multiply-adds per matmul call.  Small calls stay in cache, and OpenBLAS runs them on one thread:
#: on a busy machine its threads on small matrices cost far more than they save.
GEMM_BLOCK = 1 << 17


@dataclass(eq=False)
class LinearPlan:
    """Everything derived from (input type, weights): the accumulator's exact type and the integer
    matrices the emulator multiplies."""

    idx: np.ndarray          # (P, J) flat input indices, -1 = zero padding
    facc: np.ndarray         # (P, O) accumulator fractional bits
    wp: np.ndarray           # (P, J, O) aligned weights (int64, or object if huge)
    bp: np.ndarray           # (P, O) aligned bias
    acc_type: TensorType     # (P, O)
    magnitude: np.ndarray    # (P, O) float64 bound on Σ|terms| + |bias|
    live: np.ndarray         # (P, J, O) bool: multiplications actually done
    product_width: int       # widest declared product x·w over live terms
    fan_in: np.ndarray       # (P, O) live terms (+1 if a bias is added)

    @property
    def float_exact(self) -> bool:
        """Whether float64 matmul gives the exact integer result."""
        return bool(self.magnitude.size == 0 or float(self.magnitude.max()) < FLOAT_EXACT)


def _gather(a: np.ndarray, idx: np.ndarray, pad) -> np.ndarray:
    flat = np.concatenate([a.ravel(), np.array([pad], dtype=a.dtype)])
    return flat[np.where(idx >= 0, idx, flat.size - 1)]


def plan_linear(x: TensorType, idx: np.ndarray, w_raw: np.ndarray, w_f: np.ndarray,
                b_raw: np.ndarray, b_f: np.ndarray) -> LinearPlan:
    """Derive the aligned integer weights and the exact accumulator type (see module doc)."""
    w_raw = np.asarray(w_raw, dtype=np.int64)
    w_f = np.asarray(w_f, dtype=np.int64)
    b_raw = np.asarray(b_raw, dtype=np.int64)
    b_f = np.asarray(b_f, dtype=np.int64)
    xf = _gather(x.f, idx, 0)[:, :, None]                       # (P, J, 1)
    xw = _gather(x.width, idx, 0)[:, :, None]
    xlive = xw > 0
    live = xlive & (w_raw != 0)[None]                           # (P, J, O)
    pf = np.where(live, xf + w_f[None], np.iinfo(np.int64).min)
    facc = pf.max(axis=1) if pf.shape[1] else np.full((idx.shape[0], w_raw.shape[1]),
                                                       np.iinfo(np.int64).min)
    facc = np.where(b_raw != 0, np.maximum(facc, b_f), facc)
    facc = np.where(facc == np.iinfo(np.int64).min, 0, facc)    # (P, O)
    shift = np.where(live, facc[:, None, :] - xf - w_f[None], 0)
    wp = shift_left_exact(np.where(live, w_raw[None], 0), shift)
    bp = shift_left_exact(np.where(b_raw != 0, b_raw, 0)[None], np.where(b_raw != 0, facc - b_f, 0))
    # ranges
    lo_x, hi_x = x.bounds()
    glo = _gather(lo_x, idx, 0)[:, :, None]
    ghi = _gather(hi_x, idx, 0)[:, :, None]
    xmax = np.array(max_abs(glo, ghi), dtype=np.float64)
    magnitude = (np.abs(np.asarray(wp, dtype=np.float64)) * xmax).sum(axis=1) \
        + np.abs(np.asarray(bp, dtype=np.float64))
    if float(magnitude.max(initial=0)) < 2.0 ** 60:
        wpi = np.asarray(wp, dtype=np.int64)
        a, b = wpi * glo.astype(np.int64), wpi * ghi.astype(np.int64)
        bpi = np.asarray(bp, dtype=np.int64)
        lo = (np.minimum(a, b).sum(axis=1) + bpi).astype(object)
        hi = (np.maximum(a, b).sum(axis=1) + bpi).astype(object)
    else:
        wpo = np.asarray(wp, dtype=object)
        a, b = wpo * glo, wpo * ghi
        lo = np.minimum(a, b).sum(axis=1) + np.asarray(bp, dtype=object)
        hi = np.maximum(a, b).sum(axis=1) + np.asarray(bp, dtype=object)
    acc_type = type_of_range(lo, hi, facc)
    wbits = np.vectorize(lambda v: int(v).bit_length(), otypes=[np.int64])(np.abs(w_raw)) \
        if w_raw.size else np.zeros(w_raw.shape, np.int64)
    pw = np.where(live, xw + wbits[None] + 1, 0)
    fan_in = live.sum(axis=1) + (b_raw != 0)[None]
    return LinearPlan(idx=idx, facc=facc, wp=wp, bp=bp, acc_type=acc_type, magnitude=magnitude,
                      live=live, product_width=int(pw.max(initial=0)), fan_in=fan_in)


def dense_index(in_shape: tuple[int, ...]) -> np.ndarray:
    """Index table of a Dense on the last axis: one position per leading index."""
    n_in = in_shape[-1]
    positions = int(np.prod(in_shape[:-1], dtype=np.int64))
    return (np.arange(positions, dtype=np.int64)[:, None] * n_in
            + np.arange(n_in, dtype=np.int64)[None, :])


class LinearRunner:
    """Executes a :class:`LinearPlan` on batches; the gather index and the matrices (float64 when
    float arithmetic is exact, else int64) are prepared once, outside the per-batch path."""

    def __init__(self, plan: LinearPlan, in_size: int, identity_gather: bool) -> None:
        self.positions, self.taps = plan.idx.shape
        # index in_size is an extra zero column standing for the padding
        self.gather = None if identity_gather else np.where(plan.idx >= 0, plan.idx, in_size)
        self.float_exact = plan.float_exact
        dtype = np.float64 if self.float_exact else np.int64
        self.w = np.asarray(plan.wp, dtype=dtype)
        self.b = np.asarray(plan.bp, dtype=dtype)[None]
        self.block_rows = max(1, GEMM_BLOCK // max(1, self.w.shape[-2] * self.w.shape[-1]))

    def __call__(self, x_raw: np.ndarray) -> np.ndarray:
        """Accumulators ``(N, P, O)`` int64 for raw input codes ``(N, *in_shape)``."""
        n = x_raw.shape[0]
        flat = x_raw.reshape(n, -1)
        if self.gather is None:
            xg = flat.reshape(n, self.positions, self.taps)
        else:
            padded = np.concatenate([flat, np.zeros((n, 1), dtype=np.int64)], axis=1)
            xg = padded[:, self.gather]                                   # (N, P, J)
        if self.float_exact:
            xg = xg.astype(np.float64)
        acc = np.empty((n, self.positions, self.w.shape[-1]), dtype=self.w.dtype)
        xt, at = xg.transpose(1, 0, 2), acc.transpose(1, 0, 2)       # (P, N, J), (P, N, O)
        for s in range(0, n, self.block_rows):
            np.matmul(xt[:, s:s + self.block_rows], self.w, out=at[:, s:s + self.block_rows])
        # with the bias the float sum stays below FLOAT_EXACT, so adding it before converting is exact
        acc = np.add(acc, self.b, out=acc)
        return acc.astype(np.int64) if self.float_exact else acc

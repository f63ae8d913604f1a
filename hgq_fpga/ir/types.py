"""Type inference of the firmware IR: every intermediate's exact type, derived from its inputs.

The builder uses these functions to declare each op's output type, and the emulator calls them
again on load and refuses a graph whose stored types disagree, so one module decides what every
sum, product, pooling window and linear accumulator needs (``docs/method.md`` §5).

Linear ops (Dense, Conv) compute ``acc[p, o] = Σ_j x[idx[p, j]]·w[j, o] + b[o]`` over output
positions ``p`` (one for a Dense on a vector, every window for a convolution). Each product is
exact at ``f_x + f_w`` fractional bits; the accumulator of output element ``(p, o)`` sits at the
largest of those over its *live* terms (nonzero weight, nonzero-width input), so every term is
aligned by an exact left shift. Folding that shift into the weight gives an integer matrix ``W'[p]``
with ``acc = X·W'[p] + B'`` exactly (:class:`AlignedLinear`). The declared accumulator type is the
tightest one holding ``[Σ min(W'x), Σ max(W'x)] + B'`` over the input's type range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from hgq_fpga.fixed import MAX_FLOAT_WIDTH, bit_length
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.einsum import constant_index
from hgq_fpga.ir.tensor import TensorType, max_abs, shift_left_exact, type_of_range
from hgq_fpga.ir.windows import window_index, with_channels


class PoolWindow(Protocol):
    """The window geometry of a pooling: a MaxPool / AvgPool op, or a pooling layer."""

    name: str
    pool: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str


def relu_type(t: TensorType) -> TensorType:
    """Exact type of ``max(x, 0)``."""
    lo, hi = t.bounds()
    return type_of_range(np.maximum(lo, 0), np.maximum(hi, 0), t.f)


def _window_align(window: PoolWindow, x: TensorType):
    """Per window element: index ``(P, K, C)``, common ``f`` per output and left shifts."""
    rank = len(window.pool)
    if len(x.shape) != rank + 1:
        raise ValueError(f"{type(window).__name__} {window.name!r}: input shape {x.shape} is not "
                         f"{rank}-d spatial + channels")
    spatial, idx = window_index(x.shape[:rank], tuple(window.pool), tuple(window.strides),
                                window.padding)
    c = x.shape[rank]
    full = with_channels(idx, c, per_channel=True)
    safe = np.where(full >= 0, full, 0)
    real = full >= 0
    xf = x.f.reshape(-1)[safe]
    xlive = x.live.reshape(-1)[safe] & real
    fmin = np.iinfo(np.int64).min
    fout = np.where(xlive, xf, fmin).max(axis=1)
    fout = np.where(fout == fmin, 0, fout)
    shift = np.where(xlive, fout[:, None, :] - xf, 0)
    lo, hi = x.bounds()
    glo = shift_left_exact(np.where(real, lo.reshape(-1)[safe], 0).astype(np.int64)
                           if x.width.max(initial=0) <= 62 else np.where(real, lo.reshape(-1)[safe], 0),
                           shift).astype(object)
    ghi = shift_left_exact(np.where(real, hi.reshape(-1)[safe], 0).astype(np.int64)
                           if x.width.max(initial=0) <= 62 else np.where(real, hi.reshape(-1)[safe], 0),
                           shift).astype(object)
    return tuple(spatial) + (c,), full, real, fout, shift, glo, ghi


def maxpool_plan(window: PoolWindow, x: TensorType):
    """``(out_shape, idx, fout, shift, out_type)`` of a max pooling."""
    out_shape, idx, real, fout, shift, glo, ghi = _window_align(window, x)
    neg = np.full(glo.shape, None, dtype=object)
    lo = np.where(real, glo, neg)
    hi = np.where(real, ghi, neg)
    lo = np.array([max(v for v in row if v is not None) for row in lo.transpose(0, 2, 1).reshape(-1, lo.shape[1])],
                  dtype=object).reshape(fout.shape)
    hi = np.array([max(v for v in row if v is not None) for row in hi.transpose(0, 2, 1).reshape(-1, hi.shape[1])],
                  dtype=object).reshape(fout.shape)
    out = type_of_range(lo, hi, fout).reshape(out_shape)
    return out_shape, idx, fout, shift, out


def avgpool_sum_plan(window: PoolWindow, x: TensorType):
    """``(out_shape, idx, shift, sum_type)`` of an average pooling's window sum."""
    out_shape, idx, real, fout, shift, glo, ghi = _window_align(window, x)
    lo = np.where(real, glo, 0).sum(axis=1)
    hi = np.where(real, ghi, 0).sum(axis=1)
    return out_shape, idx, shift, type_of_range(lo, hi, fout).reshape(out_shape)


def pool_counts(window: PoolWindow, x: TensorType) -> np.ndarray:
    """Number of real (non-padding) elements in each output window, shaped like the output."""
    rank = len(window.pool)
    spatial, idx = window_index(x.shape[:rank], tuple(window.pool), tuple(window.strides),
                                window.padding)
    counts = (idx >= 0).sum(axis=1).reshape(spatial)
    return np.broadcast_to(counts[..., None], tuple(spatial) + (x.shape[rank],)).copy()


def product_range_type(t: TensorType, c_raw: np.ndarray, c_f: np.ndarray) -> TensorType:
    """Exact type of ``x * c`` for per-element integer constants ``c_raw·2^-c_f``."""
    lo, hi = t.bounds()
    c = np.asarray(c_raw, dtype=np.int64).reshape(t.shape).astype(object)
    a, b = lo * c, hi * c
    return type_of_range(np.minimum(a, b), np.maximum(a, b), t.f + np.asarray(c_f, np.int64).reshape(t.shape))


def concat_type(types: Sequence[TensorType], axis: int) -> TensorType:
    """Type of the concatenation of ``types`` along ``axis`` (no batch axis)."""
    return TensorType(*(np.concatenate([getattr(t, a) for t in types], axis=axis) for a in "kif"))


#: float64 products and sums of integers are exact while every partial sum stays below this.
FLOAT_EXACT = 2.0 ** (MAX_FLOAT_WIDTH - 1)
@dataclass(eq=False)
class AlignedLinear:
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
    w_raw: np.ndarray        # (P or 1, J, O) the weight code of each multiplication
    widx: np.ndarray         # (P or 1, J, O) where that code sits in the op's flat kernel
    out_index: np.ndarray | None = None   # (P, O) flat output element; None: C order of (P, O)

    @property
    def float_exact(self) -> bool:
        """Whether float64 matmul gives the exact integer result."""
        return bool(self.magnitude.size == 0 or float(self.magnitude.max()) < FLOAT_EXACT)

    def out_type(self, shape: tuple[int, ...]) -> TensorType:
        """The accumulator type as the op's output tensor of ``shape``."""
        if self.out_index is None:
            return self.acc_type.reshape(shape)
        arrays = []
        for a in (self.acc_type.k, self.acc_type.i, self.acc_type.f):
            flat = np.zeros(int(np.prod(shape, dtype=np.int64)), np.int64)
            flat[self.out_index.reshape(-1)] = a.reshape(-1)
            arrays.append(flat.reshape(shape))
        return TensorType(*arrays)


def _gather(a: np.ndarray, idx: np.ndarray, pad) -> np.ndarray:
    flat = np.concatenate([a.ravel(), np.array([pad], dtype=a.dtype)])
    return flat[np.where(idx >= 0, idx, flat.size - 1)]


def align_linear(x: TensorType, idx: np.ndarray, w_raw: np.ndarray, w_f: np.ndarray,
                b_raw: np.ndarray, b_f: np.ndarray, widx: np.ndarray | None = None,
                out_index: np.ndarray | None = None) -> AlignedLinear:
    """Derive the aligned integer weights and the exact accumulator type (see module doc).

    ``w_raw``/``w_f`` are ``(J, O)`` (shared by every position) or ``(P, J, O)``; ``b_raw``/``b_f``
    ``(O,)`` or ``(P, O)``. ``widx`` says where each weight sits in the op's own kernel (default:
    the C order of ``w_raw``); ``out_index`` where each ``(p, o)`` lands in the output.
    """
    w_raw = np.asarray(w_raw, dtype=np.int64)
    if widx is None:
        widx = np.arange(w_raw.size, dtype=np.int64).reshape(w_raw.shape)
    w_raw = w_raw if w_raw.ndim == 3 else w_raw[None]                # (Pw, J, O)
    widx = widx if widx.ndim == 3 else widx[None]
    w_f = np.broadcast_to(np.asarray(w_f, dtype=np.int64), w_raw.shape)
    b_raw = np.asarray(b_raw, dtype=np.int64)
    b_raw = b_raw if b_raw.ndim == 2 else b_raw[None]                # (Pb, O)
    b_f = np.broadcast_to(np.asarray(b_f, dtype=np.int64), b_raw.shape)
    xf = _gather(x.f, idx, 0)[:, :, None]                       # (P, J, 1)
    xw = _gather(x.width, idx, 0)[:, :, None]
    xlive = xw > 0
    live = xlive & (w_raw != 0)                                 # (P, J, O)
    pf = np.where(live, xf + w_f, np.iinfo(np.int64).min)
    facc = pf.max(axis=1) if pf.shape[1] else np.full((idx.shape[0], w_raw.shape[2]),
                                                       np.iinfo(np.int64).min)
    facc = np.where(b_raw != 0, np.maximum(facc, b_f), facc)
    facc = np.where(facc == np.iinfo(np.int64).min, 0, facc)    # (P, O)
    shift = np.where(live, facc[:, None, :] - xf - w_f, 0)
    wp = shift_left_exact(np.where(live, w_raw, 0), shift)
    bp = shift_left_exact(np.broadcast_to(np.where(b_raw != 0, b_raw, 0), facc.shape),
                          np.where(b_raw != 0, facc - b_f, 0))
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
    wbits = bit_length(np.abs(w_raw))
    pw = np.where(live, xw + wbits + 1, 0)
    fan_in = live.sum(axis=1) + (b_raw != 0)
    return AlignedLinear(idx=idx, facc=facc, wp=wp, bp=bp, acc_type=acc_type, magnitude=magnitude,
                   live=live, product_width=int(pw.max(initial=0)), fan_in=fan_in,
                   w_raw=w_raw, widx=widx, out_index=out_index)


def dense_index(in_shape: tuple[int, ...]) -> np.ndarray:
    """Index table of a Dense on the last axis: one position per leading index."""
    n_in = in_shape[-1]
    positions = int(np.prod(in_shape[:-1], dtype=np.int64))
    return (np.arange(positions, dtype=np.int64)[:, None] * n_in
            + np.arange(n_in, dtype=np.int64)[None, :])


def linear_alignment(op, x: TensorType):
    """``(alignment, output shape, identity gather)`` of a Dense, Conv or EinsumDense op for input
    type ``x``. The output type is ``alignment.out_type(output shape)``."""
    if isinstance(op, O.Dense):
        idx = dense_index(x.shape)
        plan = align_linear(x, idx, op.w_raw, op.w_f, op.b_raw, op.b_f)
        return plan, tuple(x.shape[:-1]) + (op.w_raw.shape[1],), True
    if isinstance(op, O.EinsumDense):
        index = constant_index(op.equation, x.shape, op.w_raw.shape)
        w_raw = np.asarray(op.w_raw, np.int64).reshape(-1)[index.widx]
        w_f = np.asarray(op.w_f, np.int64).reshape(-1)[index.widx]
        b_raw = np.asarray(op.b_raw, np.int64).reshape(-1)[index.out_index]
        b_f = np.asarray(op.b_f, np.int64).reshape(-1)[index.out_index]
        plan = align_linear(x, index.idx, w_raw, w_f, b_raw, b_f, widx=index.widx,
                            out_index=index.out_index)
        return plan, index.out_shape, False
    rank = op.w_raw.ndim - 2
    spatial, idx = window_index(x.shape[:rank], op.w_raw.shape[:rank], op.strides, op.padding)
    cin, cout = op.w_raw.shape[-2:]
    full = with_channels(idx, cin, per_channel=False)
    plan = align_linear(x, full, op.w_raw.reshape(-1, cout), op.w_f.reshape(-1, cout),
                       op.b_raw, op.b_f)
    return plan, tuple(spatial) + (cout,), False


def pool_windows(window: PoolWindow, x: TensorType):
    """Output shape and ``(P, K, C)`` index table of a pooling window."""
    rank = len(window.pool)
    spatial, idx = window_index(x.shape[:rank], window.pool, window.strides, window.padding)
    c = x.shape[rank]
    return tuple(spatial) + (c,), with_channels(idx, c, per_channel=True)

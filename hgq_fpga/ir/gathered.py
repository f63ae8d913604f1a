"""Exact types of the ops that gather elements: products of two variables, sums and maxima over
axes, and broadcasting sums and differences (``docs/method.md`` §5).

Each output element ``e`` combines the terms ``t`` listed in an index table (``E, T``) from
:mod:`hgq_fpga.ir.einsum`. A term is exact at its own fractional bits (a product of two codes
has ``f_a + f_b``); the terms of ``e`` are aligned at the largest ``f`` among its *live* terms
(both operands of nonzero width) by exact left shifts, so the emulator computes
``Σ_t (code_a · code_b) << shift[e, t]``. The declared type is the tightest one holding the sum of
the terms' ranges. Like :mod:`hgq_fpga.ir.types`, the builder declares these types and the
emulator derives them again to check a loaded graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from hgq_fpga.ir.einsum import broadcast_shape, product_index, reduce_index
from hgq_fpga.ir.tensor import TensorType, shift_left_exact, type_of_range

_FMIN = np.iinfo(np.int64).min


def _flat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).reshape(-1)


def _align(f: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per output element the largest live ``f`` (0 if none) and each term's left shift."""
    fout = np.where(live, f, _FMIN).max(axis=1, initial=_FMIN)
    fout = np.where(fout == _FMIN, 0, fout)
    return fout, np.where(live, fout[:, None] - f, 0)


def _sum_range(lo: np.ndarray, hi: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``(Σ_t lo << shift, Σ_t hi << shift)`` per row, as object arrays of Python ints."""
    return (shift_left_exact(lo, shift).astype(object).sum(axis=1),
            shift_left_exact(hi, shift).astype(object).sum(axis=1))


def _bounds(t: TensorType) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = t.bounds()
    return _flat(lo), _flat(hi)


@dataclass(eq=False)
class ProductPlan:
    """An :class:`~hgq_fpga.ir.ops.Einsum` for given input types."""

    ia: np.ndarray           # (E, T) flat index into input a
    ib: np.ndarray           # (E, T) flat index into input b
    live: np.ndarray         # (E, T) both operands of nonzero width
    shift: np.ndarray        # (E, T) left shift of the product code to the output's f
    out: TensorType          # exact type of the sums
    product_width: int       # widest product of two live codes (w_a + w_b)
    term_bits: np.ndarray    # (E, T) bits(a) · bits(b) of each live product (EBOPs)


def product_plan(equation: str, a: TensorType, b: TensorType) -> ProductPlan:
    """Exact type of ``einsum(equation, a, b)`` and the alignment of its products."""
    index = product_index(equation, a.shape, b.shape)
    ia, ib = index.ia, index.ib
    wa, wb = _flat(a.width)[ia], _flat(b.width)[ib]
    live = (wa > 0) & (wb > 0)
    fout, shift = _align(_flat(a.f)[ia] + _flat(b.f)[ib], live)
    alo, ahi = _bounds(a)
    blo, bhi = _bounds(b)
    corners = [x[ia] * y[ib] for x in (alo, ahi) for y in (blo, bhi)]      # object: exact
    plo = np.where(live, np.minimum.reduce(corners), 0)
    phi = np.where(live, np.maximum.reduce(corners), 0)
    lo, hi = _sum_range(plo, phi, shift)
    out = type_of_range(lo, hi, fout).reshape(index.out_shape)
    return ProductPlan(ia, ib, live, shift, out, int(np.where(live, wa + wb, 0).max(initial=0)),
                       np.where(live, wa * wb, 0))


@dataclass(eq=False)
class ReducePlan:
    """A :class:`~hgq_fpga.ir.ops.Sum` or :class:`~hgq_fpga.ir.ops.Max` for a given input type."""

    idx: np.ndarray          # (E, T) flat input index
    shift: np.ndarray        # (E, T) left shift of each term to the output's f
    out: TensorType


def reduce_plan(function: str, x: TensorType, axes, keepdims: bool) -> ReducePlan:
    """Exact type of the sum (``function="sum"``) or maximum (``"max"``) of ``x`` over ``axes``."""
    idx, out_shape = reduce_index(x.shape, axes, keepdims)
    live = _flat(x.live)[idx]
    fout, shift = _align(_flat(x.f)[idx], live)
    xlo, xhi = _bounds(x)
    lo = np.where(live, xlo[idx], 0)
    hi = np.where(live, xhi[idx], 0)
    if function == "sum":
        lo, hi = _sum_range(lo, hi, shift)
    elif function == "max":
        lo = shift_left_exact(lo, shift).astype(object).max(axis=1)
        hi = shift_left_exact(hi, shift).astype(object).max(axis=1)
    else:
        raise ValueError(f"reduce function must be 'sum' or 'max', got {function!r}")
    return ReducePlan(idx, shift, type_of_range(lo, hi, fout).reshape(out_shape))


def broadcast_type(t: TensorType, shape: tuple[int, ...]) -> TensorType:
    """``t`` repeated along its axes of size 1 to ``shape``."""
    return TensorType(*(np.broadcast_to(a, shape).copy() for a in (t.k, t.i, t.f)))


def add_type(types: Sequence[TensorType], signs: Sequence[int] | None = None) -> TensorType:
    """Exact type of the element-wise ``Σ sign·x`` of broadcasting inputs (aligned at the largest
    live ``f`` of each element)."""
    shape = broadcast_shape([t.shape for t in types])
    types = [broadcast_type(t, shape) for t in types]
    signs = [1] * len(types) if signs is None else list(signs)
    fs = np.stack([np.where(t.live, t.f, _FMIN) for t in types])
    f = fs.max(axis=0)
    f = np.where(f == _FMIN, 0, f)
    lo = np.zeros(shape, dtype=object)
    hi = np.zeros(shape, dtype=object)
    for t, sign in zip(types, signs):
        tlo, thi = t.bounds()
        s = np.where(t.live, f - t.f, 0)
        tlo, thi = shift_left_exact(tlo, s).astype(object), shift_left_exact(thi, s).astype(object)
        lo, hi = (lo + tlo, hi + thi) if sign > 0 else (lo - thi, hi - tlo)
    return type_of_range(lo, hi, f)

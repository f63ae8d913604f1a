"""Vectorised int64 execution of each op kind.

``compile_op(op, in_types)`` turns one op into a function from the batch's raw input codes to
its raw output codes, after deriving (once) whatever index tables or aligned constants it needs
and refusing any declared width the int64 domain cannot hold.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hgq_fpga.ir import ops as O
from hgq_fpga.ir.emulator.casting import CastKernel
from hgq_fpga.ir.emulator.linear import LinearRunner
from hgq_fpga.ir.tensor import MAX_EMULATED_WIDTH, TensorType
from hgq_fpga.ir.gathered import add_type, product_plan, reduce_plan
from hgq_fpga.ir.types import (avgpool_sum_plan, concat_type, linear_alignment,
                               maxpool_plan, product_range_type, relu_type)

Kernel = Callable[[list[np.ndarray]], np.ndarray]


class WidthError(ValueError):
    """A declared width is beyond what the int64 emulator computes exactly."""


def _check_width(op: O.Op, what: str, width: int) -> None:
    if width > MAX_EMULATED_WIDTH:
        raise WidthError(f"op {op.name!r} ({type(op).__name__}): declared {what} width {width} bits "
                         f"exceeds the {MAX_EMULATED_WIDTH}-bit limit of the int64 emulator")


def _max_width(t: TensorType) -> int:
    return int(t.width.max(initial=0))


def _check_declared(op: O.Op, t: TensorType, expected: TensorType, what: str) -> None:
    if not t.same_as(expected):
        raise ValueError(f"op {op.name!r} ({type(op).__name__}): stored {what} type differs from the "
                         "type derived from its inputs; the graph is inconsistent")


# ----------------------------------------------------------------------------------------------

def _compile_linear(op, in_types):
    plan, out_shape, identity = linear_alignment(op, in_types[0])
    acc = plan.out_type(out_shape)
    _check_declared(op, op.out, acc, "accumulator")
    _check_width(op, "accumulator", _max_width(acc))
    _check_width(op, "product", plan.product_width)
    if np.asarray(plan.wp).dtype == object:
        raise WidthError(f"op {op.name!r}: aligned weights exceed int64")

    runner = LinearRunner(plan, in_types[0].k.size, identity)
    order = None if plan.out_index is None else np.argsort(plan.out_index.reshape(-1))

    def run(xs):
        res = runner(xs[0])
        res = res.reshape(res.shape[0], -1)
        if order is not None:
            res = res[:, order]
        return res.reshape((res.shape[0],) + out_shape)
    return run


def _compile_cast(op: O.Cast, in_types):
    t = op.out
    _check_width(op, "output", _max_width(t))
    _check_width(op, "input", _max_width(in_types[0]))
    kern = CastKernel(in_types[0].f, in_types[0].width, t, op.round, op.overflow)

    def run(xs, owned=False):
        return kern(xs[0], owned=owned)
    run.pre_cast = lambda xs: (xs[0], in_types[0].f)     # what the overflow report inspects
    return run


def _compile_add(op, in_types):
    signs = (1, -1) if op.kind == "subtract" else (1,) * len(in_types)
    expected = add_type(in_types, signs)
    _check_declared(op, op.out, expected, "output")
    _check_width(op, "sum", _max_width(op.out))
    shifts = [np.where(t.live, op.out.f - t.f, 0) for t in in_types]
    if any(np.any(s < 0) for s in shifts):
        raise ValueError(f"op {op.name!r}: internal alignment error")

    def run(xs):
        acc = np.broadcast_to(xs[0] << shifts[0], (len(xs[0]),) + op.out.shape).copy()
        for x, s, sign in zip(xs[1:], shifts[1:], signs[1:]):
            acc = acc + (x << s) if sign > 0 else acc - (x << s)
        return acc
    return run


def _compile_einsum(op, in_types):
    plan = product_plan(op.equation, *in_types)
    _check_declared(op, op.out, plan.out, "output")
    _check_width(op, "product", plan.product_width)
    _check_width(op, "sum", _max_width(plan.out))
    ia, ib, shift, shape = plan.ia, plan.ib, plan.shift, plan.out.shape

    def run(xs):
        # a width-0 element's code is 0, so dead products vanish; a live one is exact (<= 62 bits)
        n = xs[0].shape[0]
        prod = xs[0].reshape(n, -1)[:, ia] * xs[1].reshape(n, -1)[:, ib]
        return (prod << shift).sum(axis=2).reshape((n,) + shape)
    return run


def _compile_reduce(op, in_types):
    plan = reduce_plan(op.kind, in_types[0], op.axes, op.keepdims)
    _check_declared(op, op.out, plan.out, "output")
    _check_width(op, "output", _max_width(plan.out))
    idx, shift, shape = plan.idx, plan.shift, plan.out.shape
    combine = np.sum if op.kind == "sum" else np.max

    def run(xs):
        n = xs[0].shape[0]
        return combine(xs[0].reshape(n, -1)[:, idx] << shift, axis=2).reshape((n,) + shape)
    return run


def _compile_transpose(op, in_types):
    perm = tuple(op.perm)
    t = in_types[0]
    expected = TensorType(*(np.transpose(a, perm) for a in (t.k, t.i, t.f)))
    _check_declared(op, op.out, expected, "output")
    axes = (0,) + tuple(p + 1 for p in perm)
    return lambda xs: np.transpose(xs[0], axes).copy()     # a fresh array: a cast may overwrite it


def _compile_concat(op: O.Concatenate, in_types):
    axis = op.axis % len(op.out.shape)
    expected = concat_type(in_types, axis)
    _check_declared(op, op.out, expected, "output")
    return lambda xs: np.concatenate(xs, axis=axis + 1)


def _compile_reshape(op: O.Reshape, in_types):
    shape = op.out.shape
    _check_declared(op, op.out, in_types[0].reshape(shape), "output")
    return lambda xs: xs[0].reshape((xs[0].shape[0],) + shape)


def _compile_relu(op: O.ReLU, in_types):
    _check_declared(op, op.out, relu_type(in_types[0]), "output")
    return lambda xs: np.maximum(xs[0], 0)


def _gathered(x_raw, idx, fill):
    n = x_raw.shape[0]
    flat = x_raw.reshape(n, -1)
    padded = np.concatenate([flat, np.full((n, 1), fill, dtype=np.int64)], axis=1)
    return padded[:, np.where(idx >= 0, idx, flat.shape[1])]     # (N, P, K, C)


def _compile_maxpool(op: O.MaxPool, in_types):
    out_shape, idx, fout, shift, out_t = maxpool_plan(op, in_types[0])
    _check_declared(op, op.out, out_t, "output")
    _check_width(op, "output", _max_width(out_t))
    low = np.iinfo(np.int64).min

    def run(xs):
        g = _gathered(xs[0], idx, 0) << shift[None]
        g = np.where((idx >= 0)[None], g, low)
        return g.max(axis=2).reshape((g.shape[0],) + out_shape)
    return run


def _compile_avgpool(op: O.AvgPool, in_types):
    out_shape, idx, shift, sum_t = avgpool_sum_plan(op, in_types[0])
    _check_declared(op, op.sum_type, sum_t, "sum")
    prod_t = product_range_type(sum_t, op.c_raw, op.c_f)
    _check_declared(op, op.prod_type, prod_t, "product")
    for what, t in (("sum", sum_t), ("product", prod_t), ("output", op.out)):
        _check_width(op, what, _max_width(t))
    c = np.asarray(op.c_raw, dtype=np.int64).reshape(-1)
    kern = CastKernel(prod_t.f, prod_t.width, op.out, op.round, op.overflow)

    def product(xs):
        g = _gathered(xs[0], idx, 0) << shift[None]
        s = g.sum(axis=2).reshape(g.shape[0], -1)
        return (s * c[None]).reshape((g.shape[0],) + out_shape)

    def run(xs):
        return kern(product(xs), owned=True)
    run.pre_cast = lambda xs: (product(xs), prod_t.f)
    return run


def _compile_table(op: O.Table, in_types):
    _check_width(op, "output", _max_width(op.out))
    tid = np.asarray(op.table_id, dtype=np.int64).reshape(-1)
    x = in_types[0]
    lo_t = np.asarray(op.lo, dtype=np.int64)
    size = np.asarray(op.size, dtype=np.int64)
    start = np.asarray(op.start, dtype=np.int64)
    values = np.asarray(op.values, dtype=np.int64)
    shape = op.out.shape
    lo_x, hi_x = x.bounds()
    if (tid.size != x.width.size or np.any(tid < 0) or np.any(tid >= lo_t.size)
            or np.any(start + size > values.size) or np.any(start < 0)):
        raise ValueError(f"op {op.name!r} (Table): table arrays are inconsistent")
    if np.any(lo_t[tid] > lo_x.ravel().astype(np.int64)) or \
            np.any(lo_t[tid] + size[tid] - 1 < hi_x.ravel().astype(np.int64)):
        raise ValueError(f"op {op.name!r} (Table): a table does not cover every code of its "
                         "input element's type")
    out_lo, out_hi = op.out.bounds()
    per_elem_min = np.array([values[start[t]:start[t] + size[t]].min() for t in range(lo_t.size)])
    per_elem_max = np.array([values[start[t]:start[t] + size[t]].max() for t in range(lo_t.size)])
    if np.any(per_elem_min[tid] < out_lo.ravel().astype(np.int64)) or \
            np.any(per_elem_max[tid] > out_hi.ravel().astype(np.int64)):
        raise ValueError(f"op {op.name!r} (Table): table values exceed the declared output type")
    base = (start - lo_t)[tid]

    def run(xs):
        flat = xs[0].reshape(xs[0].shape[0], -1)
        return values[flat + base[None]].reshape((flat.shape[0],) + shape)
    return run


_COMPILERS = {
    "cast": _compile_cast, "dense": _compile_linear, "conv": _compile_linear, "add": _compile_add,
    "concatenate": _compile_concat, "reshape": _compile_reshape, "relu": _compile_relu,
    "maxpool": _compile_maxpool, "avgpool": _compile_avgpool, "table": _compile_table,
    "einsum_dense": _compile_linear, "einsum": _compile_einsum, "subtract": _compile_add,
    "sum": _compile_reduce, "max": _compile_reduce, "transpose": _compile_transpose,
}


def compile_op(op: O.Op, in_types: list[TensorType]) -> Kernel:
    """The vectorised int64 kernel of ``op`` (raises :class:`WidthError` beyond 62 bits)."""
    return _COMPILERS[op.kind](op, in_types)

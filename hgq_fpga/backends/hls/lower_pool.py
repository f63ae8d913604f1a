"""Lower MaxPool and AvgPool to per-output window lists.

Output element ``n = p·C + c`` (position ``p``, channel ``c``) reads the input elements
``src[ptr[n] .. ptr[n+1])`` of its window; padding positions are left out, as Keras does.
MaxPool keeps width-0 elements in the window (their value 0 takes part in the max, as in the
emulator); AvgPool drops them (adding 0 changes nothing).  AvgPool then multiplies the exact
window sum by its typed constant and casts the exact product to the output's element types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.backends.hls.fxtypes import code_spec, container
from hgq_fpga.fixed import FixedType
from hgq_fpga.backends.hls.opplan import CastPlan, OpPlan, TensorRef, cast_plan
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.types import pool_windows


@dataclass(eq=False)
class PoolPlan(OpPlan):
    ptr: IntTable
    src: IntTable


@dataclass(eq=False)
class AvgPoolPlan(PoolPlan):
    sum_spec: FixedType
    c_spec: FixedType
    c_code: IntTable
    prod_spec: FixedType
    cast: CastPlan


def _windows(op, x: TensorRef, keep_dead: bool) -> tuple[IntTable, IntTable]:
    _, idx = pool_windows(op, x.type)                            # (P, K, C), -1 = padding
    t = np.asarray(idx).transpose(0, 2, 1)                       # (P, C, K)
    keep = t >= 0
    if not keep_dead:
        keep &= x.type.live.reshape(-1)[np.where(keep, t, 0)]
    counts = keep.sum(axis=2).reshape(-1)
    if keep_dead and np.any(counts == 0):
        raise ValueError(f"op {op.name!r}: a pooling window lies entirely in the padding")
    return IntTable.of(np.concatenate([[0], np.cumsum(counts)])), IntTable.of(t[keep])


def _summary(op, x: TensorRef, out: TensorRef) -> str:
    return (f"{type(op).__name__} {op.name!r}: {x.shape} -> {out.shape}, pool {tuple(op.pool)}, "
            f"strides {tuple(op.strides)}, padding {op.padding!r}")


def lower_maxpool(op: O.MaxPool, out: TensorRef, x: TensorRef) -> PoolPlan:
    ptr, src = _windows(op, x, keep_dead=True)
    return PoolPlan(kind="maxpool", ir_kind=op.kind, out=out, inputs=[x],
                    summary=_summary(op, x, out), ptr=ptr, src=src)


def lower_avgpool(op: O.AvgPool, out: TensorRef, x: TensorRef) -> AvgPoolPlan:
    ptr, src = _windows(op, x, keep_dead=False)
    c_spec, c_code = code_spec(np.asarray(op.c_raw, np.int64), np.asarray(op.c_f, np.int64),
                               f"the constants of op {op.name!r}")
    return AvgPoolPlan(kind="avgpool", ir_kind=op.kind, out=out, inputs=[x],
                       summary=_summary(op, x, out), ptr=ptr, src=src,
                       sum_spec=container(op.sum_type), c_spec=c_spec, c_code=IntTable.of(c_code),
                       prod_spec=container(op.prod_type),
                       cast=cast_plan(op.out, op.round, op.overflow))

"""Lower Sum and Max over axes, and Transpose, to per-output element lists.

Output element ``n`` reads ``in0[src[ptr[n] .. ptr[n+1])]``, the elements of its slice
(:func:`hgq_fpga.ir.einsum.reduce_index`). A sum adds them in the output's container, which holds
every partial sum exactly (each term's range contains 0); width-0 elements (the constant 0) are
left out. A maximum keeps them (their value 0 takes part, as in the emulator) and reuses the max
pooling template. A transpose is a copy with permuted indices.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.backends.hls.lower_elementwise import CopyPart, CopyPlan
from hgq_fpga.backends.hls.lower_pool import PoolPlan
from hgq_fpga.backends.hls.opplan import TensorRef, flat_positions
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.gathered import reduce_plan


def lower_reduce(op: O.Sum | O.Max, out: TensorRef, x: TensorRef) -> PoolPlan:
    plan = reduce_plan(op.kind, x.type, op.axes, op.keepdims)
    if not op.out.same_as(plan.out):
        raise ValueError(f"op {op.name!r}: stored output type differs from the one derived from its "
                         "input; the graph is inconsistent")
    keep = np.ones(plan.idx.shape, bool) if op.kind == "max" else x.type.live.reshape(-1)[plan.idx]
    ptr = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    what = "Sum" if op.kind == "sum" else "Max"
    return PoolPlan(kind="sum" if op.kind == "sum" else "maxpool", ir_kind=op.kind, out=out, inputs=[x],
                    summary=f"{what} {op.name!r} over axes {tuple(op.axes)}: {x.shape} -> {out.shape}",
                    ptr=IntTable.of(ptr), src=IntTable.of(plan.idx[keep]))


def lower_transpose(op: O.Transpose, out: TensorRef, x: TensorRef) -> CopyPlan:
    src = np.transpose(flat_positions(x.shape), op.perm).reshape(-1)
    return CopyPlan(kind="copy", ir_kind=op.kind, out=out, inputs=[x],
                    parts=[CopyPart(0, IntTable.of(np.arange(out.size)), IntTable.of(src))],
                    summary=f"Transpose {op.name!r} {tuple(op.perm)}: {x.shape} -> {out.shape}")

"""Lower a Table op: lookups indexed by the raw code of each input element.

Elements are grouped by (table, input element type, output element type), so inside a group the
input is read back in its exact element type, its raw bits give the integer code, and
``values[offset + code]`` is a raw code of the output element type (``offset = start - lo``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.fixed import FixedType
from hgq_fpga.backends.hls.opplan import OpPlan, TensorRef
from hgq_fpga.ir import ops as O


@dataclass(eq=False)
class TableGroup:
    table: int
    x: FixedType            # input element type (width 0: the input is the constant 0)
    y: FixedType            # output element type (width 0: the output is the constant 0)
    offset: int             # start - lo of the table
    idx: IntTable


@dataclass(eq=False)
class TablePlan(OpPlan):
    values: IntTable
    groups: list[TableGroup]


def lower_table(op: O.Table, out: TensorRef, x: TensorRef) -> TablePlan:
    xt, yt = x.type, op.out
    cols = [np.asarray(op.table_id, np.int64).reshape(-1)] + \
        [a.reshape(-1) for a in (xt.k, xt.i, xt.f, yt.k, yt.i, yt.f)]
    keys = np.stack(cols, axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    start = np.asarray(op.start, np.int64)
    lo = np.asarray(op.lo, np.int64)
    groups = []
    for n, (t, kx, ix, fx, ky, iy, fy) in enumerate(uniq.tolist()):
        groups.append(TableGroup(table=t, x=FixedType(kx, ix, fx), y=FixedType(ky, iy, fy),
                                 offset=int(start[t] - lo[t]),
                                 idx=IntTable.of(np.nonzero(inverse == n)[0])))
    summary = (f"Table {op.name!r} ({op.function or 'unary function'}): {len(lo)} table(s), "
               f"{int(np.asarray(op.values).size)} entries")
    return TablePlan(kind="table", ir_kind=op.kind, out=out, inputs=[x], summary=summary,
                     values=IntTable.of(op.values), groups=groups)

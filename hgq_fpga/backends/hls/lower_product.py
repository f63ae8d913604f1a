"""Lower an Einsum (products of two variable tensors) to per-output term lists.

Output element ``n`` sums ``in0[ia[q]] * in1[ib[q]]`` over ``q`` in ``ptr[n] .. ptr[n+1]``: the
live products of the IR's plan (:func:`hgq_fpga.ir.gathered.product_plan`; a product with a
width-0 operand is the constant 0 and is not listed). Each ``ap_fixed`` product is exact and is
held in ``prod_fx``, the union of the products' exact types; the accumulator is the output's
container, which holds every partial sum (each product's range contains 0). The multipliers are
bound to DSPs or to LUTs (``#pragma HLS BIND_OP``) as the project's ``multipliers`` option says.

For the C simulation only, the same sums may run on 64-bit integer codes
(:func:`hgq_fpga.backends.hls.lower_linear.integer_macs` proves that no partial sum reaches
``2^62``), as the linear ops do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.backends.hls.fxtypes import union_spec
from hgq_fpga.fixed import FixedType
from hgq_fpga.backends.hls.lower_linear import IntegerMacs, integer_macs
from hgq_fpga.backends.hls.opplan import OpPlan, TensorRef
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.gathered import product_plan
from hgq_fpga.ir.tensor import type_of_range


@dataclass(eq=False)
class ProductPlan(OpPlan):
    ptr: IntTable
    ia: IntTable
    ib: IntTable
    product: FixedType
    integer_macs: IntegerMacs | None


def _product_spec(plan, a: TensorRef, b: TensorRef) -> FixedType:
    """The union of the exact types of the live products (their ranges at ``f_a + f_b``)."""
    alo, ahi = (np.asarray(v, dtype=object).reshape(-1) for v in a.type.bounds())
    blo, bhi = (np.asarray(v, dtype=object).reshape(-1) for v in b.type.bounds())
    ia, ib = plan.ia[plan.live], plan.ib[plan.live]
    corners = [x[ia] * y[ib] for x in (alo, ahi) for y in (blo, bhi)]
    f = a.type.f.reshape(-1)[ia] + b.type.f.reshape(-1)[ib]
    t = type_of_range(np.minimum.reduce(corners), np.maximum.reduce(corners), f)
    return union_spec(t.k, t.i, t.f, t.live)


def lower_einsum(op: O.Einsum, out: TensorRef, a: TensorRef, b: TensorRef) -> ProductPlan:
    plan = product_plan(op.equation, a.type, b.type)
    if not op.out.same_as(plan.out):
        raise ValueError(f"op {op.name!r}: stored output type differs from the one derived from its "
                         "inputs; the graph is inconsistent")
    live = plan.live
    ptr = np.concatenate([[0], np.cumsum(live.sum(axis=1))])
    rows = int(live.sum(axis=1).max(initial=0))
    macs = integer_macs(a.spec, b.spec, None, out.spec, rows, 1 << max(b.spec.i + b.spec.f, 0), 0) \
        if live.any() else None
    summary = (f"Einsum {op.name!r} {op.equation!r}: {a.shape} x {b.shape} -> {out.shape}; "
               f"{int(live.sum())} products of two variables")
    return ProductPlan(kind="product", ir_kind=op.kind, out=out, inputs=[a, b], summary=summary,
                       ptr=IntTable.of(ptr), ia=IntTable.of(plan.ia[live]), ib=IntTable.of(plan.ib[live]),
                       product=_product_spec(plan, a, b) if live.any() else FixedType(0, 1, 0),
                       integer_macs=macs)

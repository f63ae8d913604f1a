"""Lower the element-wise ops: Cast, ReLU, Add, Subtract, Reshape and Concatenate.

Only Cast changes values (with its rounding and overflow, through per-element-type groups); the
others are exact, so their results land in the output container without any rounding. An input
of Add or Subtract with an axis of size 1 is read through an index table (broadcasting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.backends.hls.opplan import CastPlan, OpPlan, TensorRef, cast_plan, flat_positions
from hgq_fpga.ir import ops as O


@dataclass(eq=False)
class CastOpPlan(OpPlan):
    cast: CastPlan


@dataclass(eq=False)
class CopyPart:
    """``out[dst[e]] = in<input>[src[e]]`` for every ``e``."""

    input: int
    dst: IntTable
    src: IntTable


@dataclass(eq=False)
class CopyPlan(OpPlan):
    parts: list[CopyPart]


def lower_cast(op: O.Cast, out: TensorRef, x: TensorRef) -> CastOpPlan:
    plan = cast_plan(op.out, op.round, op.overflow)
    summary = (f"Cast {op.name!r} ({op.round}, {op.overflow}): {plan.n_types} element type(s), "
               f"{plan.dead.size} constant-0 element(s)")
    return CastOpPlan(kind="cast", ir_kind=op.kind, out=out, inputs=[x], summary=summary, cast=plan)


def lower_relu(op: O.ReLU, out: TensorRef, x: TensorRef) -> OpPlan:
    return OpPlan(kind="relu", ir_kind=op.kind, out=out, inputs=[x], summary=f"ReLU {op.name!r}")


@dataclass(eq=False)
class AddTerm:
    """``sign · in<input>[src[e]]`` for every output element ``e``."""

    input: int
    sign: str
    src: IntTable


@dataclass(eq=False)
class AddPlan(OpPlan):
    terms: list[AddTerm]


def lower_add(op: O.Add | O.Subtract, out: TensorRef, *xs: TensorRef) -> AddPlan:
    """Each input read at its broadcast position of every output element; Subtract negates the second."""
    signs = ["+", "-"] if op.kind == "subtract" else ["+"] * len(xs)
    terms = []
    for n, (x, sign) in enumerate(zip(xs, signs)):
        src = np.broadcast_to(flat_positions(x.shape), out.shape).reshape(-1)
        terms.append(AddTerm(n, sign, IntTable.of(src)))
    what = "Subtract" if op.kind == "subtract" else "Add"
    return AddPlan(kind="add", ir_kind=op.kind, out=out, inputs=list(xs), terms=terms,
                   summary=f"{what} {op.name!r} of {len(xs)} tensors {[x.shape for x in xs]} (exact)")


def lower_reshape(op: O.Reshape, out: TensorRef, x: TensorRef) -> CopyPlan:
    n = IntTable.of(np.arange(out.size))
    return CopyPlan(kind="copy", ir_kind=op.kind, out=out, inputs=[x], parts=[CopyPart(0, n, n)],
                    summary=f"Reshape {op.name!r}: {x.shape} -> {out.shape} (C order)")


def lower_concatenate(op: O.Concatenate, out: TensorRef, *xs: TensorRef) -> CopyPlan:
    """Each input's elements go to their C-order places in the output."""
    axis = op.axis % len(out.shape)
    tags = np.concatenate([np.full(x.shape, n, np.int64) for n, x in enumerate(xs)], axis=axis)
    pos = np.concatenate([flat_positions(x.shape) for x in xs], axis=axis)
    tags, pos = tags.reshape(-1), pos.reshape(-1)
    parts = []
    for n in range(len(xs)):
        dst = np.nonzero(tags == n)[0]
        parts.append(CopyPart(n, IntTable.of(dst), IntTable.of(pos[dst])))
    return CopyPlan(kind="copy", ir_kind=op.kind, out=out, inputs=list(xs), parts=parts,
                    summary=f"Concatenate {op.name!r} on axis {op.axis}: "
                            f"{[x.shape for x in xs]} -> {out.shape}")

"""The data an op template renders: tensor references, cast groups and the op-plan base class.

Lowering (``lower_*.py``) turns each IR op into an :class:`OpPlan` holding only numbers and
names; the jinja2 templates under ``templates/hls/ops/`` turn it into C++.  No C++ text is built
here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hgq_fpga.backends.common.ctables import IntTable
from hgq_fpga.backends.hls.fxtypes import container, group_by_type
from hgq_fpga.fixed import FixedType
from hgq_fpga.ir.tensor import TensorType


@dataclass(eq=False)
class TensorRef:
    """One IR tensor as C++ sees it: array ``cid`` of container typedef ``ctype``."""

    name: str
    cid: str
    type: TensorType
    spec: FixedType = field(init=False)

    def __post_init__(self) -> None:
        self.spec = container(self.type)

    @property
    def ctype(self) -> str:
        return self.cid + "_t"

    @property
    def fn(self) -> str:
        """The function that computes this tensor (the quantizer, for a model input)."""
        return self.cid + "_op"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def size(self) -> int:
        return int(self.type.k.size)

    @property
    def summary(self) -> str:
        """Element statistics for the typedef's comment."""
        t, live = self.type, self.type.live
        if not live.any():
            return f"shape {self.shape}: every element is the constant 0"

        def span(a):
            lo, hi = int(a[live].min()), int(a[live].max())
            return f"{lo}" if lo == hi else f"{lo}..{hi}"
        return (f"shape {self.shape}, {int(live.sum())}/{self.size} live; "
                f"k {span(t.k)}, i {span(t.i)}, f {span(t.f)}, width {span(t.width)}")


@dataclass(eq=False)
class CastGroup:
    """Elements ``idx`` (flat) that share the element type ``spec``."""

    spec: FixedType
    idx: IntTable


@dataclass(eq=False)
class CastPlan:
    """Cast every element of a tensor to its own type: one group per distinct type, plus the
    width-0 elements (``dead``), which are the constant 0."""

    groups: list[CastGroup]
    dead: IntTable

    @property
    def n_types(self) -> int:
        return len(self.groups)


def cast_plan(t: TensorType, round: str, overflow: str) -> CastPlan:
    """Group the elements of output type ``t`` for a cast with ``round``/``overflow``."""
    groups, dead = group_by_type(t, round, overflow)
    return CastPlan([CastGroup(spec, IntTable.of(idx)) for spec, idx in groups], IntTable.of(dead))


@dataclass(eq=False)
class OpPlan:
    """Base of every lowered op: ``kind`` picks ``templates/hls/ops/<kind>.j2``."""

    kind: str
    ir_kind: str
    out: TensorRef
    inputs: list[TensorRef]
    summary: str


def flat_positions(shape: tuple[int, ...]) -> np.ndarray:
    """``arange`` of a tensor's flat element indices, shaped like the tensor."""
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)

"""The whole-model plan: names, container types, input quantizers and one lowered plan per op.

:func:`build_plan` is the only place that walks the :class:`~hgq_fpga.ir.FirmwareModel`; the
templates render what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.backends.common.multipliers import check_multipliers
from hgq_fpga.backends.hls.lower_elementwise import (lower_add, lower_cast, lower_concatenate,
                                                     lower_relu, lower_reshape)
from hgq_fpga.backends.hls.lower_linear import lower_linear
from hgq_fpga.backends.hls.lower_pool import lower_avgpool, lower_maxpool
from hgq_fpga.backends.hls.lower_product import lower_einsum
from hgq_fpga.backends.hls.lower_reduce import lower_reduce, lower_transpose
from hgq_fpga.backends.hls.lower_table import lower_table
from hgq_fpga.backends.hls.names import NameTable
from hgq_fpga.backends.hls.opplan import CastPlan, OpPlan, TensorRef, cast_plan

#: Widest output element that ``to_double`` returns exactly (a double's significand).
MAX_OUTPUT_WIDTH = 53

_LOWER = {
    "cast": lower_cast, "dense": lower_linear, "conv": lower_linear, "add": lower_add,
    "concatenate": lower_concatenate, "reshape": lower_reshape, "relu": lower_relu,
    "maxpool": lower_maxpool, "avgpool": lower_avgpool, "table": lower_table,
    "einsum_dense": lower_linear, "einsum": lower_einsum, "subtract": lower_add, "sum": lower_reduce,
    "max": lower_reduce, "transpose": lower_transpose,
}

@dataclass(eq=False)
class InputPlan:
    """A model input: its tensor, and the per-element quantization of port values (or doubles)."""

    tensor: TensorRef
    round: str
    overflow: str
    cast: CastPlan


@dataclass(eq=False)
class FirmwarePlan:
    top: str
    inputs: list[InputPlan]
    outputs: list[TensorRef]
    internal: list[TensorRef]          # op outputs, in op order
    ops: list[OpPlan]
    multipliers: str = "auto"          # binding of the products of two variables (backends.common.multipliers)

    @property
    def input_tensors(self) -> list[TensorRef]:
        return [p.tensor for p in self.inputs]

    @property
    def n_in(self) -> list[int]:
        return [p.tensor.size for p in self.inputs]

    @property
    def n_out(self) -> list[int]:
        return [t.size for t in self.outputs]


def build_plan(fw, top: str, multipliers: str = "auto") -> FirmwarePlan:
    """Lower every op of ``fw``; refuse what the C simulation could not return exactly.

    ``multipliers``: how the products of two variables (``Einsum`` ops) are built: ``"auto"``
    (the tool chooses), ``"dsp"`` or ``"lut"`` (a ``#pragma HLS BIND_OP`` on each).
    """
    check_multipliers(multipliers)
    names = NameTable(top)
    refs: dict[str, TensorRef] = {}

    def ref(name: str, t) -> TensorRef:
        refs[name] = TensorRef(name, names.add(name), t)
        return refs[name]

    inputs = [InputPlan(ref(s.name, s.type), s.round, s.overflow,
                        cast_plan(s.type, s.round, s.overflow)) for s in fw.inputs]
    internal, ops = [], []
    for op in fw.ops:
        if op.kind not in _LOWER:
            raise NotImplementedError(f"the HLS backend has no lowering for op kind {op.kind!r} "
                                      f"(op {op.name!r})")
        out = ref(op.name, op.out)
        internal.append(out)
        ops.append(_LOWER[op.kind](op, out, *(refs[x] for x in op.inputs)))
    if len(set(fw.outputs)) != len(fw.outputs):
        raise ValueError(f"model outputs {fw.outputs} name a tensor twice; list each output once")
    outputs = [refs[o] for o in fw.outputs]
    for t in outputs:
        w = int(np.max(t.type.width, initial=0))
        if w > MAX_OUTPUT_WIDTH:
            raise ValueError(f"output {t.name!r} has elements {w} bits wide; the C simulation "
                             f"returns doubles, exact only up to {MAX_OUTPUT_WIDTH} bits. Cast the "
                             "output to a narrower type first")
    return FirmwarePlan(top=names.top, inputs=inputs, outputs=outputs, internal=internal, ops=ops,
                        multipliers=multipliers)

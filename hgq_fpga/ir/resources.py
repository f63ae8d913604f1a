"""Resource estimates from the IR: EBOPs, nonzero weights, accumulator width, latency.

EBOPs follow HGQ (``docs/method.md`` §3): for every multiplication of an activation by a
weight, add (input width × weight bits); a product of two activations (an ``einsum``) adds
(width of one × width of the other).  Convolutions and constant contractions count every
output position (fully unrolled).  Average pooling has no weights: like the HGQ layer (and ``hgq_fpga.ebops``, the number
training minimises) it counts 0 EBOPs, and its multiplication by the constant ``1/count`` shows as
its product width in ``accumulator_width``.  The adder count
(``adders``) is that of :mod:`hgq_fpga.ir.adders`. Latency is in adder
levels: each computing op costs ``ceil(log2 fan_in) + 1`` (an einsum one more, for its
multipliers); reshape, concatenate and transpose are wiring (0);
the model's latency is the longest input-to-output path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hgq_fpga.fixed import bit_length
from hgq_fpga.ir.adders import linear_adders
from hgq_fpga.ir.gathered import product_plan
from hgq_fpga.ir.types import linear_alignment, pool_windows


def weight_bits(w_raw: np.ndarray) -> np.ndarray:
    """``bit_length(|code|)`` per weight: ``i + f`` of HGQ's weight type, 0 for a pruned weight."""
    return bit_length(np.abs(np.asarray(w_raw, dtype=np.int64)))


@dataclass
class OpResources:
    """Resources of one op: EBOPs, nonzero weights, widest accumulator (bits), adder levels, and
    the adder count of its constant multiplications and sums (:mod:`hgq_fpga.ir.adders`)."""

    name: str
    kind: str
    ebops: int = 0
    nonzero_weights: int = 0
    accumulator_width: int = 0
    adder_levels: int = 0
    adders: int = 0


@dataclass
class Resources:
    """Per-op :class:`OpResources` and the totals; ``latency`` is the longest path in adder levels."""

    ops: list[OpResources] = field(default_factory=list)
    ebops: int = 0
    nonzero_weights: int = 0
    accumulator_width: int = 0
    latency: int = 0
    adders: int = 0

    def __str__(self) -> str:
        """A table: one row per op, then the totals (latency is the longest path, not a sum)."""
        head = ("op", "kind", "EBOPs", "nonzero weights", "accumulator bits", "adder levels")
        rows = [(r.name, r.kind, r.ebops, r.nonzero_weights, r.accumulator_width, r.adder_levels)
                for r in self.ops]
        total = ("total", "", self.ebops, self.nonzero_weights, self.accumulator_width, self.latency)
        cells = [tuple(str(c) for c in row) for row in [head, *rows, total]]
        widths = [max(len(row[c]) for row in cells) for c in range(len(head))]

        def line(row: tuple[str, ...]) -> str:
            left = [f"{v:<{w}}" for v, w in zip(row[:2], widths[:2])]
            right = [f"{v:>{w}}" for v, w in zip(row[2:], widths[2:])]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(line(cells[0]))
        return "\n".join([line(cells[0]), rule, *map(line, cells[1:-1]), rule,
                          line(cells[-1]) + "  (latency: longest input-to-output path)"])


def _levels(fan_in: int) -> int:
    return int(np.ceil(np.log2(fan_in))) + 1 if fan_in > 1 else 1


def resources(fw) -> Resources:
    """Resource estimates of every op of the firmware model ``fw`` (see the module docstring)."""
    res = Resources()
    depth = {s.name: 0 for s in fw.inputs}
    for op in fw.ops:
        r = OpResources(op.name, op.kind)
        x = fw.types[op.inputs[0]]
        if op.kind in ("dense", "conv", "einsum_dense"):
            plan, _, _ = linear_alignment(op, x)
            idx = plan.idx
            xw = np.concatenate([x.width.ravel(), [0]])[np.where(idx >= 0, idx, x.width.size)]
            r.ebops = int((plan.live * xw[:, :, None] * weight_bits(plan.w_raw)).sum())
            r.nonzero_weights = int(np.count_nonzero(op.w_raw))
            r.accumulator_width = int(op.out.width.max(initial=0))
            r.adder_levels = _levels(int(plan.fan_in.max(initial=0)))
            r.adders = sum(linear_adders(plan))
        elif op.kind == "einsum":
            plan = product_plan(op.equation, x, fw.types[op.inputs[1]])
            r.ebops = int(plan.term_bits.sum())
            r.accumulator_width = int(op.out.width.max(initial=0))
            r.adder_levels = _levels(int(plan.live.sum(axis=1).max(initial=0))) + 1
        elif op.kind in ("sum", "max"):
            r.accumulator_width = int(op.out.width.max(initial=0)) if op.kind == "sum" else 0
            r.adder_levels = _levels(int(x.k.size // max(op.out.k.size, 1)))
        elif op.kind == "avgpool":
            _, idx = pool_windows(op, x)
            r.accumulator_width = int(max(op.sum_type.width.max(initial=0),
                                          op.prod_type.width.max(initial=0)))
            r.adder_levels = _levels(idx.shape[1]) + 1
        elif op.kind == "maxpool":
            _, idx = pool_windows(op, x)
            r.adder_levels = _levels(idx.shape[1])
        elif op.kind in ("add", "subtract"):
            r.accumulator_width = int(op.out.width.max(initial=0))
            r.adder_levels = _levels(len(op.inputs))
        elif op.kind in ("reshape", "concatenate", "transpose"):
            r.adder_levels = 0
        else:
            r.adder_levels = 1
        depth[op.name] = max(depth[i] for i in op.inputs) + r.adder_levels
        res.ops.append(r)
    res.ebops = sum(r.ebops for r in res.ops)
    res.nonzero_weights = sum(r.nonzero_weights for r in res.ops)
    res.adders = sum(r.adders for r in res.ops)
    res.accumulator_width = max((r.accumulator_width for r in res.ops), default=0)
    res.latency = max((depth[o] for o in fw.outputs), default=0)
    return res

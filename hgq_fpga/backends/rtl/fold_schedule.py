"""Pipeline stages of a design that takes a new sample every ``ii > 1`` clock cycles (the layers
folded by :mod:`~hgq_fpga.backends.rtl.fold`): the same ASAP placement within an adder-level
budget as :func:`~hgq_fpga.backends.rtl.schedule.schedule`, plus the clock cycles the ``acc``
registers take, and ``hold`` registers for the operands a ``lane`` reads over several cycles."""

from __future__ import annotations

from hgq_fpga.backends.rtl.netlist import REGISTERS, STREAMS, Netlist, Node
from hgq_fpga.backends.rtl.schedule import Schedule, place


def schedule_folded(net: Netlist, nodes: list[Node], outputs: list[Node], levels: int, ii: int,
                    register_inputs: bool, register_outputs: bool) -> Schedule:
    """Stages of a design that takes a new sample every ``ii`` clock cycles.

    A stage is a clock cycle counted from the sample's arrival, and a node of stage ``s`` works
    on its sample in cycles ``s, s+1, ...``.  A *stream* node (a ``lane`` and what is computed
    from it) carries phase ``t`` of its sample in cycle ``s + t``; every other node carries one
    value, which is the sample's for a *window* of cycles from its stage: 1 for an input (it is
    only there when the sample arrives), ``ii`` for a ``hold`` register, ``ii - count + 1`` for
    an ``acc`` register (from its last update to the next sample's first), the smallest window
    of its operands for the rest.  Pipeline registers between stages delay a value and keep its
    window.  A lane reads its operands in ``count`` cycles, so an operand with a shorter window
    is first taken into a ``hold`` register (one cycle; added to ``net`` and to the schedule).
    """
    if levels < 1:
        raise ValueError(f"adder levels per stage must be at least 1, got {levels}")
    stage: dict[int, int] = {}
    depth: dict[int, int] = {}
    window: dict[int, int] = {}
    compute: dict[int, int] = {}
    stream: set[int] = set()
    order: list[Node] = []
    held: dict[int, Node] = {}
    forever = 1 << 30

    def hold(x: Node) -> Node:
        if x.id not in held:
            h = net.hold(x)
            compute[h.id] = stage[x.id]
            stage[h.id], depth[h.id], window[h.id] = stage[x.id] + 1, 0, ii
            order.append(h)
            held[x.id] = h
        return held[x.id]

    for n in nodes:
        if n.is_const:
            continue
        if n.kind == "lane":
            need = n.params["count"]
            swap = {a.id: hold(a) for a in n.args if window.get(a.id, forever) < need}
            if swap:
                n.args = tuple(swap.get(a.id, a) for a in n.args)
                n.params["picks"] = tuple(None if p is None else (swap.get(p[0].id, p[0]), *p[1:])
                                          for p in n.params["picks"])
        order.append(n)
        if n.kind == "input":
            stage[n.id], depth[n.id], window[n.id] = 0, 0, 1
            continue
        if n.kind == "phase":
            stage[n.id], depth[n.id] = 0, 0
            stream.add(n.id)
            continue
        place(n, [a for a in n.args if not a.is_const and a.kind != "phase"], stage, depth, levels)
        if n.kind == "lane" and n.params["registered"]:
            depth[n.id] = levels       # its readers open the next stage
        if n.kind in REGISTERS:
            compute[n.id] = stage[n.id]
            count = n.params.get("count", 1) if n.kind == "acc" else 0
            stage[n.id] += count if n.kind == "acc" else 1
            depth[n.id] = 0
            window[n.id] = ii - count + 1 if n.kind == "acc" else ii
        elif n.kind in STREAMS or any(a.id in stream for a in n.args):
            stream.add(n.id)
        else:
            window[n.id] = min((window.get(a.id, forever) for a in n.args if not a.is_const), default=forever)
    for n in outputs:
        if n.id in stream:
            raise ValueError(f"internal: output node {n.id} changes within its sample")
    last = max((stage[n.id] for n in outputs if not n.is_const), default=0)
    last_use = {n.id: stage[n.id] for n in order}
    for n in order:
        at = compute.get(n.id, stage[n.id])
        for a in n.args:
            if not a.is_const and a.kind != "phase":
                last_use[a.id] = max(last_use[a.id], at)
    for n in outputs:
        if not n.is_const:
            last_use[n.id] = last
    stage_levels = [0] * (last + 1)
    for n in order:
        if stage[n.id] <= last and n.kind not in REGISTERS:
            stage_levels[stage[n.id]] = max(stage_levels[stage[n.id]], depth[n.id])
    return Schedule(stage, last_use, last, levels, bool(register_inputs), bool(register_outputs),
                    stage_levels, ii, compute, order)

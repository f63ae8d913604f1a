"""Pipeline stages from an adder-depth budget: II = 1, latency in clock cycles.

Nodes are placed as soon as possible (ASAP).  A node joins the stage of its latest operand if
the combinational depth there, plus its own cost (:data:`~hgq_fpga.backends.rtl.netlist.COST`),
stays within ``levels`` adder levels; otherwise it opens the next stage and its operands are
registered in between.  Optionally the inputs are registered on entry and the outputs on exit
(see :data:`REGISTER_INPUTS`, :data:`REGISTER_OUTPUTS`), so the latency is ``last stage +
registered inputs + registered outputs`` clock cycles, and a new sample may enter on every clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hgq_fpga.backends.rtl.netlist import COST, REGISTERS, STREAMS, Netlist, Node

#: Adder levels per ns of clock period, the default budget: a ripple adder of trigger-network
#: width on UltraScale+ (carry chain, one LUT and routing) takes about 1.2 ns.
NS_PER_LEVEL = 1.2

#: Default port registers.  Outputs are registered, inputs are not: a module fed by registers
#: (the usual case: a deserializer, or another such module) would otherwise register the same
#: bits twice, one clock cycle for nothing; and every path of a design still starts and ends at
#: a register, so its timing is that of one clean pipeline stage per cycle.
REGISTER_INPUTS = False
REGISTER_OUTPUTS = True


def default_levels(clock_period_ns: float) -> int:
    """Adder levels that fit into one clock period (at least one)."""
    return max(1, int(clock_period_ns / NS_PER_LEVEL))


def cost(n: Node) -> int:
    """Adder-depth cost of node ``n`` (truncation and wrapping are wiring only)."""
    if n.kind == "shr" and n.params["round"] == "TRN":
        return 0
    if n.kind == "ovf" and n.params["mode"] == "WRAP":
        return 0
    return COST[n.kind]


@dataclass
class Schedule:
    """Stage of each emitted node, and the stage each node is last read in."""

    stage: dict[int, int]
    last_use: dict[int, int]
    last_stage: int
    levels: int
    register_inputs: bool = REGISTER_INPUTS
    register_outputs: bool = REGISTER_OUTPUTS
    ii: int = 1
    #: II > 1: registers (``acc``, ``hold``) by node id: the stage they read their operand in
    #: (their own :attr:`stage` is when their value is the sample's)
    compute: dict[int, int] = field(default_factory=dict)
    #: II > 1: every node in order, with the ``hold`` registers the schedule added
    nodes: list[Node] | None = None

    @property
    def latency(self) -> int:
        """Clock cycles from a sample at the input ports (``in_valid``) to its result at the
        output ports (``out_valid``); 0 for a purely combinational module."""
        return self.last_stage + int(self.register_inputs) + int(self.register_outputs)


def live_nodes(net: Netlist, outputs: list[Node]) -> list[Node]:
    """Non-constant nodes the outputs depend on, in topological order, plus every input."""
    keep = set()
    stack = [n for n in outputs if not n.is_const]
    while stack:
        n = stack.pop()
        if n.id in keep:
            continue
        keep.add(n.id)
        stack.extend(a for a in n.args if not a.is_const)
    return [n for n in net.nodes if n.id in keep or n.kind == "input"]


def schedule(nodes: list[Node], outputs: list[Node], levels: int,
             register_inputs: bool = REGISTER_INPUTS, register_outputs: bool = REGISTER_OUTPUTS,
             ii: int = 1, net: Netlist | None = None) -> Schedule:
    """ASAP stages of ``nodes`` (topologically ordered) within ``levels`` adder levels per stage;
    the port registers as asked (they add a cycle each, see :attr:`Schedule.latency`).  With
    ``ii > 1`` see :func:`schedule_folded` (``net`` receives the registers it adds)."""
    if levels < 1:
        raise ValueError(f"adder levels per stage must be at least 1, got {levels}")
    if ii > 1:
        return schedule_folded(net, nodes, outputs, levels, ii, register_inputs, register_outputs)
    stage: dict[int, int] = {}
    depth: dict[int, int] = {}
    for n in nodes:
        ins = [a for a in n.args if not a.is_const]
        if not ins:
            stage[n.id], depth[n.id] = 0, 0
            continue
        s = max(stage[a.id] for a in ins)
        c = cost(n)
        d = max(depth[a.id] for a in ins if stage[a.id] == s) + c
        if d > levels and c > 0:
            s, d = s + 1, c
        stage[n.id], depth[n.id] = s, d
    last = max((stage[n.id] for n in outputs if not n.is_const), default=0)
    last_use = {n.id: stage[n.id] for n in nodes}
    for n in nodes:
        for a in n.args:
            if not a.is_const:
                last_use[a.id] = max(last_use[a.id], stage[n.id])
    for n in outputs:
        if not n.is_const:
            last_use[n.id] = last
    return Schedule(stage, last_use, last, levels, bool(register_inputs), bool(register_outputs))


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
    stage: dict[int, int] = {}
    depth: dict[int, int] = {}
    window: dict[int, int] = {}
    compute: dict[int, int] = {}
    stream: set[int] = set()
    order: list[Node] = []
    held: dict[int, Node] = {}
    forever = 1 << 30

    def place(n: Node, ins: list[Node]) -> None:
        live = [a for a in ins if not a.is_const and a.kind != "phase"]
        if not live:
            stage[n.id], depth[n.id] = 0, 0
            return
        s = max(stage[a.id] for a in live)
        c = cost(n)
        d = max(depth[a.id] for a in live if stage[a.id] == s) + c
        if d > levels and c > 0:
            s, d = s + 1, c
        stage[n.id], depth[n.id] = s, d

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
        place(n, list(n.args))
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
    return Schedule(stage, last_use, last, levels, bool(register_inputs), bool(register_outputs), ii,
                    compute, order)

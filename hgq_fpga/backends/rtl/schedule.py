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

from hgq_fpga.backends.rtl.netlist import COST, Netlist, Node

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
    return n.params.get("levels", COST[n.kind])


def place(n: Node, ins: list[Node], stage: dict[int, int], depth: dict[int, int], levels: int) -> None:
    """Stage and adder depth of ``n`` as soon as its operands ``ins`` allow, within ``levels``."""
    if not ins:
        stage[n.id], depth[n.id] = 0, 0
        return
    s = max(stage[a.id] for a in ins)
    c = cost(n)
    d = max(depth[a.id] for a in ins if stage[a.id] == s) + c
    if d > levels and c > 0:
        s, d = s + 1, c
    stage[n.id], depth[n.id] = s, d


@dataclass
class Schedule:
    """Stage of each emitted node, and the stage each node is last read in."""

    stage: dict[int, int]
    last_use: dict[int, int]
    last_stage: int
    levels: int
    register_inputs: bool = REGISTER_INPUTS
    register_outputs: bool = REGISTER_OUTPUTS
    #: adder levels of the longest combinational path in each stage (0 .. ``last_stage``)
    stage_levels: list[int] = field(default_factory=list)
    ii: int = 1
    #: II > 1 (:mod:`~hgq_fpga.backends.rtl.fold_schedule`): registers (``acc``, ``hold``) by
    #: node id: the stage they read their operand in (their :attr:`stage`: when their value is the sample's)
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
             register_inputs: bool = REGISTER_INPUTS, register_outputs: bool = REGISTER_OUTPUTS) -> Schedule:
    """ASAP stages of ``nodes`` (topologically ordered) within ``levels`` adder levels per stage;
    the port registers as asked (they add a cycle each, see :attr:`Schedule.latency`)."""
    if levels < 1:
        raise ValueError(f"adder levels per stage must be at least 1, got {levels}")
    stage: dict[int, int] = {}
    depth: dict[int, int] = {}
    for n in nodes:
        place(n, [a for a in n.args if not a.is_const], stage, depth, levels)
    last = max((stage[n.id] for n in outputs if not n.is_const), default=0)
    last_use = {n.id: stage[n.id] for n in nodes}
    for n in nodes:
        for a in n.args:
            if not a.is_const:
                last_use[a.id] = max(last_use[a.id], stage[n.id])
    for n in outputs:
        if not n.is_const:
            last_use[n.id] = last
    stage_levels = [0] * (last + 1)
    for n in nodes:
        if stage[n.id] <= last:
            stage_levels[stage[n.id]] = max(stage_levels[stage[n.id]], depth[n.id])
    return Schedule(stage, last_use, last, levels, bool(register_inputs), bool(register_outputs), stage_levels)

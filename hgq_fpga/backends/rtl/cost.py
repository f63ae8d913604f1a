"""A LUT estimate of netlist nodes, so that a lowering can choose among alternatives before Yosys.

The model counts what ``synth_xilinx`` (Yosys 0.23, ``-family xcup``) maps each node kind to:

- an adder costs one LUT per bit position where two or more operands carry signal bits (a sign
  extension counts, a zero or a shifted-in zero does not): a carry-chain position that only
  propagates one operand needs no LUT;
- a ``rom`` costs one LUT per output bit that is neither constant nor a copy of one address bit
  (each is one function of at most six address bits: one LUT6);
- a rounding shift costs one LUT per output bit (an incrementer), truncation nothing; saturation
  one LUT per output bit plus a comparator over the dropped bits; wrapping nothing;
- a ReLU one LUT per bit, a max a comparator and a multiplexer, a table lookup one LUT per output
  bit per 64 entries or one per run of equal entries its input can reach (two beyond 12 input
  bits, written as comparisons), whichever is fewer (the transformer's exp tables: 26-27 Yosys
  LUTs for 33 runs over 10-12 input bits);
- a product of two variables: a ``mul`` none (a DSP block, or the synthesis tool's choice), a
  ``gate`` or a radix-4 ``pick`` none (it shares the LUT of the adder it feeds);
- at II > 1, an accumulator one LUT per bit (its adder; the phase multiplexer fits the same LUT),
  a lane one LUT per bit when its choices and the phase bits fit a LUT6 (more beyond), a hold
  register none.

It is a ranking model, measured against Yosys in the RTL benchmark (BENCHMARKS.md), not a report.
"""

from __future__ import annotations

from typing import Iterable

from hgq_fpga.backends.rtl.netlist import Node, reachable_addresses

#: inputs of one LUT (UltraScale+: LUT6)
LUT_INPUTS = 6
#: the widest table input the Verilog writes as a ``case`` (wider: comparisons on its runs of
#: equal entries).  Up to 12 bits a case is cheaper: the transformer's exp tables (10-12 bits in,
#: 6 out, 33 runs) took 23-27 LUTs as a case and 57-66 as comparisons (Yosys 0.23)
CASE_BITS = 12


def _live_positions(n: Node) -> int:
    """Bit positions of adder ``n`` where at least two operands carry signal."""
    count = [0] * n.width
    for a, sh in zip(n.args, n.params["shifts"]):
        if a.is_const:
            continue
        top = n.width if a.signed else min(n.width, sh + a.width)
        for i in range(max(sh, 0), top):
            count[i] += 1
    return sum(c >= 2 for c in count)


def _rom_luts(n: Node) -> int:
    """Output bits of a ROM that need a LUT (neither constant nor an address bit)."""
    entries = n.params["entries"]
    addrs = reachable_addresses(n.args)
    bits = sum(a.width for a in n.args)
    cost = 0
    for b in range(n.width):
        col = [(entries[a] >> b) & 1 for a in addrs]
        if min(col) == max(col):
            continue
        if any(all(((a >> k) & 1) == v for a, v in zip(addrs, col)) for k in range(bits)):
            continue
        cost += max(1, 1 << max(0, bits - LUT_INPUTS))
    return cost


def node_luts(n: Node) -> int:
    """Estimated LUTs of one node (see the module doc)."""
    k = n.kind
    if k == "add":
        if len(n.args) == 1:
            return n.width if n.params["signs"][0] < 0 else 0
        return _live_positions(n)
    if k == "rom":
        return _rom_luts(n)
    if k == "shr":
        return 0 if n.params["round"] == "TRN" else n.width
    if k == "ovf":
        if n.params["mode"] == "WRAP":
            return 0
        return n.width + (max(0, n.args[0].width - n.width) + 1) // 2
    if k == "relu":
        return n.width
    if k == "max":
        return n.width + max(a.width for a in n.args)
    if k == "table":
        per_run = 1 if n.args[0].width <= CASE_BITS else 2
        return min(n.width * max(1, 1 << max(0, n.args[0].width - LUT_INPUTS)), per_run * n.params["runs"])
    if k == "acc":
        return n.width
    if k == "lane":
        picks = len(set(n.params["picks"][:n.params["count"]]))
        select = max(1, (n.params["count"] - 1).bit_length())
        return n.width * max(1, -(-(picks + select - 1) // (LUT_INPUTS - 1)))
    return 0


def luts(nodes: Iterable[Node]) -> int:
    """Estimated LUTs of ``nodes``."""
    return sum(node_luts(n) for n in nodes)

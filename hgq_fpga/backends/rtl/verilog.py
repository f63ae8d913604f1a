"""Print a scheduled netlist as one Verilog-2001 module that Yosys and Verilator both read.

All wires are plain vectors holding two's-complement (or unsigned) codes of exactly their node's
width; arithmetic is modulo ``2**width`` on explicitly sign- or zero-extended operands, which is
exact because every node's range fits its width (see :mod:`hgq_fpga.backends.rtl.netlist`).
Comparisons use ``$signed`` on operands extended one bit beyond both ranges.  Node ``n<id>`` is
the combinational value in its stage; ``n<id>_d<k>`` is the same value ``k`` registers later.
"""

from __future__ import annotations

from hgq_fpga.backends.rtl.lower import Lowered, Port
from hgq_fpga.backends.rtl.netlist import Node, range_bits, type_bounds
from hgq_fpga.backends.rtl.schedule import Schedule


def lit(value: int, width: int) -> str:
    """A sized literal of the low ``width`` bits of ``value``."""
    return f"{width}'h{value & ((1 << width) - 1):x}"


class _Refs:
    """Operand spelling: the name of a node as read in a given stage."""

    def __init__(self, sched: Schedule) -> None:
        self.sched = sched

    def name(self, n: Node, stage: int) -> str:
        delay = stage - self.sched.stage[n.id]
        if delay < 0:
            raise ValueError(f"internal: node {n.id} read before it is computed")
        return f"n{n.id}" if delay == 0 else f"n{n.id}_d{delay}"

    def bits(self, n: Node, stage: int, a: int, b: int) -> str:
        """Bits ``a..b`` of the (sign- or zero-) extended code of ``n``, ``b - a + 1`` wide."""
        w = n.width
        ref = self.name(n, stage)
        fill = f"{ref}[{w - 1}]" if n.signed else "1'b0"
        if a >= w:
            return fill if a == b else f"{{{b - a + 1}{{{fill}}}}}"
        top = min(b, w - 1)
        part = ref if (a == 0 and top == w - 1) else f"{ref}[{top}:{a}]"
        extra = b - top
        if not extra:
            return part
        return f"{{{fill}, {part}}}" if extra == 1 else f"{{{{{extra}{{{fill}}}}}, {part}}}"

    def ext(self, n: Node, stage: int, width: int, shift: int = 0) -> str:
        """The low ``width`` bits of ``value(n) << shift``."""
        if n.is_const:
            return lit(n.params["value"] << shift, width)
        if shift >= width:
            return lit(0, width)
        part = self.bits(n, stage, 0, width - shift - 1)
        return f"{{{part}, {shift}'d0}}" if shift else part


def _cmp_width(*ranges: tuple[int, int]) -> int:
    lo = min(min(r[0] for r in ranges), -1)
    hi = max(r[1] for r in ranges)
    return range_bits(lo, hi)[1]


def _expr(n: Node, r: _Refs, s: int) -> str:
    """The Verilog expression of node ``n`` computed in stage ``s``."""
    w = n.width
    if n.kind == "add" and len(n.args) == 2 and 0 in n.params["shifts"] \
            and 0 < max(n.params["shifts"]) < w and n.params["signs"][n.params["shifts"].index(0)] > 0:
        # P ± (Q << s): the low s bits are P's own, only the high bits need an adder
        p_at = n.params["shifts"].index(0)
        p, q = n.args[p_at], n.args[1 - p_at]
        sh, sg = n.params["shifts"][1 - p_at], n.params["signs"][1 - p_at]
        if not p.is_const:
            high = f"{r.bits(p, s, sh, w - 1)} {'+' if sg > 0 else '-'} {r.ext(q, s, w - sh)}"
            # both operands are w - s bits wide, so the sum is too (self-determined in { })
            return f"{{({high}), {r.bits(p, s, 0, sh - 1)}}}"
    if n.kind == "add":
        parts = []
        for a, sh, sg in zip(n.args, n.params["shifts"], n.params["signs"]):
            e = r.ext(a, s, w, sh)
            parts.append(("+ " if sg > 0 else "- ") + e)
        text = " ".join(parts)
        return text[2:] if text.startswith("+ ") else f"{lit(0, w)} {text}"
    if n.kind == "alias":
        return r.ext(n.args[0], s, w)
    if n.kind == "shr":
        return _shr(n, r, s)
    if n.kind == "ovf":
        return _ovf(n, r, s)
    if n.kind == "relu":
        x = n.args[0]
        return f"{r.name(x, s)}[{x.width - 1}] ? {lit(0, w)} : {r.bits(x, s, 0, w - 1)}"
    if n.kind == "max":
        (a, b), (sa, sb) = n.args, n.params["shifts"]
        c = _cmp_width((a.lo << sa, a.hi << sa), (b.lo << sb, b.hi << sb))
        return (f"($signed({r.ext(a, s, c, sa)}) >= $signed({r.ext(b, s, c, sb)})) ? "
                f"{r.ext(a, s, w, sa)} : {r.ext(b, s, w, sb)}")
    if n.kind == "table":
        return f"rom{n.params['table']}({r.name(n.args[0], s)})"
    if n.kind == "mul":
        return _mul(n, r, s)
    if n.kind == "gate":
        a, b = n.args
        bit = r.bits(b, s, n.params["bit"], n.params["bit"])
        return f"{{{w}{{{bit}}}}} & {r.ext(a, s, w)}"
    raise ValueError(f"internal: no Verilog for node kind {n.kind!r}")


def _mul(n: Node, r: _Refs, s: int) -> str:
    """``a * b`` in the node's width: both operands extended to it (signed when either is), so
    the low bits of the product are exact and the range says nothing is lost above them."""
    a, b = n.args
    if not (a.signed or b.signed):
        return f"{r.name(a, s)} * {r.name(b, s)}"
    ops = [f"$signed({r.name(x, s)})" if x.signed else f"$signed({{1'b0, {r.name(x, s)}}})" for x in (a, b)]
    return " * ".join(ops)


#: Vivado's ``use_dsp`` attribute of a multiplier node, by the project's ``multipliers`` option
#: (``"lut"`` builds partial products from gates and adders: no multiplier node)
USE_DSP = {"dsp": '(* use_dsp = "yes" *) ', "auto": ""}


def _shr(n: Node, r: _Refs, s: int) -> str:
    """Drop ``sh`` fraction bits with the rounding mode: floor plus a 0/1 carry."""
    x, sh, mode, w = n.args[0], n.params["s"], n.params["round"], n.width
    q = r.bits(x, s, sh, sh + w - 1)
    if mode == "TRN":
        return q
    half = r.bits(x, s, sh - 1, sh - 1)
    sticky = f"(|{r.bits(x, s, 0, sh - 2)})" if sh >= 2 else "1'b0"
    neg = r.bits(x, s, x.width - 1, x.width - 1) if x.signed else "1'b0"
    lsb = r.bits(x, s, sh, sh)
    up = {"TRN_ZERO": f"({neg} & ({half} | {sticky}))",
          "RND": half,
          "RND_ZERO": f"({half} & ({sticky} | {neg}))",
          "RND_MIN_INF": f"({half} & {sticky})",
          "RND_INF": f"({half} & ({sticky} | ~{neg}))",
          "RND_CONV": f"({half} & ({sticky} | {lsb}))"}[mode]
    return f"{q} + {{{w - 1}'d0, {up}}}" if w > 1 else f"{q} + {up}"


def _ovf(n: Node, r: _Refs, s: int) -> str:
    """Fit the operand into ``(k, w)``: wrap, saturate (plain or symmetric) or zero."""
    x, mode, k, w = n.args[0], n.params["mode"], n.params["k"], n.params["w"]
    inner = r.ext(x, s, w)
    if mode == "WRAP":
        return inner
    lo, hi = type_bounds(k, w)
    low = -hi if (mode == "SAT_SYM" and k and w > 1) else lo
    c = _cmp_width((x.lo, x.hi), (low, hi))
    v = f"$signed({r.ext(x, s, c)})"
    over = f"({v} > $signed({lit(hi, c)}))" if x.hi > hi else None
    under = f"({v} < $signed({lit(low, c)}))" if x.lo < low else None
    if mode == "SAT_ZERO":
        cond = " | ".join(c_ for c_ in (over, under) if c_)
        return f"({cond}) ? {lit(0, w)} : {inner}"
    text = inner
    if under:
        text = f"{under} ? {lit(low, w)} : {text}"
    if over:
        text = f"{over} ? {lit(hi, w)} : {text}"
    return text


def _rom(tid: int, t: dict) -> str:
    iw, ow, lo = t["in_w"], t["out_w"], t["lo"]
    runs = _runs(t["entries"])
    if len(runs) * RUNS_PER_ENTRY < len(t["entries"]):
        return _rom_of_runs(tid, t, runs)
    lines = [f"  function [{ow - 1}:0] rom{tid};", f"    input [{iw - 1}:0] x;",
             "    begin", "      case (x)"]
    for j, v in enumerate(t["entries"]):
        lines.append(f"        {lit(lo + j, iw)}: rom{tid} = {lit(v, ow)};")
    lines += [f"        default: rom{tid} = {lit(0, ow)};", "      endcase", "    end", "  endfunction"]
    return "\n".join(lines)


#: a table is written as comparisons on its runs of equal entries when it has fewer than one run
#: per this many entries (a softmax's exp and reciprocal tables: a few dozen runs over 2^16 codes)
RUNS_PER_ENTRY = 4


def _runs(entries) -> list[tuple[int, int]]:
    """``(last index, value)`` of each run of equal consecutive entries."""
    runs = []
    for j, v in enumerate(entries):
        if runs and runs[-1][1] == v:
            runs[-1] = (j, v)
        else:
            runs.append((j, v))
    return runs


def _rom_of_runs(tid: int, t: dict, runs: list[tuple[int, int]]) -> str:
    """The table as a chain of comparisons: the value of the first run whose last code is at
    least the input code (every input code is a table entry: the type's whole range)."""
    iw, ow, lo = t["in_w"], t["out_w"], t["lo"]
    x, bound = ("$signed(x)", lambda c: f"$signed({lit(c, iw)})") if lo < 0 else ("x", lambda c: lit(c, iw))
    lines = [f"  function [{ow - 1}:0] rom{tid};", f"    input [{iw - 1}:0] x;", "    begin"]
    for n, (last, v) in enumerate(runs[:-1]):
        lines.append(f"      {'if' if n == 0 else 'else if'} ({x} <= {bound(lo + last)}) rom{tid} = {lit(v, ow)};")
    lines.append(f"      {'else ' if len(runs) > 1 else ''}rom{tid} = {lit(runs[-1][1], ow)};")
    return "\n".join(lines + ["    end", "  endfunction"])


def _decl(w: int) -> str:
    return f"[{w - 1}:0] "


def _bus(port: Port, nodes: list[Node], r: _Refs, stage: int) -> str:
    parts = [r.ext(n, stage, w) for n, w in zip(nodes, port.widths)]
    return "{" + ", ".join(reversed(parts)) + "}" if len(parts) > 1 else parts[0]


def _valid(lat: int) -> list[str]:
    """The valid pipeline: ``in_valid`` delayed by ``lat`` clocks (a wire for ``lat = 0``)."""
    if lat == 0:
        return ["  // combinational: no clock cycle from input to output", "  assign out_valid = in_valid;", ""]
    return [f"  // latency {lat} clock cycles, a new sample every clock (II = 1)",
            f"  reg [{lat - 1}:0] valid_sr;",
            "  always @(posedge clk) begin",
            "    if (rst) valid_sr <= " + lit(0, lat) + ";",
            f"    else valid_sr <= {{valid_sr[{lat - 2}:0], in_valid}};" if lat > 1 else
            "    else valid_sr <= in_valid;",
            "  end",
            f"  assign out_valid = valid_sr[{lat - 1}];", ""]


def emit_module(low: Lowered, nodes: list[Node], sched: Schedule, top: str, header: str) -> str:
    """The text of module ``top``: ports, optional input registers, staged logic, pipeline
    registers and optional output registers."""
    r = _Refs(sched)
    out_kind = "reg" if sched.register_outputs else "wire"
    ports = ["input wire clk", "input wire rst", "input wire in_valid"]
    ports += [f"input wire {_decl(p.width)}{p.name}" for p in low.inputs if p.width]
    ports += ["output wire out_valid"]
    ports += [f"output {out_kind} {_decl(p.width)}{p.name}" for p in low.outputs if p.width]
    out = [header, f"module {top} (", ",\n".join("  " + p for p in ports), ");", ""]
    out += _valid(sched.latency)
    for tid, t in enumerate(low.net.tables):
        out += [_rom(tid, t), ""]
    regs, assigns = [], []
    read = {a.id for n in nodes for a in n.args} | {n.id for ns in low.output_nodes for n in ns}
    for n in nodes:
        if n.kind == "input" and n.id not in read:
            continue                                   # an input element nothing depends on
        if n.kind == "input":
            bits = f"{n.params['port']}[{n.params['offset'] + n.width - 1}:{n.params['offset']}]"
            if sched.register_inputs:
                out.append(f"  reg {_decl(n.width)}n{n.id};")
                regs.append(f"    n{n.id} <= {bits};")
            else:
                assigns.append(f"  wire {_decl(n.width)}n{n.id} = {bits};")
        else:
            attr = USE_DSP[n.params["bind"]] if n.kind == "mul" else ""
            assigns.append(f"  {attr}wire {_decl(n.width)}n{n.id} = {_expr(n, r, sched.stage[n.id])};")
        for d in range(1, sched.last_use[n.id] - sched.stage[n.id] + 1):
            out.append(f"  reg {_decl(n.width)}n{n.id}_d{d};")
            regs.append(f"    n{n.id}_d{d} <= {r.name(n, sched.stage[n.id] + d - 1)};")
    for p, ns in zip(low.outputs, low.output_nodes):
        if not p.width:
            continue
        if sched.register_outputs:
            regs.append(f"    {p.name} <= {_bus(p, ns, r, sched.last_stage)};")
        else:
            assigns.append(f"  assign {p.name} = {_bus(p, ns, r, sched.last_stage)};")
    out += [""] + assigns
    if regs:
        out += ["", "  always @(posedge clk) begin"] + regs + ["  end"]
    out += ["", "endmodule", ""]
    return "\n".join(out)

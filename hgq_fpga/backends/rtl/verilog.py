"""Print a scheduled netlist as one Verilog-2001 module that Yosys and Verilator both read.

All wires are plain vectors holding two's-complement (or unsigned) codes of exactly their node's
width; arithmetic is modulo ``2**width`` on explicitly sign- or zero-extended operands, which is
exact because every node's range fits its width (see :mod:`hgq_fpga.backends.rtl.netlist`).
Comparisons use ``$signed`` on operands extended one bit beyond both ranges.  Node ``n<id>`` is
the combinational value in its stage; ``n<id>_d<k>`` is the same value ``k`` registers later.
"""

from __future__ import annotations

from hgq_fpga.backends.rtl import cost
from hgq_fpga.backends.rtl.lower import Lowered, Port
from hgq_fpga.backends.rtl.netlist import Node, range_bits, reachable_addresses, type_bounds
from hgq_fpga.backends.rtl.schedule import Schedule


def lit(value: int, width: int) -> str:
    """A sized literal of the low ``width`` bits of ``value``."""
    return f"{width}'h{value & ((1 << width) - 1):x}"


class _Refs:
    """Operand spelling: the name of a node as read in a given stage.

    ``core`` records, for each adder printed so far, the lowest bit of its wire that is the output
    of its own Verilog ``+``/``-`` (bits below come from elsewhere: an operand's low bits, or a
    bypassed bit); ``aux`` collects the declarations an expression needs before its wire."""

    def __init__(self, sched: Schedule) -> None:
        self.sched = sched
        self.core: dict[int, int] = {}
        self.aux: list[str] = []
        self.phases: set[int] = set()
        self._packed: dict[int, bool] = {}

    def packed(self, n: Node) -> bool:
        """Whether ``n`` is a LUT6 partial sum (``rom``) or a sum over one."""
        if n.id not in self._packed:
            self._packed[n.id] = n.kind == "rom" or (n.kind in ("add", "alias") and
                                                      any(self.packed(a) for a in n.args))
        return self._packed[n.id]

    def phase(self, stage: int) -> str:
        """The phase of the sample that stage ``stage`` works on in the current cycle (II > 1)."""
        r = stage % self.sched.ii
        self.phases.add(r)
        return f"ph{r}"

    def name(self, n: Node, stage: int) -> str:
        if n.kind == "phase":
            return self.phase(stage)
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
    if n.kind == "add":
        return _add(n, r, s)
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
    if n.kind == "pick":
        a, a3, b = n.args
        lo, hi = (r.bits(b, s, n.params["bit"] + j, n.params["bit"] + j) for j in (0, 1))
        return (f"{hi} ? ({lo} ? {r.ext(a3, s, w)} : {r.ext(a, s, w, 1)}) : "
                f"({lo} ? {r.ext(a, s, w)} : {lit(0, w)})")
    if n.kind == "lane":
        return _lane(n, r, s)
    if n.kind == "rom":
        addr = ", ".join(r.name(a, s) for a in reversed(n.args))
        return f"n{n.id}_f({{{addr}}})"
    raise ValueError(f"internal: no Verilog for node kind {n.kind!r}")


def _merges(r: _Refs, x: Node, s: int, start: int, width: int) -> bool:
    """Whether an adder port reading bits ``start ..`` of ``x`` (``width`` of them, extended)
    would be exactly the output of ``x``'s own adder in the same stage: Yosys's ``alumacc`` then
    merges the two adders into one multi-operand ``$macc``, which ``synth_xilinx`` maps to about
    twice the LUTs of separate carry chains."""
    return (x.kind == "add" and r.sched.stage[x.id] == s and r.core.get(x.id) == start
            and start + width >= x.width)


def _add(n: Node, r: _Refs, s: int) -> str:
    """An adder.  In a sum of LUT6 partial sums (:func:`_packed`): ``a ± (b << d)``, bits only ``a``
    covers passed through, and where the adder port of an operand would be exactly another
    adder's output (see :func:`_merges`), the lowest overlapping bits added apart (a bit by a
    gate, more by a small adder) and carried in, so that every adder stays its own carry chain.
    Elsewhere the plain form of :func:`_add_plain`: on CSD adder trees the split costs LUTs
    (measured with Yosys 0.23: the 16-16-5 MLP of the RTL bench, 3,070 LUTs plain against 3,418
    split; the binary 64-32-5 one, packed, 2,773 split against 3,121 plain)."""
    if not r.packed(n):
        return _add_plain(n, r, s)
    w = n.width
    terms = sorted(zip(n.args, n.params["shifts"], n.params["signs"]), key=lambda t: t[1])
    if len(terms) == 2 and terms[0][2] > 0 and not terms[0][0].is_const and terms[1][1] < w:
        (a, sa, _), (b, sb, gb) = terms
        return _add2(n, r, s, a, sa, b, sb, gb)
    parts = [("+ " if sg > 0 else "- ") + r.ext(a, s, w, sh) for a, sh, sg in terms]
    text = " ".join(parts)
    r.core[n.id] = 0
    return text[2:] if text.startswith("+ ") else f"{lit(0, w)} {text}"


def _add_plain(n: Node, r: _Refs, s: int) -> str:
    """``Σ ± a << d``; for ``P ± (Q << d)`` the low ``d`` bits are ``P``'s own and only the high
    bits need an adder."""
    w = n.width
    if len(n.args) == 2 and 0 in n.params["shifts"] and 0 < max(n.params["shifts"]) < w \
            and n.params["signs"][n.params["shifts"].index(0)] > 0:
        p_at = n.params["shifts"].index(0)
        p, q = n.args[p_at], n.args[1 - p_at]
        sh, sg = n.params["shifts"][1 - p_at], n.params["signs"][1 - p_at]
        if not p.is_const:
            high = f"{r.bits(p, s, sh, w - 1)} {'+' if sg > 0 else '-'} {r.ext(q, s, w - sh)}"
            r.core[n.id] = sh
            # both operands are w - s bits wide, so the sum is too (self-determined in { })
            return f"{{({high}), {r.bits(p, s, 0, sh - 1)}}}"
    parts = [("+ " if sg > 0 else "- ") + r.ext(a, s, w, sh)
             for a, sh, sg in zip(n.args, n.params["shifts"], n.params["signs"])]
    text = " ".join(parts)
    r.core[n.id] = 0
    return text[2:] if text.startswith("+ ") else f"{lit(0, w)} {text}"


def _add2(n: Node, r: _Refs, s: int, a: Node, sa: int, b: Node, sb: int, gb: int) -> str:
    """``(a << sa) ± (b << sb)`` with ``a`` positive and ``sa <= sb < width``."""
    w = n.width
    low = [f"{sa}'d0"] if sa else []                             # LSB first: zeros, then a's own bits
    low += [r.bits(a, s, 0, sb - sa - 1)] if sb > sa else []
    a0 = sb - sa                                                  # a's bit at the first shared position
    hw = w - sb                                                   # width of the shared part
    k = 0
    while k < hw - 1 and (_merges(r, a, s, a0 + k, hw - k) or
                          (not b.is_const and _merges(r, b, s, k, hw - k))):
        k += 1
    neg = gb < 0

    def b_bits(lo: int, hi: int) -> str:
        text = lit(b.params["value"] >> lo, hi - lo + 1) if b.is_const else r.bits(b, s, lo, hi)
        return f"~{text}" if neg else text

    hi_a = r.bits(a, s, a0 + k, a0 + hw - 1)
    if k == 0:
        high = f"{hi_a} {'-' if neg else '+'} {r.bits(b, s, 0, hw - 1) if not b.is_const else lit(b.params['value'], hw)}"
        r.core[n.id] = sb
        return "{" + ", ".join([f"({high})"] + low[::-1]) + "}" if low else high
    if k == 1:
        x, y = r.bits(a, s, a0, a0), (lit(b.params["value"] & 1, 1) if b.is_const else r.bits(b, s, 0, 0))
        carry = f"({x} | ~{y})" if neg else f"({x} & {y})"
        low_sum = f"{x} ^ {y}"
    else:
        name = f"n{n.id}_lo"
        one = " + 1'b1" if neg else ""
        r.aux.append(f"  wire [{k}:0] {name} = {{1'b0, {r.bits(a, s, a0, a0 + k - 1)}}} + "
                     f"{{1'b0, {b_bits(0, k - 1)}}}{one};")
        carry, low_sum = f"{name}[{k}]", f"{name}[{k - 1}:0]"
    high = f"{hi_a} + {b_bits(k, hw - 1)} + {{{hw - k - 1}'d0, {carry}}}" if hw - k > 1 else \
        f"{hi_a} + {b_bits(k, hw - 1)} + {carry}"
    r.core[n.id] = sb + k
    return "{" + ", ".join([f"({high})", f"({low_sum})"] + low[::-1]) + "}"


def _pick(pick, r: _Refs, s: int, w: int) -> str:
    """One phase of a lane, ``w`` bits wide (see :meth:`~hgq_fpga.backends.rtl.netlist.Netlist.lane`)."""
    if pick is None:
        return lit(0, w)
    x, lo, width, mode = pick
    if mode == "code":
        return r.ext(x, s, w)
    ref = r.name(x, s)
    bits = []
    for j in range(lo, lo + width):
        if j >= x.width:
            bits.append("1'b0")
        elif x.signed and j == x.width - 1:
            bits.append(f"~{ref}[{j}]")
        else:
            bits.append(f"{ref}[{j}]")
    bits += ["1'b0"] * (w - width)
    return bits[0] if len(bits) == 1 else "{" + ", ".join(reversed(bits)) + "}"


def _lane(n: Node, r: _Refs, s: int) -> str:
    """A multiplexer on the phase: pick ``t`` in phase ``t`` (the last used one after that)."""
    picks = n.params["picks"][:n.params["count"]]
    ph = r.phase(s)
    text = _pick(picks[-1], r, s, n.width)
    for t in reversed(range(len(picks) - 1)):
        if picks[t] != picks[-1]:
            text = f"({ph} == {t}) ? {_pick(picks[t], r, s, n.width)} : {text}"
    return text


def _register(n: Node, r: _Refs) -> str:
    """The update of an ``acc`` or ``hold`` register (II > 1), in its compute stage."""
    c = r.sched.compute[n.id]
    ph, w = r.phase(c), n.width
    x = n.args[0]
    if n.kind == "hold":
        return f"    if ({ph} == 0) n{n.id} <= {r.name(x, c)};"
    k, count = n.params["shift"], n.params["count"]
    term = r.ext(x, c, w)
    prev = f"n{n.id}" if k == 0 else (lit(0, w) if k >= w else f"{{n{n.id}[{w - 1 - k}:0], {k}'d0}}")
    more = "else" if count >= r.sched.ii else f"else if ({ph} < {count})"
    return f"    if ({ph} == 0) n{n.id} <= {term};\n    {more} n{n.id} <= {prev} + {term};"


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


def _rom_table(n: Node) -> str:
    """The function of a ``rom`` node: a case over the addresses its arguments can form that
    hold a value other than 0 (the others are never looked up, or hold 0)."""
    bits = sum(a.width for a in n.args)
    entries = n.params["entries"]
    cases = [(lit(a, bits), entries[a]) for a in reachable_addresses(n.args) if entries[a]]
    return _case_function(f"n{n.id}_f", bits, n.width, cases)


def _rom(tid: int, t: dict) -> str:
    """A lookup table: a ``case`` over its entries up to ``cost.CASE_BITS`` input bits (kept in
    logic: Yosys would otherwise make block RAMs of a large one read from a register), beyond
    that a chain of comparisons where its runs of equal entries are few."""
    iw, lo = t["in_w"], t["lo"]
    runs = _runs(t["entries"])
    if iw > cost.CASE_BITS and len(runs) * RUNS_PER_ENTRY < len(t["entries"]):
        return _rom_of_runs(tid, t, runs)
    return _case_function(f"rom{tid}", iw, t["out_w"], [(lit(lo + j, iw), v) for j, v in enumerate(t["entries"])],
                          '(* rom_style = "logic" *) ')


def _case_function(name: str, iw: int, ow: int, cases: list[tuple[str, int]], attribute: str = "") -> str:
    """A Verilog function of one ``iw``-bit argument: a ``case`` over ``(label, value)`` pairs,
    0 for any other argument.  Yosys maps a case of constants to LUTs in seconds, where the same
    table as a bit-select of a constant takes it minutes (measured, Yosys 0.23)."""
    lines = [f"  function [{ow - 1}:0] {name};", f"    input [{iw - 1}:0] x;", "    begin",
             f"      {attribute}case (x)"]
    lines += [f"        {label}: {name} = {lit(v, ow)};" for label, v in cases]
    lines += [f"        default: {name} = {lit(0, ow)};", "      endcase", "    end", "  endfunction"]
    return "\n".join(lines)


#: a table of more input bits than :data:`~hgq_fpga.backends.rtl.cost.CASE_BITS` is written as
#: comparisons on its runs of equal entries when it has fewer than one run per this many entries
#: (a softmax's exp and reciprocal tables over 2^16 codes: a case that long takes Yosys minutes)
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


def _valid(lat: int, ii: int = 1, register_inputs: bool = False) -> list[str]:
    """The valid pipeline: each accepted sample's flag delayed by ``lat`` clocks (a wire for
    ``lat = 0``).  With ``ii > 1`` a phase counter runs through 0 .. ii-1 and ``in_ready`` is high
    in one cycle of ``ii``: a sample is accepted when ``in_valid`` and ``in_ready`` are both high."""
    take = "in_valid"
    lines = []
    if ii > 1:
        pb = max(1, (ii - 1).bit_length())
        ready = (ii - int(register_inputs)) % ii
        take = "accept"
        lines += [f"  // a new sample every {ii} clock cycles: in_ready is high in one cycle of {ii}",
                  f"  reg [{pb - 1}:0] phase;",
                  "  always @(posedge clk) begin",
                  f"    if (rst) phase <= {lit(0, pb)};",
                  f"    else phase <= (phase == {lit(ii - 1, pb)}) ? {lit(0, pb)} : phase + {lit(1, pb)};",
                  "  end",
                  f"  assign in_ready = (phase == {lit(ready, pb)});",
                  "  wire accept = in_valid & in_ready;", ""]
    if lat == 0:
        return lines + ["  // combinational: no clock cycle from input to output", f"  assign out_valid = {take};", ""]
    return lines + [f"  // latency {lat} clock cycles, a new sample every {'clock' if ii == 1 else f'{ii} clocks'} (II = {ii})",
                    f"  reg [{lat - 1}:0] valid_sr;",
                    "  always @(posedge clk) begin",
                    "    if (rst) valid_sr <= " + lit(0, lat) + ";",
                    f"    else valid_sr <= {{valid_sr[{lat - 2}:0], {take}}};" if lat > 1 else
                    f"    else valid_sr <= {take};",
                    "  end",
                    f"  assign out_valid = valid_sr[{lat - 1}];", ""]


def _phases(r: _Refs) -> list[str]:
    """``ph<r>``: the phase of the sample in stage ``r`` (mod ii) of the design, from the counter."""
    ii = r.sched.ii
    pb = max(1, (ii - 1).bit_length())
    out = []
    for k in sorted(r.phases):
        if k == 0:
            expr = "phase"
        elif ii == 1 << pb:
            expr = f"phase - {lit(k, pb)}"
        else:
            expr = f"(phase >= {lit(k, pb)}) ? phase - {lit(k, pb)} : phase + {lit(ii - k, pb)}"
        out.append(f"  wire [{pb - 1}:0] ph{k} = {expr};")
    return out


def emit_module(low: Lowered, nodes: list[Node], sched: Schedule, top: str, header: str) -> str:
    """The text of module ``top``: ports, optional input registers, staged logic, pipeline
    registers and optional output registers."""
    r = _Refs(sched)
    out_kind = "reg" if sched.register_outputs else "wire"
    ports = ["input wire clk", "input wire rst", "input wire in_valid"]
    ports += [f"input wire {_decl(p.width)}{p.name}" for p in low.inputs if p.width]
    ports += ["output wire out_valid"] + (["output wire in_ready"] if sched.ii > 1 else [])
    ports += [f"output {out_kind} {_decl(p.width)}{p.name}" for p in low.outputs if p.width]
    out = [header, f"module {top} (", ",\n".join("  " + p for p in ports), ");", ""]
    out += _valid(sched.latency, sched.ii, sched.register_inputs)
    for tid, t in enumerate(low.net.tables):
        out += [_rom(tid, t), ""]
    regs, assigns = [], []
    nodes = sched.nodes if sched.nodes is not None else nodes
    read = {a.id for n in nodes for a in n.args} | {n.id for ns in low.output_nodes for n in ns}
    for n in nodes:
        if n.kind == "phase" or (n.kind == "input" and n.id not in read):
            continue                                   # the counter; an input nothing depends on
        if n.kind in ("acc", "hold"):
            out.append(f"  reg {_decl(n.width)}n{n.id};")
            regs.append(_register(n, r))
        elif n.kind == "input":
            bits = f"{n.params['port']}[{n.params['offset'] + n.width - 1}:{n.params['offset']}]"
            if sched.register_inputs:
                out.append(f"  reg {_decl(n.width)}n{n.id};")
                regs.append(f"    n{n.id} <= {bits};")
            else:
                assigns.append(f"  wire {_decl(n.width)}n{n.id} = {bits};")
        else:
            if n.kind == "rom":
                assigns.append(_rom_table(n))
            attr = USE_DSP[n.params["bind"]] if n.kind == "mul" else ""
            text = _expr(n, r, sched.stage[n.id])
            assigns += r.aux
            r.aux.clear()
            assigns.append(f"  {attr}wire {_decl(n.width)}n{n.id} = {text};")
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
    out += [""] + _phases(r) + assigns
    if regs:
        out += ["", "  always @(posedge clk) begin"] + regs + ["  end"]
    out += ["", "endmodule", ""]
    return "\n".join(out)

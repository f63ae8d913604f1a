"""A scalar netlist: every element of every IR tensor as one node with an exact integer range.

The RTL backend lowers the firmware IR (docs/method.md) element by element into nodes of a few
kinds — adders of shifted, signed terms, rounding shifts, overflow handling, ReLU, max, table
lookup, partial products and multipliers of two variables — and then schedules and prints them
as Verilog.  Each node carries the exact range ``[lo, hi]`` of its raw integer code, from which
its wire width follows: signed two's complement when ``lo < 0``, unsigned otherwise, never a bit
more than the range needs.  A node whose range is one point is a constant and produces no logic.

Ranges of sums are exact: an adder node keeps its value as a linear form over the non-adder
nodes it reads (``Σ c·x + const``), and the range of a linear form over independent inputs is
the sum of the per-term ranges.  Every other kind is monotone or clipped, so its range follows
from its input's range.  (Partial products of one product are not independent: their sum's range
may hold more than the product's, never less, and the lowering wraps it to the IR type.)
``alias`` nodes give a tensor element the exact width its IR type declares.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hgq_fpga.fixed import check_overflow, check_round

#: Adder-depth cost of each node kind, the unit of the pipelining budget.  A node whose params
#: hold ``"levels"`` costs that many instead (a product of two variables: :func:`mul_levels`).
COST = {"input": 0, "const": 0, "alias": 0, "add": 1, "shr": 1, "ovf": 1, "relu": 0, "max": 1,
        "table": 1, "mul": 1, "gate": 0, "pick": 0, "rom": 1, "phase": 0, "lane": 1, "acc": 1, "hold": 0}

#: node kinds whose value changes from clock cycle to clock cycle within one sample (II > 1)
STREAMS = ("phase", "lane")
#: node kinds that are registers updated at given phases (II > 1): their value is the sample's
#: own once complete, whatever their operand's kind
REGISTERS = ("acc", "hold")


def mul_levels(wa: int, wb: int) -> int:
    """Adder levels charged for a multiplier node of a ``wa``-bit and a ``wb``-bit variable: as
    its shift-and-add form, the wider operand gated by each bit of the narrower one and summed by a
    balanced tree (``ceil(log2(min(wa, wb)))`` levels), plus one for the final carry; an 8 x 8
    product counts 4 levels (about 4.8 ns at 1.2 ns a level), near an unregistered DSP48E2
    multiply."""
    n = max(1, min(int(wa), int(wb)))
    return 1 + (n - 1).bit_length()


def range_bits(lo: int, hi: int) -> tuple[int, int]:
    """``(signed, width)`` of the narrowest two's-complement or unsigned code holding [lo, hi]."""
    if lo > hi:
        raise ValueError(f"internal: empty range [{lo}, {hi}]")
    if lo == 0 and hi == 0:
        return 0, 0
    if lo < 0:
        return 1, max(max(hi, 0).bit_length(), (-lo - 1).bit_length()) + 1
    return 0, hi.bit_length()


def type_bounds(k: int, w: int) -> tuple[int, int]:
    """Smallest and largest code of a ``(k, width w)`` type (``(0, 0)`` for ``w == 0``)."""
    if w == 0:
        return 0, 0
    return (-(1 << (w - 1)) if k else 0), (1 << (w - k)) - 1


def round_shift(m: int, s: int, mode: str) -> int:
    """``m / 2**s`` rounded with ap_fixed ``mode`` (``s > 0``), as :func:`hgq_fpga.fixed.cast_raw`."""
    fl = m >> s
    rem = m - (fl << s)
    half = 1 << (s - 1)
    inexact, tie, above, neg = rem != 0, rem == half, rem > half, m < 0
    up = {"TRN": False, "TRN_ZERO": inexact and neg, "RND": above or tie,
          "RND_ZERO": above or (tie and neg), "RND_MIN_INF": above,
          "RND_INF": above or (tie and not neg), "RND_CONV": above or (tie and fl & 1 == 1)}[mode]
    return fl + int(up)


def overflow(m: int, k: int, w: int, mode: str) -> int:
    """Fit code ``m`` into a ``(k, w)`` type with ap_fixed overflow ``mode``."""
    if w == 0:
        return 0
    lo, hi = type_bounds(k, w)
    if mode == "WRAP":
        r = m & ((1 << w) - 1)
        return r - (1 << w) if r > hi else r
    if mode == "SAT":
        return min(max(m, lo), hi)
    if mode == "SAT_SYM":
        return min(max(m, -hi if (k and w > 1) else lo), hi)
    return m if lo <= m <= hi else 0


def code_of(bits: int, signed: int, width: int) -> int:
    """The value of the ``width``-bit code ``bits`` (two's complement when ``signed``)."""
    return bits - (1 << width) if signed and bits >> (width - 1) & 1 else bits


def reachable_addresses(args) -> list[int]:
    """Addresses of a ROM over ``args`` (each ``width`` bits, ``args[0]`` lowest) whose every field
    holds a code inside that argument's range."""
    addrs = [0]
    at = 0
    for a in args:
        codes = [c & ((1 << a.width) - 1) for c in range(a.lo, a.hi + 1)]
        addrs = [base | (c << at) for base in addrs for c in codes]
        at += a.width
    return addrs


def sat_low(k: int, w: int, mode: str) -> int:
    """The lowest code a saturating ``mode`` lets through."""
    lo, hi = type_bounds(k, w)
    return -hi if (mode == "SAT_SYM" and k and w > 1) else lo


@dataclass(eq=False)
class Node:
    """One scalar signal.  ``args``: operand nodes; ``params``: what the kind needs to print."""

    id: int
    kind: str
    args: tuple
    lo: int
    hi: int
    signed: int
    width: int
    params: dict = field(default_factory=dict)
    form: dict | None = None          # adders: {base node id: coefficient}
    const: int = 0                    # adders: constant part of the form
    level: int = 0                    # adder depth from the inputs (for balancing trees)

    @property
    def is_const(self) -> bool:
        return self.kind == "const"


@dataclass(frozen=True)
class Term:
    """``sign · (node << shift)``, an operand of an adder."""

    node: Node
    shift: int = 0
    sign: int = 1


class Netlist:
    """Nodes in creation order, which is a topological order."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._consts: dict[int, Node] = {}
        self.tables: list[dict] = []          # distinct ROMs: {'in_w', 'out_w', 'entries'}
        self._table_keys: dict = {}
        self._roms: dict[tuple, Node] = {}

    # ------------------------------------------------------------------ trial construction
    def mark(self) -> tuple[int, int]:
        """A point to :meth:`rollback` to: nodes made after it can be dropped again (a lowering
        builds alternatives, estimates their cost and keeps the cheapest)."""
        return len(self.nodes), len(self.tables)

    def rollback(self, mark: tuple[int, int]) -> None:
        """Forget every node (and table) made after ``mark``."""
        n, t = mark
        del self.nodes[n:]
        del self.tables[t:]
        self._consts = {v: c for v, c in self._consts.items() if c.id < n}
        self._table_keys = {k: i for k, i in self._table_keys.items() if i < t}
        self._roms = {k: r for k, r in self._roms.items() if r.id < n}

    # ------------------------------------------------------------------ construction helpers
    def _new(self, kind: str, args: tuple, lo: int, hi: int, params: dict | None = None,
             width: tuple[int, int] | None = None) -> Node:
        signed, w = range_bits(lo, hi) if width is None else width
        level = max((a.level for a in args), default=0) + (params or {}).get("levels", COST[kind])
        n = Node(len(self.nodes), kind, tuple(args), lo, hi, signed, w, params or {}, level=level)
        self.nodes.append(n)
        return n

    def const(self, value: int) -> Node:
        value = int(value)
        if value not in self._consts:
            self._consts[value] = self._new("const", (), value, value, {"value": value})
            self._consts[value].level = 0
        return self._consts[value]

    def input(self, k: int, w: int, port: str, offset: int) -> Node:
        """The code of one live input element, bits ``offset .. offset+w-1`` of ``port``."""
        lo, hi = type_bounds(k, w)
        return self._new("input", (), lo, hi, {"port": port, "offset": offset}, width=(k, w))

    def alias(self, src: Node, k: int, w: int) -> Node:
        """``src`` on a wire of exactly the IR type's width ``(k, w)``."""
        lo, hi = type_bounds(k, w)
        if not (lo <= src.lo and src.hi <= hi):
            raise ValueError(f"internal: range [{src.lo}, {src.hi}] does not fit type (k={k}, w={w})")
        if src.is_const or w == 0:
            return src if w else self.const(0)
        if (src.signed, src.width) == (k, w):
            return src
        n = self._new("alias", (src,), src.lo, src.hi, width=(k, w))
        n.form, n.const = self._form_of(src)
        return n

    def narrow(self, src: Node, lo: int, hi: int) -> Node:
        """``src`` on a wire of the range ``[lo, hi]``: its low bits, which is exact only because the
        caller knows that ``src``'s value lies in ``[lo, hi]`` (a sum whose bound counts partial
        sums the final value never reaches).  A new base of linear forms: later ranges start
        from ``[lo, hi]``."""
        if lo == hi:
            return self.const(lo)
        if src.is_const or (src.lo >= lo and src.hi <= hi):
            return src
        return self._new("alias", (src,), lo, hi)

    def _form_of(self, n: Node) -> tuple[dict, int]:
        if n.is_const:
            return {}, n.params["value"]
        if n.form is not None:
            return n.form, n.const
        return {n.id: 1}, 0

    def add(self, a: Term, b: Term | None = None) -> Node:
        """``a + b`` (or ``a`` alone: a shift or negation) as one adder node."""
        terms = [t for t in (a, b) if t is not None]
        form: dict[int, int] = {}
        const = 0
        for t in terms:
            f, c = self._form_of(t.node)
            scale = t.sign << t.shift if t.sign > 0 else -(1 << t.shift)
            const += c * scale
            for key, coef in f.items():
                v = form.get(key, 0) + coef * scale
                if v:
                    form[key] = v
                else:
                    form.pop(key, None)
        if not form:
            return self.const(const)
        lo = hi = const
        for key, coef in form.items():
            base = self.nodes[key]
            lo += coef * (base.lo if coef > 0 else base.hi)
            hi += coef * (base.hi if coef > 0 else base.lo)
        live = [t for t in terms if not (t.node.is_const and t.node.params["value"] == 0)]
        if len(live) == 1 and live[0].shift == 0 and live[0].sign == 1 and not live[0].node.is_const:
            return live[0].node
        n = self._new("add", tuple(t.node for t in live), lo, hi,
                      {"shifts": tuple(t.shift for t in live), "signs": tuple(t.sign for t in live)})
        n.form, n.const = form, const
        return n

    def cast(self, src: Node, f_in: int, k: int, i: int, f: int, round: str, overflow_mode: str) -> Node:
        """ap_fixed cast of ``src`` (at ``f_in`` fractional bits) to ``(k, i, f)``."""
        round, overflow_mode = check_round(round), check_overflow(overflow_mode)
        w = k + i + f
        if w == 0:
            return self.const(0)
        s = f_in - f
        if src.is_const:
            v = src.params["value"]
            v = round_shift(v, s, round) if s > 0 else v << -s
            return self.const(overflow(v, k, w, overflow_mode))
        if s > 0:
            lo, hi = round_shift(src.lo, s, round), round_shift(src.hi, s, round)
            v = self.const(lo) if lo == hi else self._new("shr", (src,), lo, hi, {"s": s, "round": round})
        else:
            v = self.add(Term(src, -s)) if s < 0 else src
        return self.fit(v, k, w, overflow_mode)

    def fit(self, v: Node, k: int, w: int, mode: str) -> Node:
        """Overflow handling of ``v`` into ``(k, w)``, then the IR-width wire."""
        if v.is_const:
            return self.const(overflow(v.params["value"], k, w, mode))
        lo, hi = type_bounds(k, w)
        # SAT_SYM also clips the type's own lowest code (ap_fixed's symmetric range)
        if sat_low(k, w, mode) <= v.lo and v.hi <= hi:
            return self.alias(v, k, w)
        if mode == "WRAP":
            rlo, rhi = lo, hi
        else:
            rlo, rhi = max(v.lo, sat_low(k, w, mode)), min(v.hi, hi)
            if mode == "SAT_ZERO":
                rlo, rhi = min(max(v.lo, lo), 0), max(min(v.hi, hi), 0)
            if rlo > rhi:                      # every value is out of range
                return self.const(overflow(v.lo, k, w, mode))
        return self._new("ovf", (v,), rlo, rhi, {"mode": mode, "k": k, "w": w}, width=(k, w))

    def relu(self, x: Node) -> Node:
        if x.is_const:
            return self.const(max(x.params["value"], 0))
        if x.lo >= 0:
            return x
        if x.hi <= 0:
            return self.const(0)
        return self._new("relu", (x,), 0, x.hi)

    def max(self, a: Term, b: Term) -> Node:
        """``max(a.node << a.shift, b.node << b.shift)`` (terms with sign +1)."""
        alo, ahi = a.node.lo << a.shift, a.node.hi << a.shift
        blo, bhi = b.node.lo << b.shift, b.node.hi << b.shift
        if alo >= bhi:
            return self.add(a)
        if blo >= ahi:
            return self.add(b)
        return self._new("max", (a.node, b.node), max(alo, blo), max(ahi, bhi),
                         {"shifts": (a.shift, b.shift)})

    def mul(self, a: Node, b: Node, bind: str = "dsp") -> Node:
        """``a · b`` of two variables as one multiplier, exact (its width is at most the sum of
        theirs); ``bind`` (``"dsp"``, or ``"auto"``: the synthesis tool chooses) is the binding
        the Verilog asks for.  Its depth is :func:`mul_levels`."""
        if a.is_const or b.is_const:
            raise ValueError("internal: a product with a constant is built from shifts and adds")
        if a.id == b.id:              # a square: never negative
            lo = 0 if a.lo <= 0 <= a.hi else min(a.lo * a.lo, a.hi * a.hi)
            hi = max(a.lo * a.lo, a.hi * a.hi)
        else:
            corners = [x * y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
            lo, hi = min(corners), max(corners)
        if lo == hi:
            return self.const(lo)
        return self._new("mul", (a, b), lo, hi, {"levels": mul_levels(a.width, b.width), "bind": bind})

    def gate(self, a: Node, b: Node, bit: int) -> Node:
        """``a`` where bit ``bit`` of ``b``'s code is set, else 0: a partial product of ``a · b``
        built from adders (no depth of its own: the gating shares the adder's LUT)."""
        return self._new("gate", (a, b), min(a.lo, 0), max(a.hi, 0), {"bit": bit})

    def pick(self, a: Node, a3: Node, b: Node, bit: int) -> Node:
        """``0``, ``a``, ``2a`` or ``a3 = 3a`` as bits ``bit + 1, bit`` of ``b``'s code read: a
        radix-4 partial product of ``a · b``, one adder operand where gates would need two (no
        depth of its own: with the two select bits, three bits of the choices and one bit of the
        other operand it shares the LUT6 of the adder it feeds)."""
        return self._new("pick", (a, a3, b), min(0, 3 * a.lo), max(0, 3 * a.hi), {"bit": bit})

    def rom(self, args: tuple[Node, ...], entries: tuple[int, ...]) -> Node:
        """A lookup table of the bits of several nodes: the address is their codes side by side
        (``args[0]`` in the lowest bits, each ``width`` bits, two's complement where signed) and
        the value is ``entries[address]``.  Only addresses that the arguments' ranges can form
        count for the node's range (the others are never looked up).  Equal ROMs of equal
        arguments are one node."""
        args = tuple(args)
        if len(entries) != 1 << sum(a.width for a in args):
            raise ValueError(f"internal: {len(entries)} ROM entries for {sum(a.width for a in args)} address bits")
        reach = reachable_addresses(args)
        used = [entries[a] for a in reach]
        lo, hi = min(used), max(used)
        if lo == hi:
            return self.const(lo)
        if len(reach) < len(entries):       # never looked up: the lowest value, not a wider range
            keep = set(reach)
            entries = tuple(v if a in keep else lo for a, v in enumerate(entries))
        key = (tuple(a.id for a in args), tuple(entries))
        if key not in self._roms:
            self._roms[key] = self._new("rom", args, lo, hi, {"entries": tuple(entries)})
        return self._roms[key]

    # ------------------------------------------------------------------ time-multiplexing (II > 1)
    def phase(self, n: int) -> Node:
        """The phase ``t`` (0 .. n-1) of the clock cycle within the sample that a node works on:
        a node of stage ``s`` sees phase ``t`` in the ``t``-th cycle after the sample reaches it
        (the design takes a new sample every ``n`` cycles, so the phase is a counter)."""
        key = ("phase", n)
        if key not in self._roms:
            self._roms[key] = self._new("phase", (), 0, n - 1, {"n": n})
        return self._roms[key]

    def lane(self, picks: list, count: int, registered: bool = False) -> Node:
        """A value that changes with the phase: at phase ``t`` it is ``picks[t]``.

        A pick is ``None`` (0) or ``(node, lo, width, mode)``: with mode ``"code"`` the node's
        value (``lo`` 0, ``width`` its width); with ``"bits"`` bits ``lo .. lo+width-1`` of the
        node's code read as an unsigned number, where a signed node's code has its top bit
        inverted first (its value plus ``2^(w-1)``: an unsigned code with the same bits below).
        Only the first ``count`` phases are used; the others may hold anything.  A
        ``registered`` lane ends its pipeline stage: what reads it takes it from a register."""
        values = []
        for pick in picks[:count]:
            if pick is None:
                values += [0, 0]
            elif pick[3] == "code":
                values += [pick[0].lo, pick[0].hi]
            else:
                x, lo_bit, width = pick[:3]
                top = x.hi + ((1 << (x.width - 1)) if x.signed else 0)
                values += [0, min((1 << width) - 1, top >> lo_bit)]
        lo, hi = min(values), max(values)
        if lo == hi:
            return self.const(lo)
        return self._new("lane", tuple(p[0] for p in picks if p is not None), lo, hi,
                         {"picks": tuple(picks), "count": count, "registered": bool(registered)})

    def acc(self, p: Node, shift: int, count: int, lo: int, hi: int) -> Node:
        """A register that sums ``count`` phases of ``p``: at phase 0 it takes ``p``, at the next
        ``count - 1`` phases ``(itself << shift) + p``, then keeps its value.  ``[lo, hi]`` must
        hold every partial sum.  Its value is the sample's from ``count`` cycles after its stage."""
        if p.is_const:
            raise ValueError("internal: accumulating a constant")
        n = self._new("acc", (p,), lo, hi, {"shift": shift, "count": count})
        return n

    def hold(self, x: Node) -> Node:
        """A register that takes ``x`` once per sample and keeps it for the sample's ``n`` cycles."""
        return self._new("hold", (x,), x.lo, x.hi, width=(x.signed, x.width))

    def table(self, x: Node, in_k: int, in_w: int, entries: tuple[int, ...], lo_code: int,
              out_k: int, out_w: int, key) -> Node:
        """ROM lookup: output code ``entries[code - lo_code]`` for input code ``code``; ``key``
        names the ROM (elements with equal keys share one)."""
        if out_w == 0:
            return self.const(0)
        if x.is_const:
            return self.const(entries[x.params["value"] - lo_code])
        if x.width != in_w:
            raise ValueError(f"internal: table input is {x.width} bits, its type {in_w}")
        if key not in self._table_keys:
            self._table_keys[key] = len(self.tables)
            self.tables.append({"in_w": in_w, "out_w": out_w, "lo": lo_code, "entries": entries})
        tid = self._table_keys[key]
        vals = entries[x.lo - lo_code: x.hi - lo_code + 1]
        runs = 1 + sum(1 for u, v in zip(vals, vals[1:]) if u != v)
        return self._new("table", (x,), min(vals), max(vals), {"table": tid, "runs": runs},
                         width=(out_k, out_w))

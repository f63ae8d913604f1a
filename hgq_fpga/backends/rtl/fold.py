"""Time-multiplexed Dense and Conv for II > 1: the same columns ``y_o = Σ_j c_jo·x_j + b_o`` in
``n`` clock cycles with a fraction of the logic, one of two ways (or fully parallel), whichever
the LUT estimate (:mod:`hgq_fpga.backends.rtl.cost`) finds cheapest for the layer:

- **bit-serial** (distributed arithmetic): every input is cut into ``T = ⌈w/k⌉`` slices of
  ``k = ⌈w/n⌉`` bits, most significant first (``w``: the widest input).  In phase ``t`` a *lane*
  per input carries its ``t``-th slice, and the columns are built on the lanes exactly as at
  II = 1 (CSD, shared sub-expressions, LUT6 partial sums: :mod:`~hgq_fpga.backends.rtl.cmvm`),
  only ``k`` bits wide: the constants are the same in every phase.  A shift-accumulator per
  column adds them up: ``acc ← (acc << k) + p``.  A signed input is sliced as its code plus
  ``2^(w-1)`` (its top bit inverted: unsigned, so every slice is a plain number), and the
  offset ``Σ c·2^(w-1)`` joins the column's constant.
- **input-serial**: the inputs are dealt into lanes, ``n`` per lane, and in phase ``t`` lane ``l``
  carries its ``t``-th input whole.  The constants now change with the phase, so each column sums
  LUT6 partial sums whose address is the phase and a group of lanes (``6 - ⌈log2 n⌉`` lane bits,
  :func:`~hgq_fpga.backends.rtl.cmvm.partial_sum` with the phase as one more input); an
  accumulator per column adds the ``n`` phases.  This is the one that helps 1-bit inputs, which
  bit-serial cannot cut further.

In both, the layer's result is complete ``T`` (or ``n``) cycles after its lanes start; the
schedule (:func:`~hgq_fpga.backends.rtl.schedule.schedule_folded`) registers the lanes' operands
where they would not last that long.
"""

from __future__ import annotations

from hgq_fpga.backends.rtl.arith import sum_terms
from hgq_fpga.backends.rtl.cmvm import Column, CmvmOptions, first_fit, lower_cmvm, rom_term
from hgq_fpga.backends.rtl.cost import luts
from hgq_fpga.backends.rtl.netlist import Netlist, Node, Term, code_of, reachable_addresses


def _inputs(columns: list[Column]) -> list[Node]:
    """The distinct input nodes of the columns, in order of first use."""
    seen: dict[int, Node] = {}
    for items in columns:
        for x, _ in items:
            seen.setdefault(x.id, x)
    return list(seen.values())


def _offset(x: Node) -> int:
    """What the bit-serial slices add to a code: ``2^(w-1)`` for a signed input."""
    return 1 << (x.width - 1) if x.signed else 0


def bit_serial(net: Netlist, columns: list[Column], consts: list[int], opts: CmvmOptions, n: int,
               ii: int) -> list[Node] | None:
    """The columns in ``T = ⌈w/k⌉ <= n`` phases of ``k``-bit slices; None when one slice is all."""
    xs = _inputs(columns)
    if not xs:
        return None
    wmax = max(x.width for x in xs)
    k = -(-wmax // n)
    count = -(-wmax // k)
    if count <= 1:
        return None
    lanes = {}
    for x in xs:
        picks = [(x, (count - 1 - t) * k, k, "bits") for t in range(count)]
        registered = _registered(x, k, count, ii, opts.lut_inputs)
        lanes[x.id] = net.lane(picks + [picks[-1]] * (ii - count), count, registered=registered)
    lane_cols = [[(lanes[x.id], c) for x, c in items if not lanes[x.id].is_const] for items in columns]
    sums = lower_cmvm(net, lane_cols, [0] * len(columns), opts)
    out = []
    for items, const, p in zip(columns, consts, sums):
        if p.is_const:                     # every input of the column is constant 0 after slicing
            out.append(net.const(const + sum(c * (x.lo + _offset(x)) for x, c in items)))
            continue
        top = [c * (x.hi + _offset(x)) for x, c in items]
        acc = net.acc(p, k, count, sum(min(0, v) for v in top), sum(max(0, v) for v in top))
        y = sum_terms(net, [Term(acc)], const - sum(c * _offset(x) for x, c in items))
        out.append(net.narrow(y, *_span(items, const)))
    return out


def _registered(x: Node, k: int, count: int, ii: int, lut_inputs: int) -> bool:
    """Whether the bit-serial lane of ``x`` (``k`` bits, ``count`` phases) ends its pipeline
    stage.  ABC maps for depth first and may copy the logic in front of a lane's multiplexer into
    every partial-sum ROM that reads the lane, as with input-serial lanes.  Measured with Yosys:
    on a digits MLP at II 4 registering its lanes took 7,282 LUTs to 5,039 (estimate 4,013): those
    after the first layer's accumulator, and 1-bit lanes of input ports whose multiplexer is one
    LUT6 (the phase bits and ``count`` choices).  Other lanes stay unregistered: the register cost
    a 6-bit MLP's 2-bit port lanes 5 %, its 1-bit port lanes of 6 phases at II 8 7 %, and lanes
    after an input cast 7 %."""
    one_lut = count + max(1, (ii - 1).bit_length()) <= lut_inputs
    return _after_fold(x) or (k == 1 and x.kind == "input" and one_lut)


def _after_fold(x: Node, reach: int = 16) -> bool:
    """Whether ``x`` is computed, within ``reach`` nodes, from an accumulator: a folded layer's
    output."""
    seen, todo = set(), [x]
    while todo and len(seen) < reach:
        n = todo.pop()
        if n.kind == "acc":
            return True
        if n.id not in seen and n.kind not in ("input", "hold", "lane"):
            seen.add(n.id)
            todo += [a for a in n.args if isinstance(a, Node)]
    return False


def _span(items: Column, const: int) -> tuple[int, int]:
    """The range of ``Σ c·x + const`` over the inputs' ranges: a column's value, which partial
    sums of the accumulators may exceed."""
    ends = [(c * x.lo, c * x.hi) for x, c in items]
    return const + sum(min(e) for e in ends), const + sum(max(e) for e in ends)


def input_serial(net: Netlist, columns: list[Column], consts: list[int], opts: CmvmOptions, n: int,
                 ii: int) -> list[Node] | None:
    """The columns in ``n`` phases, ``1/n`` of the inputs in each; None when a lane would not fit
    a LUT6 beside the phase bits."""
    xs = sorted(_inputs(columns), key=lambda x: (-x.width, -x.signed))
    phase_bits = max(1, (ii - 1).bit_length())
    room = opts.lut_inputs - phase_bits
    if not xs or len(xs) < 2 or max(x.width for x in xs) > room:
        return None
    count = min(n, len(xs))
    dealt = [xs[i:i + count] for i in range(0, len(xs), count)]
    phase = net.phase(ii)
    lanes = []
    for chunk in dealt:
        picks = [(x, 0, x.width, "code") for x in chunk] + [None] * (count - len(chunk))
        # registered: ABC maps for depth first and, given the chance, copies each lane's
        # multiplexer into every partial-sum ROM that reads it (2.9x the LUTs of a 784-input
        # layer at II = 4, against 1.01x with the register)
        lane = net.lane(picks + [picks[-1]] * (ii - count), count, registered=True)
        lanes.append((lane, chunk))
    out = []
    for items, const in zip(columns, consts):
        coef = {x.id: c for x, c in items}
        used = [(lane, chunk) for lane, chunk in lanes
                if not lane.is_const and any(x.id in coef for x in chunk)]
        used.sort(key=lambda it: _lane_key(it[1], coef))
        groups = first_fit(used, lambda it: it[0].width, room)
        terms, offset = [], 0
        for group in groups:
            term, lo = _phase_sum(net, phase, group, coef, count, ii)
            terms.append(term)
            offset += lo
        if not terms:
            out.append(net.const(const))
            continue
        p = sum_terms(net, terms)
        lo, hi = _span(items, const)
        # every phase adds p >= 0: each partial sum lies between 0 and the final value
        acc = net.acc(p, 0, count, 0, hi - const - offset)
        out.append(net.narrow(sum_terms(net, [Term(acc)], const + offset), lo, hi))
    return out


def _lane_key(chunk: list[Node], coef: dict) -> tuple[int, int]:
    """Sort key of a lane in one column: the trailing zeros its weights there share, then the
    largest weight, both descending.  Lanes of like weights then share a ROM, whose values share a
    power of two (a shift: fewer bits) and span a narrower range (fmnist, II 4: 15 % fewer
    estimated LUTs than lanes in input order)."""
    common = big = 0
    for x in chunk:
        c = abs(coef.get(x.id, 0))
        common |= c
        big = max(big, c)
    return -(common & -common).bit_length(), -big


def _phase_sum(net: Netlist, phase: Node, group: list, coef: dict, count: int, ii: int) -> tuple[Term, int]:
    """``Σ_lanes c(phase)·lane`` as one ROM of the phase and the lanes' bits (unsigned, shifted
    by the power of two its values share) and the sum over the phases of its offsets: each
    phase's smallest value is subtracted from that phase's entries, so the ROM is as wide as the
    widest phase's range, not as the range of all phases together."""
    args = (phase,) + tuple(lane for lane, _ in group)
    pb = phase.width
    entries = []
    for a in range(1 << (pb + sum(lane.width for lane, _ in group))):
        t = a & ((1 << pb) - 1)
        v, at = 0, pb
        if t < count:
            for lane, chunk in group:
                bits = (a >> at) & ((1 << lane.width) - 1)
                if t < len(chunk):
                    v += coef.get(chunk[t].id, 0) * code_of(bits, lane.signed, lane.width)
                at += lane.width
        entries.append(v if t < count else None)
    mask = (1 << pb) - 1
    lows: dict[int, int] = {}                 # phase -> its smallest reachable value
    for a in reachable_addresses(args):
        if entries[a] is not None:
            lows[a & mask] = min(lows.get(a & mask, entries[a]), entries[a])
    # unreachable or unused addresses: anything in range
    values = [max(v - lows[a & mask], 0) if v is not None and (a & mask) in lows else 0
              for a, v in enumerate(entries)]
    return rom_term(net, args, values), sum(lows.values())


#: the ways to build a layer at II > 1, tried in this order (ties keep the earlier)
WAYS = ("parallel", "bit_serial", "input_serial")


def lower_folded(net: Netlist, columns: list[Column], consts: list[int], opts: CmvmOptions, n: int,
                 ii: int) -> tuple[str, list[Node]]:
    """The columns of one layer position, in at most ``n`` phases of a design with II ``ii``:
    the cheapest of :data:`WAYS` by estimated LUTs, and its name."""
    build = {"parallel": lambda: lower_cmvm(net, columns, consts, opts),
             "bit_serial": lambda: bit_serial(net, columns, consts, opts, n, ii),
             "input_serial": lambda: input_serial(net, columns, consts, opts, n, ii)}
    best, best_cost = "parallel", None
    for way in WAYS:
        mark = net.mark()
        made = build[way]()
        cost = None if made is None else luts(net.nodes[mark[0]:])
        net.rollback(mark)
        if cost is not None and (best_cost is None or cost < best_cost):
            best, best_cost = way, cost
    return best, build[best]()

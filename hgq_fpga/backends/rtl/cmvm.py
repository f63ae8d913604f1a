"""Constant matrix-vector products: CSD terms and shared sub-expressions, or few-bit inputs packed
into LUT6 partial sums, whichever the LUT estimate (:mod:`hgq_fpga.backends.rtl.cost`) finds cheaper.

A column ``y_o = Σ_j c_jo·x_j + b_o`` is built one of two ways, per input:

- **CSD**: ``x_j·c_jo`` is one shifted, signed copy of ``x_j`` per canonical signed digit of
  ``c_jo``; pairs of terms that several columns hold become one shared adder (CSE, see
  :func:`~hgq_fpga.backends.rtl.arith.share_pairs`); each column is a balanced adder tree.
- **packed**: inputs of the column with at most ``lut_inputs`` bits *in total* (six 1-bit inputs,
  three 2-bit ones, a 2-bit and a 4-bit one...) form a group whose partial sum ``Σ_{j∈G} c_jo·x_j``
  is a ROM of their bits (:meth:`~hgq_fpga.backends.rtl.netlist.Netlist.rom`): each bit of the
  partial sum is one function of at most six input bits, one LUT6.  The ROM holds the partial sum
  minus its smallest value, divided by the power of two all its values share, so it is unsigned
  and as narrow as it can be; the offset joins the column's constant.  The partial sums then enter
  the column's adder tree like any other term.

Which inputs are packed, and how they are grouped, is chosen per layer (per output position of a
convolution): every input of at most ``max_bits`` bits, for the ``max_bits`` among the input
widths present and the grouping order (:data:`ORDERS`) that the LUT estimate finds cheapest
without CSE, against 0 (none).  Each candidate is built, its LUTs estimated and rolled back; the
cheapest is built again.  So CSE is kept where it wins (wide inputs, or columns that share much),
and packing is used where it wins (few-bit inputs).  A column's inputs are grouped first fit in
order of their weights, largest first, by magnitude (groups of similar weights give narrow
partial sums) or by trailing zeros (groups whose partial sums all end in zeros, which a shift
drops from the ROM: HGQ weights have per-weight fractional bits).
"""

from __future__ import annotations

from dataclasses import dataclass

from hgq_fpga.backends.rtl.arith import ProductCache, csd, share_pairs, sum_terms, times_const
from hgq_fpga.backends.rtl.cost import LUT_INPUTS, luts
from hgq_fpga.backends.rtl.netlist import Netlist, Node, Term, code_of, reachable_addresses

#: one column: ``(input node, integer coefficient)`` pairs, every coefficient non-zero
Column = list[tuple[Node, int]]


@dataclass(frozen=True)
class CmvmOptions:
    """How constant matrix-vector products are built (see the module doc)."""

    cse: bool = True
    share_products: bool = False
    pack: bool = True
    lut_inputs: int = LUT_INPUTS


def _magnitude(c: int) -> tuple[int, int]:
    """Sort key of a weight: its leading bit, then its lowest set bit (largest first)."""
    c = abs(c)
    return -c.bit_length(), -((c & -c).bit_length())


def _shift(c: int) -> tuple[int, int]:
    """Sort key of a weight: its lowest set bit, then its leading bit (largest first): groups whose
    weights share trailing zeros hold partial sums that share them too (a shift, not ROM bits)."""
    c = abs(c)
    return -((c & -c).bit_length()), -c.bit_length()


#: the orders in which a column's packable inputs are grouped (see the module doc)
ORDERS = {"magnitude": _magnitude, "shift": _shift}


def _groups(items: Column, max_bits: int, lut_inputs: int, order: str = "magnitude") -> list[Column]:
    """Groups of the packable inputs of one column, each of at most ``lut_inputs`` bits (first fit,
    in ``order`` of the weights, :data:`ORDERS`)."""
    key = ORDERS[order]
    cands = sorted((it for it in items if 0 < it[0].width <= max_bits), key=lambda it: key(it[1]))
    return first_fit(cands, lambda it: it[0].width, lut_inputs)


def first_fit(items: list, size, capacity: int) -> list[list]:
    """``items`` in groups of total ``size(item)`` at most ``capacity``, each item into the first
    group with room (in the given order)."""
    groups: list[list] = []
    room: list[int] = []
    for it in items:
        for g, free in enumerate(room):
            if size(it) <= free:
                groups[g].append(it)
                room[g] -= size(it)
                break
        else:
            groups.append([it])
            room.append(capacity - size(it))
    return groups


def partial_sum(net: Netlist, group: Column) -> tuple[Term, int]:
    """``Σ c·x`` over ``group`` as an unsigned ROM term plus a constant (the ROM's offset)."""
    args = tuple(x for x, _ in group)
    entries = []
    for a in range(1 << sum(x.width for x in args)):
        v, at = 0, 0
        for x, c in group:
            v += c * code_of((a >> at) & ((1 << x.width) - 1), x.signed, x.width)
            at += x.width
        entries.append(v)
    lo = min(entries[a] for a in reachable_addresses(args))
    shifted = [max(v - lo, 0) for v in entries]      # never-used addresses: anything in range
    return rom_term(net, args, shifted), lo


def rom_term(net: Netlist, args: tuple, values: list[int]) -> Term:
    """A ROM over ``args`` holding ``values`` (non-negative) divided by the power of two they all
    share, as a term shifted back by it: the ROM is as narrow as the values allow."""
    common = 0
    for v in values:
        common |= v
    shift = (common & -common).bit_length() - 1 if common else 0
    return Term(net.rom(args, tuple(v >> shift for v in values)), shift)


def _digits(c: int) -> int:
    return len(csd(c))


def _pack(net: Netlist, items: Column, max_bits: int, lut_inputs: int, order: str) -> tuple[list[Term], Column, int]:
    """The ROM terms of one column's packed groups, the inputs left to CSD, and the constant the
    ROM offsets add.  A group replacing fewer than three CSD terms is not packed: its ROM would
    cost as many LUTs as the adders it saves."""
    terms: list[Term] = []
    const = 0
    packed: set[int] = set()
    for group in _groups(items, max_bits, lut_inputs, order):
        if sum(_digits(c) for _, c in group) < 3:
            continue
        term, lo = partial_sum(net, group)
        terms.append(term)
        const += lo
        packed.update(id(x) for x, _ in group)
    return terms, [(x, c) for x, c in items if id(x) not in packed], const


def _build(net: Netlist, columns: list[Column], consts: list[int], opts: CmvmOptions, max_bits: int,
           order: str = "magnitude") -> list[Node]:
    """Every column's node, inputs of at most ``max_bits`` bits packed, grouped in ``order``."""
    share = ProductCache(net) if opts.share_products else None
    all_terms, totals = [], []
    for items, const in zip(columns, consts):
        terms: list[Term] = []
        if max_bits:
            terms, items, offset = _pack(net, items, max_bits, opts.lut_inputs, order)
            const += offset
        for x, c in items:
            terms += share.terms(x, c) if share else times_const(net, x, c)
        all_terms.append(terms)
        totals.append(const)
    if opts.cse:
        all_terms = share_pairs(net, all_terms)
    return [sum_terms(net, terms, const) for terms, const in zip(all_terms, totals)]


#: the largest share of an unshared build's LUTs that CSE has saved on any layer measured
#: (20-37 %, estimated; BENCHMARKS.md, "RTL backend"): a packed build cheaper than this bound
#: is kept without building the CSE alternative, which is slow on layers of hundreds of inputs
CSE_MAX_SAVING = 0.4


def _trial(net: Netlist, columns: list[Column], consts: list[int], opts: CmvmOptions, max_bits: int,
           order: str = "magnitude") -> int:
    """Estimated LUTs of one way to build the columns; the netlist is left as it was."""
    mark = net.mark()
    _build(net, columns, consts, opts, max_bits, order)
    cost = luts(net.nodes[mark[0]:])
    net.rollback(mark)
    return cost


def lower_cmvm(net: Netlist, columns: list[Column], consts: list[int], opts: CmvmOptions) -> list[Node]:
    """The node of each column ``Σ c·x + const``, built the cheapest way (see the module doc)."""
    widths = sorted({x.width for items in columns for x, _ in items if 0 < x.width <= opts.lut_inputs})
    if not opts.pack or not widths:
        return _build(net, columns, consts, opts, 0)
    plain = CmvmOptions(cse=False, share_products=opts.share_products, lut_inputs=opts.lut_inputs)
    # (widths packed, order) ranked without CSE, which is slow on wide layers; CSE only for the best
    ranked = {(w, o): _trial(net, columns, consts, plain, w, o) for w in widths for o in ORDERS}
    best = min(ranked, key=ranked.get)          # ties keep the first: the narrowest, by magnitude
    cost = _trial(net, columns, consts, opts, *best) if opts.cse else ranked[best]
    unshared = _trial(net, columns, consts, plain, 0)
    if cost >= (1 - CSE_MAX_SAVING) * unshared or not opts.cse:
        if (_trial(net, columns, consts, opts, 0) if opts.cse else unshared) <= cost:
            best = (0, "magnitude")
    return _build(net, columns, consts, opts, *best)

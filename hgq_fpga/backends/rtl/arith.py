"""Multiplier-free constant arithmetic: canonical signed digits and balanced adder trees.

A constant times a signal is the sum of that signal shifted by the positions of the constant's
canonical signed digits (CSD: digits in {-1, 0, 1}, no two adjacent non-zero ones, so at most
half the bits are non-zero).  A sum of terms is built as a balanced tree: the two shallowest
terms (by adder depth) are always added first, which gives ``ceil(log2 n)`` levels for ``n``
terms of equal depth and keeps deep shared sub-expressions from lengthening the critical path.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Iterable

from hgq_fpga.backends.rtl.netlist import Netlist, Node, Term


def csd(value: int) -> list[tuple[int, int]]:
    """``[(shift, sign), ...]`` with ``value == Σ sign·2**shift``, the canonical signed digits."""
    value = int(value)
    digits = []
    shift = 0
    while value:
        if value & 1:
            d = 2 - (value & 3)          # +1 when value ≡ 1 (mod 4), -1 when value ≡ 3
            digits.append((shift, d))
            value -= d
        value >>= 1
        shift += 1
    return digits


def _combine(net: Netlist, a: Term, b: Term) -> Term:
    """One adder for ``a + b``; the common shift and (if both negative) the sign stay outside."""
    m = min(a.shift, b.shift)
    if a.sign == b.sign:
        node = net.add(Term(a.node, a.shift - m, 1), Term(b.node, b.shift - m, 1))
        return Term(node, m, a.sign)
    pos, neg = (a, b) if a.sign > 0 else (b, a)
    if pos.shift > neg.shift:
        # -(neg - pos): the unshifted operand stays positive, so the adder skips its low bits
        return Term(net.add(Term(neg.node, 0, 1), Term(pos.node, pos.shift - m, -1)), m, -1)
    return Term(net.add(Term(pos.node, 0, 1), Term(neg.node, neg.shift - m, -1)), m, 1)


def sum_terms(net: Netlist, terms: Iterable[Term], const: int = 0) -> Node:
    """The node of ``Σ terms + const`` as a balanced adder tree (constants folded)."""
    live = []
    for t in terms:
        if t.node.is_const:
            const += t.sign * (t.node.params["value"] << t.shift)
        else:
            live.append(t)
    if const:
        live.append(Term(net.const(const)))
    if not live:
        return net.const(0)
    count = itertools.count()
    heap = [(*_key(t), next(count), t) for t in live]
    heapq.heapify(heap)
    while len(heap) > 1:
        a = heapq.heappop(heap)[-1]
        b = heapq.heappop(heap)[-1]
        t = _combine(net, a, b)
        heapq.heappush(heap, (*_key(t), next(count), t))
    return net.add(heap[0][-1])


def _key(t: Term) -> tuple[int, int]:
    """Adder depth first (balanced trees), then magnitude (narrow adders first)."""
    return t.node.level, max(abs(t.node.lo), abs(t.node.hi)).bit_length() + t.shift


def times_const(net: Netlist, x: Node, c: int) -> list[Term]:
    """Terms of ``x·c``: one shifted, signed copy of ``x`` per CSD digit of ``c``."""
    return [Term(x, s, d) for s, d in csd(c)]


class ProductCache:
    """Shares ``x·m`` for odd ``m`` among all users of one netlist (common sub-expressions).

    ``x·c`` with ``c = ±m·2**t`` is ``±(x·m) << t``: the odd multiple is built once as its own
    CSD tree, and every column that multiplies ``x`` by ``±m·2**t`` reuses it for free.
    """

    def __init__(self, net: Netlist) -> None:
        self.net = net
        self._cache: dict[tuple[int, int], Node] = {}

    def terms(self, x: Node, c: int) -> list[Term]:
        c = int(c)
        if c == 0:
            return []
        sign = 1 if c > 0 else -1
        m, t = abs(c), 0
        while not m & 1:
            m >>= 1
            t += 1
        if m == 1:
            return [Term(x, t, sign)]
        key = (x.id, m)
        if key not in self._cache:
            self._cache[key] = sum_terms(self.net, times_const(self.net, x, m))
        return [Term(self._cache[key], t, sign)]


def max_tree(net: Netlist, terms: list[Term]) -> Node:
    """The node of ``max(terms)`` (shifted, positive terms) as a balanced comparator tree."""
    if not terms:
        raise ValueError("internal: max over no terms")
    count = itertools.count()
    heap = [(t.node.level, next(count), t) for t in terms]
    heapq.heapify(heap)
    while len(heap) > 1:
        _, _, a = heapq.heappop(heap)
        _, _, b = heapq.heappop(heap)
        n = net.max(a, b)
        heapq.heappush(heap, (n.level, next(count), Term(n)))
    return net.add(heap[0][2])


def _pair_key(a: Term, b: Term) -> tuple | None:
    """Shift- and sign-free key of ``a + b``: the same key means the same sub-expression up to a
    common shift and sign.  None for a degenerate pair (one signal twice at one shift)."""
    if (a.node.id, a.shift) > (b.node.id, b.shift):
        a, b = b, a
    if a.node.id == b.node.id and a.shift == b.shift:
        return None
    return a.node.id, b.node.id, b.shift - a.shift, a.sign * b.sign


#: pair candidates a layer may hold before :func:`share_pairs` works in blocks of inputs
MAX_PAIRS = 2_000_000


def share_pairs(net: Netlist, columns: list[list[Term]], max_pairs: int | None = None) -> list[list[Term]]:
    """Common sub-expression elimination across the columns of a constant matrix-vector product.

    The greedy search keeps a count of every pair of terms in every column: ``n²/2`` per column of
    ``n`` terms, which for a layer with hundreds of inputs is gigabytes. When a layer has more than
    ``max_pairs`` (default :data:`MAX_PAIRS`) candidate pairs, its inputs are split into contiguous blocks small enough to stay
    under that bound, and pairs are shared across the columns within each block only. The sum is
    unchanged (each column is still the sum of all its terms); only sharing across blocks is lost.
    """
    max_pairs = MAX_PAIRS if max_pairs is None else max_pairs
    pairs = sum(len(c) * (len(c) - 1) // 2 for c in columns)
    if pairs <= max_pairs:
        return _share_pairs(net, columns)
    ids = sorted({t.node.id for c in columns for t in c})
    rank = {node_id: i for i, node_id in enumerate(ids)}
    longest = max(len(c) for c in columns)
    terms_per_input = longest / len(ids)
    # per block: len(columns) columns of about block * terms_per_input terms
    per_block = max(2, int((2 * max_pairs / len(columns)) ** 0.5 / max(terms_per_input, 1.0)))
    n_blocks = -(-len(ids) // per_block)
    blocks: list[list[list[Term]]] = [[[] for _ in columns] for _ in range(n_blocks)]
    for c, terms in enumerate(columns):
        for t in terms:
            blocks[rank[t.node.id] // per_block][c].append(t)
    out: list[list[Term]] = [[] for _ in columns]
    for block in blocks:
        for c, terms in enumerate(_share_pairs(net, block)):
            out[c] += terms
    return out


def _share_pairs(net: Netlist, columns: list[list[Term]]) -> list[list[Term]]:
    """Common sub-expression elimination across the columns of one constant matrix-vector product.

    Greedy: the pair of terms ``x_a·2^s ± x_b·2^(s+d)`` that occurs in the most columns becomes one
    adder ``x_a ± x_b·2^d``, which replaces the pair in every column that holds it (as one shifted,
    signed term); repeat while some pair occurs in two columns or more.  Pair counts are kept up
    to date incrementally, so a layer costs time linear in the replacements made.
    """
    cols = [list(c) for c in columns]
    where: dict[tuple, dict[int, int]] = {}         # key -> {column: occurrences}
    heap: list = []

    def bump(key, c, by):
        if key is None:
            return
        occ = where.setdefault(key, {})
        occ[c] = occ.get(c, 0) + by
        if occ[c] <= 0:
            del occ[c]
        elif by > 0:
            heapq.heappush(heap, (-len(occ), key))

    for c, terms in enumerate(cols):
        for i, a in enumerate(terms):
            for b in terms[i + 1:]:
                bump(_pair_key(a, b), c, 1)
    made: dict[tuple, Node] = {}
    while heap:
        neg, key = heapq.heappop(heap)
        occ = where.get(key, {})
        if len(occ) < 2:
            continue
        if -neg != len(occ):
            heapq.heappush(heap, (-len(occ), key))
            continue
        va, vb, d, g = key
        for c in list(occ):
            while where.get(key, {}).get(c, 0) > 0:
                terms = cols[c]
                look = {(t.node.id, t.shift, t.sign): t for t in terms}
                a, b = next((a, look[(vb, a.shift + d, a.sign * g)]) for a in terms
                            if a.node.id == va and (vb, a.shift + d, a.sign * g) in look
                            and look[(vb, a.shift + d, a.sign * g)] is not a)
                for t in (a, b):
                    terms.remove(t)
                    for u in terms:
                        bump(_pair_key(t, u), c, -1)
                bump(_pair_key(a, b), c, -1)
                if key not in made:
                    lo_shift = max(0, -d)
                    made[key] = net.add(Term(a.node, lo_shift, 1), Term(b.node, lo_shift + d, g))
                new = Term(made[key], a.shift - max(0, -d), a.sign)
                for u in terms:
                    bump(_pair_key(new, u), c, 1)
                terms.append(new)
    return cols

"""Lower the particle-network ops of the firmware IR to netlist nodes (``docs/method.md`` §9).

* ``einsum`` (a product of two variable tensors): each live product ``a · b`` is radix-4 partial
  products (:func:`partial_products`) or one multiplier node (exact: its width is at most the sum
  of the operands'), shifted to the output's fractional bits and summed by a balanced adder
  tree, as the emulator sums them (:func:`hgq_fpga.ir.gathered.product_plan`). A product with
  an operand the netlist knows to be a constant becomes shifts and adds; one pair of elements is
  multiplied once per op (``x·xᵀ`` builds each off-diagonal product once).
* ``sum`` and ``max`` over axes: adder and comparator trees over the slice of each output
  element (:func:`hgq_fpga.ir.gathered.reduce_plan`); a width-0 element takes part in a maximum as
  the value 0, as in the emulator.
* ``transpose``: wiring.
* ``add`` and ``subtract``: element-wise sums of the inputs broadcast along their axes of size 1.

``einsum_dense`` (a constant contraction) is the Dense lowering of :mod:`hgq_fpga.backends.rtl.lower`
with the alignment's output order.  The functions have the signature of
:data:`hgq_fpga.backends.rtl.lower.LOWERINGS`; every output ends on wires of its IR width.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga.backends.rtl.arith import max_tree, sum_terms, times_const
from hgq_fpga.backends.rtl.netlist import Netlist, Node, Term, range_bits
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.gathered import product_plan, reduce_plan
from hgq_fpga.ir.tensor import TensorType

def finish(net: Netlist, nodes: list[Node], t: TensorType) -> list[Node]:
    """Put every element on a wire of its IR width."""
    k, w = t.k.ravel().tolist(), t.width.ravel().tolist()
    return [net.alias(n, kk, ww) for n, kk, ww in zip(nodes, k, w)]


def _check(op: O.Op, derived: TensorType) -> None:
    if not op.out.same_as(derived):
        raise ValueError(f"op {op.name!r}: stored output type differs from the one derived from its "
                         "inputs; the graph is inconsistent")


def partial_products(net: Netlist, a: Node, b: Node, cache: dict) -> list[Term]:
    """``a · b`` as shifted terms of the wider operand ``a`` for an adder tree, radix 4: each pair
    of bits of the narrower one's code picks ``0``, ``a``, ``2a`` or ``3a`` (``3a`` made once per
    ``a`` through ``cache``), and a bit left over (the top one of an odd width, or the sign bit of
    a signed code, which weighs ``-2^(w-1)``) gates ``a``.  A pick, like a gate, shares the LUT6 of
    the adder it feeds, and halves the adders: an attention-like ``A·V`` of 2-bit by 7-bit
    products took 7,360 Yosys LUTs against 11,360 gated bit by bit, a ``Q·K`` of 5-bit by 6-bit
    products 18,304 against 25,216."""
    if range_bits(a.lo, a.hi)[1] < range_bits(b.lo, b.hi)[1]:
        a, b = b, a
    signed, width = range_bits(b.lo, b.hi)
    terms, j = [], 0
    while j < width:
        if j + 2 <= width - signed:
            if ("3x", a.id) not in cache:
                cache["3x", a.id] = sum_terms(net, [Term(a), Term(a, 1)])
            terms.append(Term(net.pick(a, cache["3x", a.id], b, j), j))
            j += 2
        else:
            terms.append(Term(net.gate(a, b, j), j, -1 if (signed and j == width - 1) else 1))
            j += 1
    return terms


def product_terms(net: Netlist, a: Node, b: Node, shift: int, bind: str, cache: dict) -> list[Term]:
    """Terms of ``(a · b) << shift``: the partial products (``bind="lut"``) or one multiplier node
    (``"dsp"``, ``"auto"``), made once per pair through ``cache``; where the netlist knows an
    operand to be a constant, the shifted digits of the other."""
    if a.is_const or b.is_const:
        c, x = (a, b) if a.is_const else (b, a)
        if x.is_const:
            return [Term(net.const(c.params["value"] * x.params["value"]), shift)]
        return [Term(t.node, t.shift + shift, t.sign) for t in times_const(net, x, c.params["value"])]
    key = (min(a.id, b.id), max(a.id, b.id))
    if key not in cache:
        cache[key] = partial_products(net, a, b, cache) if bind == "lut" else [Term(net.mul(a, b, bind))]
    return [Term(t.node, t.shift + shift, t.sign) for t in cache[key]]


def _einsum(net, op: O.Einsum, xs, in_types, opts):
    plan = product_plan(op.equation, *in_types)
    _check(op, plan.out)
    a, b = xs
    bind = opts.get("multipliers", "lut")
    cache: dict = {}
    out = []
    for e in range(plan.ia.shape[0]):
        terms = []
        for t in np.nonzero(plan.live[e])[0].tolist():
            terms += product_terms(net, a[int(plan.ia[e, t])], b[int(plan.ib[e, t])], int(plan.shift[e, t]),
                                   bind, cache)
        out.append(sum_terms(net, terms))
    # the ranges of partial products add up to more than the product's: wrap to the exact IR type,
    # which holds every value the sum takes (wiring only)
    t = op.out
    return [net.fit(n, k, w, "WRAP") for n, k, w in zip(out, t.k.ravel().tolist(), t.width.ravel().tolist())]


def _reduce(net, op: O.Sum | O.Max, xs, in_types, opts):
    plan = reduce_plan(op.kind, in_types[0], op.axes, op.keepdims)
    _check(op, plan.out)
    x = xs[0]
    rows = [[Term(x[int(i)], int(s)) for i, s in zip(idx, shift)]
            for idx, shift in zip(plan.idx.tolist(), plan.shift.tolist())]
    combine = sum_terms if op.kind == "sum" else max_tree
    return finish(net, [combine(net, terms) for terms in rows], op.out)


def _transpose(net, op: O.Transpose, xs, in_types, opts):
    src = np.transpose(np.arange(len(xs[0])).reshape(in_types[0].shape), op.perm).ravel()
    return [xs[0][int(i)] for i in src]


def broadcast_elements(x: list[Node], t: TensorType, shape: tuple[int, ...]) -> list[Node]:
    """The elements of ``x`` (type ``t``) repeated along its axes of size 1 to ``shape``."""
    src = np.broadcast_to(np.arange(len(x)).reshape(t.shape), shape).ravel()
    return [x[int(i)] for i in src]


def _add(net, op: O.Add | O.Subtract, xs, in_types, opts):
    shape, f = op.out.shape, op.out.f.ravel()
    signs = (1, -1) if op.kind == "subtract" else (1,) * len(xs)
    columns = []
    for x, t, sign in zip(xs, in_types, signs):
        shift = np.where(np.broadcast_to(t.live, shape).ravel(), f - np.broadcast_to(t.f, shape).ravel(), 0)
        columns.append([Term(n, int(s), sign) for n, s in zip(broadcast_elements(x, t, shape), shift.tolist())])
    return finish(net, [sum_terms(net, list(terms)) for terms in zip(*columns)], op.out)


#: op kind → lowering, merged into :data:`hgq_fpga.backends.rtl.lower.LOWERINGS`
PARTICLE_LOWERINGS = {"einsum": _einsum, "sum": _reduce, "max": _reduce, "transpose": _transpose,
                      "add": _add, "subtract": _add}

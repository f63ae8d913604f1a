"""Lower each firmware-IR op to netlist nodes, one registry entry per op kind.

A tensor is a flat list (C order) of nodes, one per element; a zero-width element is the
constant 0 and produces no logic.  Every op's outputs end on wires of exactly the IR type's
width (``Netlist.alias``).  The arithmetic follows the emulator (:mod:`hgq_fpga.ir.emulator.kernels`,
docs/method.md) step by step, so that the RTL is bit-exact by construction and by test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hgq_fpga.backends.common.initiation import initiation_intervals
from hgq_fpga.backends.rtl.arith import max_tree, sum_terms, times_const
from hgq_fpga.backends.rtl.cmvm import CmvmOptions, lower_cmvm
from hgq_fpga.backends.rtl.fold import lower_folded
from hgq_fpga.backends.common.multipliers import check_multipliers
from hgq_fpga.backends.rtl.lower_particles import PARTICLE_LOWERINGS, finish as _finish
from hgq_fpga.backends.rtl.netlist import Netlist, Node, Term
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.tensor import TensorType

Elems = list  # list[Node], one per tensor element in C order


@dataclass
class Port:
    """One input or output bus: its Verilog name, IR tensor and the live elements on it."""

    name: str
    tensor: str
    shape: tuple[int, ...]
    elements: list[int]        # flat indices of live elements, bus order (element 0 at bit 0)
    offsets: list[int]
    widths: list[int]
    signed: list[int]
    f: list[int]

    @property
    def width(self) -> int:
        return int(sum(self.widths))


@dataclass
class Lowered:
    """The netlist of a model and its ports."""

    net: Netlist
    inputs: list[Port]
    outputs: list[Port]
    output_nodes: list[list[Node]]     # per output port, the node of each live element
    ii: int = 1                        # a new sample every ``ii`` clock cycles
    ways: dict = field(default_factory=dict)   # II > 1: how each Dense/Conv was built (fold.WAYS)


# ------------------------------------------------------------------------------ op kinds

def _cast(net, op: O.Cast, xs, in_types, opts):
    t, f_in = op.out, in_types[0].f.ravel().tolist()
    return [net.cast(x, fi, k, i, f, op.round, op.overflow) for x, fi, k, i, f in
            zip(xs[0], f_in, t.k.ravel().tolist(), t.i.ravel().tolist(), t.f.ravel().tolist())]


def _linear(net, op, xs, in_types, opts):
    from hgq_fpga.ir.types import linear_alignment
    plan, _, _ = linear_alignment(op, in_types[0])
    x = xs[0]
    wp = np.asarray(plan.wp, dtype=object)
    bp = np.asarray(plan.bp, dtype=object)
    positions, taps = plan.idx.shape
    n_out = wp.shape[-1]
    out = []
    for p in range(positions):
        idx = plan.idx[p]
        columns, consts = [], []
        for o in range(n_out):
            items, const = [], int(bp[p, o])
            for j in np.nonzero(plan.live[p, :, o] & (idx >= 0))[0].tolist():
                node, c = x[int(idx[j])], int(wp[p, j, o])
                if node.is_const:
                    const += node.params["value"] * c
                elif c:
                    items.append((node, c))
            columns.append(items)
            consts.append(const)
        n = opts["fold"].get(op.name, 1)
        if n > 1:
            way, nodes = lower_folded(net, columns, consts, opts["cmvm"], n, opts["ii"])
            opts["ways"][op.name] = way
            out += nodes
        else:
            out += lower_cmvm(net, columns, consts, opts["cmvm"])
    if plan.out_index is not None:          # an EinsumDense: (position, column) -> output element
        out = [out[i] for i in np.argsort(plan.out_index.ravel())]
    return _finish(net, out, op.out)


def _concat(net, op: O.Concatenate, xs, in_types, opts):
    axis = op.axis % len(op.out.shape)
    parts = []
    for x, t in zip(xs, in_types):
        a = np.empty(len(x), dtype=object)
        a[:] = x
        parts.append(a.reshape(t.shape))
    return list(np.concatenate(parts, axis=axis).ravel())


def _reshape(net, op, xs, in_types, opts):
    return list(xs[0])


def _relu(net, op, xs, in_types, opts):
    return _finish(net, [net.relu(x) for x in xs[0]], op.out)


def _window_terms(x: Elems, idx: np.ndarray, shift: np.ndarray, p: int, c: int) -> list[Term]:
    return [Term(x[int(idx[p, k, c])], int(shift[p, k, c]))
            for k in range(idx.shape[1]) if idx[p, k, c] >= 0]


def _maxpool(net, op: O.MaxPool, xs, in_types, opts):
    from hgq_fpga.ir.types import maxpool_plan
    _, idx, _, shift, _ = maxpool_plan(op, in_types[0])
    out = [max_tree(net, _window_terms(xs[0], idx, shift, p, c))
           for p in range(idx.shape[0]) for c in range(idx.shape[2])]
    return _finish(net, out, op.out)


def _avgpool(net, op: O.AvgPool, xs, in_types, opts):
    from hgq_fpga.ir.types import avgpool_sum_plan
    _, idx, shift, sum_t = avgpool_sum_plan(op, in_types[0])
    sums = _finish(net, [sum_terms(net, _window_terms(xs[0], idx, shift, p, c))
                         for p in range(idx.shape[0]) for c in range(idx.shape[2])], sum_t)
    c_raw = np.asarray(op.c_raw, dtype=np.int64).ravel().tolist()
    prods = _finish(net, [sum_terms(net, times_const(net, s, c)) for s, c in zip(sums, c_raw)],
                    op.prod_type)
    t = op.out
    return [net.cast(x, fi, k, i, f, op.round, op.overflow) for x, fi, k, i, f in
            zip(prods, op.prod_type.f.ravel().tolist(), t.k.ravel().tolist(), t.i.ravel().tolist(),
                t.f.ravel().tolist())]


def _table(net, op: O.Table, xs, in_types, opts):
    x_t, t = in_types[0], op.out
    tid = np.asarray(op.table_id).ravel().tolist()
    values = np.asarray(op.values, dtype=np.int64)
    entries = {}
    out = []
    for e, (x, kin, win, ko, wo) in enumerate(zip(xs[0], x_t.k.ravel().tolist(), x_t.width.ravel().tolist(),
                                                  t.k.ravel().tolist(), t.width.ravel().tolist())):
        d = tid[e]
        if d not in entries:
            s, n = int(op.start[d]), int(op.size[d])
            entries[d] = tuple(values[s:s + n].tolist())
        out.append(net.table(x, kin, win, entries[d], int(op.lo[d]), ko, wo, key=(op.name, d)))
    return out


#: op kind → lowering function ``(net, op, input element lists, input types, options) → elements``
LOWERINGS: dict[str, Callable] = {
    "cast": _cast, "dense": _linear, "conv": _linear, "einsum_dense": _linear, "concatenate": _concat,
    "reshape": _reshape, "relu": _relu, "maxpool": _maxpool, "avgpool": _avgpool, "table": _table,
    **PARTICLE_LOWERINGS,
}


# ------------------------------------------------------------------------------ model

def verilog_name(name: str, prefix: str, used: set[str]) -> str:
    """A Verilog identifier for tensor ``name`` (``prefix`` keeps it clear of keywords)."""
    base = prefix + re.sub(r"[^A-Za-z0-9_]", "_", name)
    cand, n = base, 1
    while cand in used:
        n += 1
        cand = f"{base}_{n}"
    used.add(cand)
    return cand


def _port(name: str, tensor: str, t: TensorType) -> Port:
    w = t.width.ravel()
    live = np.nonzero(w > 0)[0].tolist()
    widths = [int(w[e]) for e in live]
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(int).tolist() if live else []
    return Port(name, tensor, t.shape, live, offsets, widths,
                [int(t.k.ravel()[e]) for e in live], [int(t.f.ravel()[e]) for e in live])


def lower_model(fw, share_products: bool = False, cse: bool = False, multipliers: str = "lut", pack: bool = False,
                ii=1) -> Lowered:
    """The netlist of firmware ``fw``: input ports take the raw codes of the IR input types;
    ``multipliers``: the binding asked for the products of two variables (``"lut"``, ``"dsp"``,
    ``"auto"``: the synthesis tool chooses).

    ``cse``, ``share_products``, ``pack``: how Dense and Conv are built
    (:class:`~hgq_fpga.backends.rtl.cmvm.CmvmOptions`); ``ii``: a new sample every so many
    clock cycles (:func:`~hgq_fpga.backends.common.initiation.initiation_intervals`;
    :mod:`~hgq_fpga.backends.rtl.fold`)."""
    n_ii, fold = initiation_intervals(fw, ii)
    net = Netlist()
    used: set[str] = {"clk", "rst", "in_valid", "out_valid"}
    env: dict[str, Elems] = {}
    inputs = []
    for spec in fw.inputs:
        port = _port(verilog_name(spec.name, "in_", used), spec.name, spec.type)
        elems = [net.const(0)] * spec.type.k.size
        for e, off, w, k in zip(port.elements, port.offsets, port.widths, port.signed):
            elems[e] = net.input(k, w, port.name, off)
        env[spec.name] = elems
        inputs.append(port)
    opts = {"share_products": share_products, "cse": cse, "multipliers": check_multipliers(multipliers),
            "cmvm": CmvmOptions(cse=cse, share_products=share_products, pack=pack), "fold": fold,
            "ii": n_ii, "ways": {}}
    for op in fw.ops:
        if op.kind not in LOWERINGS:
            raise NotImplementedError(f"the RTL backend has no lowering for op kind {op.kind!r} "
                                      f"(op {op.name!r})")
        env[op.name] = LOWERINGS[op.kind](net, op, [env[x] for x in op.inputs],
                                          [fw.types[x] for x in op.inputs], opts)
        if len(env[op.name]) != op.out.k.size:
            raise ValueError(f"internal: op {op.name!r} lowered to {len(env[op.name])} elements")
    outputs, nodes = [], []
    for o in fw.outputs:
        port = _port(verilog_name(o, "out_", used), o, fw.types[o])
        outputs.append(port)
        nodes.append([env[o][e] for e in port.elements])
    return Lowered(net, inputs, outputs, nodes, n_ii, opts["ways"])

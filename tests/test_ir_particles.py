"""The IR ops of particle networks: constant and variable contractions, sums, maxima, transposes,
broadcasting sums and differences, and the exact exp / reciprocal tables.

The emulator's outputs are compared with ``==`` against numpy on the same quantized inputs (every
value involved is exact in float64 at these widths); declared types must hold every value the op
can produce and be reached by the inputs at their extremes; widths beyond the emulator's 62 bits
are refused with the op's name.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from hgq_fpga.fixed import OVERFLOW_MODES, ROUNDING_MODES
from hgq_fpga.ir import FirmwareBuilder, WidthError, load_firmware
from hgq_fpga.ir.tensor import type_of_range
from hgq_fpga.ir.functions import EXP, RECIPROCAL, overflow_code, round_fraction


def _types(rng, shape, dead=0.15, signed=None):
    k = rng.integers(0, 2, shape) if signed is None else np.full(shape, signed)
    f = rng.integers(0, 4, shape)
    i = np.maximum(rng.integers(-1, 3, shape), 1 - f - k)
    i = np.where(rng.random(shape) < dead, -f - k, i)              # width 0: the constant 0
    return dict(k=k, i=i, f=f)


def _graph(rng):
    """Every new op once (several equations), with per-element types and dead elements."""
    b = FirmwareBuilder()
    x = b.input("x", (4, 3), **_types(rng, (4, 3)), round="RND", overflow="SAT")
    y = b.input("y", (4, 3), **_types(rng, (4, 3)), round="TRN", overflow="WRAP")
    s = b.input("s", (3,), **_types(rng, (3,), dead=0.0))
    w = rng.integers(-9, 9, (4, 5))
    w[rng.random(w.shape) < 0.2] = 0
    outs = {
        "across": b.einsum_dense(x, "nf,nm->mf", w, rng.integers(0, 4, w.shape),
                                 rng.integers(-5, 5, (5, 3)), rng.integers(0, 3, (5, 3))),
        "per_particle": b.einsum_dense(x, "nf,fh->nh", rng.integers(-9, 9, (3, 2)), 2,
                                       rng.integers(-5, 5, 2), 1),
        "per_channel": b.einsum_dense(x, "nc,c->nc", rng.integers(-9, 9, 3), 3, rng.integers(-9, 9, 3), 2),
        "shared": b.einsum_dense(x, "nf,nfm->mf", rng.integers(-9, 9, (4, 3, 2)), 2),
        "to_scalar": b.einsum_dense(x, "nf,nf->", rng.integers(-9, 9, (4, 3)), 1),
        "pairs": b.einsum(x, y, "nf,mf->nm"),
        "scores_t": b.einsum(x, y, "nf,nf->f"),
        "outer": b.einsum(s, x, "f,nf->fn"),
        "multiply": b.multiply(x, b.max(y, -1, keepdims=True)),
        "sum0": b.sum(x, 0),
        "sum_all": b.sum(y, (0, 1), keepdims=True),
        "max1": b.max(x, 1),
        "transpose": b.transpose(x, (1, 0)),
        "add": b.add(x, b.sum(y, 0, keepdims=True), b.max(x, 1, keepdims=True)),
        "subtract": b.subtract(y, b.max(x, -1, keepdims=True)),
    }
    return b.build(list(outs.values())), outs


def _reference(fw, t):
    """The float64 value of every output of :func:`_graph`, from the traced quantized inputs."""
    x, y, s = t["x"], t["y"], t["s"]
    ops = {op.name: op for op in fw.ops}

    def kernel(name):
        op = ops[name]
        return np.ldexp(op.w_raw.astype(float), -op.w_f), np.ldexp(op.b_raw.astype(float), -op.b_f)

    def dense(name, eq):
        w, bias = kernel(name)
        return np.einsum(eq, x, w) + bias
    names = iter(fw.outputs)
    return {
        next(names): dense("einsum_dense_1", "bnf,nm->bmf"),
        next(names): dense("einsum_dense_2", "bnf,fh->bnh"),
        next(names): dense("einsum_dense_3", "bnc,c->bnc"),
        next(names): dense("einsum_dense_4", "bnf,nfm->bmf"),
        next(names): dense("einsum_dense_5", "bnf,nf->b"),
        next(names): np.einsum("bnf,bmf->bnm", x, y),
        next(names): np.einsum("bnf,bnf->bf", x, y),
        next(names): np.einsum("bf,bnf->bfn", s, x),
        next(names): x * y.max(-1, keepdims=True),
        next(names): x.sum(1),
        next(names): y.sum((1, 2), keepdims=True),
        next(names): x.max(2),
        next(names): x.transpose(0, 2, 1),
        next(names): x + y.sum(1, keepdims=True) + x.max(2, keepdims=True),
        next(names): y - x.max(-1, keepdims=True),
    }


def _inputs(fw, rng, n=200):
    """Normal values, x4 (overflow at the inputs) and exact ties of every input type."""
    sets = []
    for scale in (1.0, 4.0):
        sets.append({s.name: rng.normal(0, 2.0, (n, *s.shape)) * scale for s in fw.inputs})
    sets.append({s.name: (rng.integers(-40, 40, (n, *s.shape)) + 0.5) * np.ldexp(1.0, -s.type.f)
                 for s in fw.inputs})
    return sets


@pytest.mark.parametrize("seed", range(3))
def test_new_ops_equal_numpy_on_the_quantized_inputs(seed):
    rng = np.random.default_rng(seed)
    fw, _ = _graph(rng)
    for xs in _inputs(fw, rng):
        t = fw.predict(xs, trace=True)
        for name, ref in _reference(fw, t).items():
            assert t[name].shape == ref.shape, name
            assert np.array_equal(t[name], ref), name


def test_declared_types_hold_every_value_and_are_reached():
    """Soundness on random and extreme codes; the sum, maximum, transpose and broadcasting add
    reach both ends of their declared range at the inputs' extremes (the type is tight)."""
    rng = np.random.default_rng(7)
    fw, outs = _graph(rng)
    extremes = []
    for end in (0, 1):
        xs = {}
        for spec in fw.inputs:
            lo, hi = spec.type.bounds()
            code = (hi if end else lo).astype(np.float64)
            xs[spec.name] = np.ldexp(code, -spec.type.f)[None]
        extremes.append(xs)
    for xs in extremes + _inputs(fw, rng, 500):
        raw = fw.run_raw(xs)
        for name, t in fw.types.items():
            lo, hi = t.bounds()
            assert np.all(raw[name] >= lo.astype(np.int64)) and np.all(raw[name] <= hi.astype(np.int64)), name
    low, high = (fw.run_raw(xs) for xs in extremes)
    for key in ("sum0", "max1", "transpose", "sum_all"):
        t = fw.types[outs[key]]
        reached = type_of_range(low[outs[key]][0], high[outs[key]][0], t.f)
        assert reached.same_as(t), key


def test_save_and_load_keep_every_new_op(tmp_path):
    rng = np.random.default_rng(3)
    fw, _ = _graph(rng)
    fw.save(tmp_path / "fw")
    again = load_firmware(tmp_path / "fw")
    assert [op.kind for op in again.ops] == [op.kind for op in fw.ops]
    for xs in _inputs(fw, rng, 50):
        for a, b in zip(again.predict(xs), fw.predict(xs)):
            assert np.array_equal(a, b)


def test_resources_count_products_of_two_variables():
    b = FirmwareBuilder()
    x = b.input("x", (2, 3), k=1, i=np.array([[2, 1, 0], [3, 2, 1]]), f=2)
    y = b.input("y", (2, 3), k=0, i=1, f=np.array([[1, 2, 3], [0, 0, 4]]))
    p = b.einsum(x, y, "nf,nf->n")
    d = b.einsum_dense(x, "nf,f->n", np.array([3, 0, -5]), 1)
    res = b.build([p, d]).resources()
    wx, wy = np.array([[5, 4, 3], [6, 5, 4]]), np.array([[2, 3, 4], [1, 1, 5]])
    ebops = {r.name: r.ebops for r in res.ops}
    assert ebops[p] == int((wx * wy).sum())
    assert ebops[d] == int((wx[:, 0] * 2 + wx[:, 2] * 3).sum())        # bits of 3 and of 5
    assert res.ebops == ebops[p] + ebops[d]


def test_widths_beyond_the_emulator_are_refused_naming_the_op():
    b = FirmwareBuilder()
    x = b.input("x", (2,), k=1, i=20, f=12)
    y = b.input("y", (2,), k=1, i=20, f=12)
    fw = b.build([b.einsum(x, y, "a,a->", name="wide_product")])
    with pytest.raises(WidthError, match="wide_product"):
        fw.predict({"x": np.zeros((1, 2)), "y": np.zeros((1, 2))})


@pytest.mark.parametrize("call, message", [
    (lambda b, x: b.add(x, b.input("z", (3,), k=1, i=1, f=1)), "different ranks"),
    (lambda b, x: b.subtract(x, b.input("z", (2, 2), k=1, i=1, f=1)), "do not broadcast"),
    (lambda b, x: b.einsum(x, x, "ab,bc->ac"), "letter 'b' has sizes"),
    (lambda b, x: b.einsum_dense(x, "ab,cd->ab", np.ones((2, 2), int), 0), "in neither"),
    (lambda b, x: b.sum(x, 2), "do not name axes"),
    (lambda b, x: b.transpose(x, (0, 0)), "not a permutation"),
])
def test_bad_graphs_are_refused_with_a_clear_error(call, message):
    b = FirmwareBuilder()
    x = b.input("x", (2, 3), k=1, i=1, f=1)
    with pytest.raises(ValueError, match=message):
        call(b, x)


# ------------------------------------------------------------------------------ exact tables

def _exp_reference(code: int, f_in: int, k: int, i: int, f: int, rnd: str, ovf: str) -> int:
    """The code of exp(code·2^-f_in), from a 60-digit value (never near a tie for code != 0)."""
    import decimal
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        v = Fraction((decimal.Decimal(min(code, 0)) / decimal.Decimal(2 ** f_in)).exp() * decimal.Decimal(2) ** f)
    q = Fraction(2) ** f if code >= 0 else v                        # exp(min(x, 0))
    return overflow_code(round_fraction(q, rnd), k, k + i + f, ovf)


@pytest.mark.parametrize("rnd", ROUNDING_MODES)
def test_exp_table_codes_are_correctly_rounded(rnd):
    codes = np.arange(-128, 40)
    for f_in, (k, i, f), ovf in ((3, (0, 1, 6), "SAT"), (2, (1, 2, 3), "WRAP"), (0, (0, 0, -1), "SAT_SYM")):
        got = EXP.table_codes(codes, f_in, k, i, f, rnd, ovf)
        want = [_exp_reference(int(c), f_in, k, i, f, rnd, ovf) for c in codes]
        assert got.tolist() == want


@pytest.mark.parametrize("ovf", OVERFLOW_MODES)
def test_reciprocal_table_codes_are_exact(ovf):
    codes = np.arange(-20, 64)
    for rnd in ROUNDING_MODES:
        got = RECIPROCAL.table_codes(codes, 2, 1, 2, 5, rnd, ovf)
        for c, g in zip(codes.tolist(), got.tolist()):
            if c == 0:
                assert g == (1 << 7) - 1                      # 1/0: the largest value
            else:
                assert g == overflow_code(round_fraction(Fraction(2 ** 7, c), rnd), 1, 8, ovf)


def test_values_float64_cannot_resolve_are_settled_exactly():
    """exp(-1) · 2^f beyond float64's resolution: decimal settles it, as an 80-digit reference
    does (a float64 estimate would be wrong in the last bits)."""
    import decimal
    for f in (40, 55, 60):
        with decimal.localcontext() as ctx:
            ctx.prec = 80
            want = math.floor(decimal.Decimal(-1).exp() * decimal.Decimal(2) ** f)
        assert EXP.settle(-1, 0, f, "TRN") == want
        assert EXP.table_codes(np.array([-1]), 0, 0, 1, f, "TRN", "WRAP")[0] == want % (1 << (f + 1))


def test_round_fraction_follows_every_ap_fixed_tie_rule():
    tie, neg = Fraction(5, 2), Fraction(-5, 2)
    want = {"TRN": (2, -3), "TRN_ZERO": (2, -2), "RND": (3, -2), "RND_ZERO": (2, -2),
            "RND_MIN_INF": (2, -3), "RND_INF": (3, -3), "RND_CONV": (2, -2)}
    for mode, (p, n) in want.items():
        assert (round_fraction(tie, mode), round_fraction(neg, mode)) == (p, n), mode

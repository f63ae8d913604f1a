"""C simulation of the generated HLS firmware equals the IR emulator bit for bit (zero tolerance).

Every architecture is a small graph built with ``FirmwareBuilder``; each is written as a project,
and the projects of one test are compiled together into one library (one translation unit, one
parse of the ap_fixed headers), then run on three data sets: normal values, values four times
larger (overflow everywhere), and exact ties of the input quantization (half an LSB).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hgq_fpga.fixed import OVERFLOW_MODES, ROUNDING_MODES
from hgq_fpga.backends.hls.project import compile_projects
from hgq_fpga.backends.hls.writer import write_project
from hgq_fpga.ir import FirmwareBuilder

MODES = list(itertools.product(ROUNDING_MODES, OVERFLOW_MODES))


def _types(rng, shape, i=(0, 3), f=(0, 4), k=1):
    return dict(k=k, i=rng.integers(*i, shape), f=rng.integers(*f, shape))


def _weights(rng, shape, lo=-20, hi=20, pruned=0.3):
    w = rng.integers(lo, hi, shape)
    w[rng.random(shape) < pruned] = 0
    return w


# ------------------------------------------------------------------------------- architectures

def arch_mlp(rng, rnd="RND", ovf="SAT"):
    """Dense → cast → ReLU → dense → add (skip) → reshape → dense → cast."""
    b = FirmwareBuilder()
    x = b.input("x", (6,), **_types(rng, 6))
    h = b.dense(x, _weights(rng, (6, 5)), rng.integers(0, 5, (6, 5)), rng.integers(-9, 9, 5), 2)
    h = b.cast(h, 1, rng.integers(0, 3, 5), rng.integers(0, 4, 5), rnd, ovf)
    r = b.relu(h)
    h2 = b.cast(b.dense(r, rng.integers(-9, 9, (5, 5)), 3), rng.integers(0, 2, 5), 2, 2, rnd, ovf)
    s = b.reshape(b.add(h2, b.cast(r, 1, 1, 3, rnd, ovf)), (5,))
    return b.build([b.cast(b.dense(s, rng.integers(-9, 9, (5, 3)), 2), 1, 3, 3, rnd, ovf)])


def arch_all_cast_modes(rng):
    """One cast per (rounding, overflow) pair, from the same exact accumulator, concatenated."""
    b = FirmwareBuilder()
    x = b.input("x", (5,), k=1, i=2, f=rng.integers(2, 6, 5), round="RND_CONV", overflow="SAT")
    acc = b.dense(x, _weights(rng, (5, 4), pruned=0.0), rng.integers(0, 6, (5, 4)),
                  rng.integers(-30, 30, 4), 5)
    outs = [b.cast(acc, rng.integers(0, 2, 4), rng.integers(0, 3, 4), rng.integers(0, 3, 4), q, o)
            for q, o in MODES]
    return b.build([b.concatenate(outs, axis=0)])


def arch_input_modes(rng):
    """Input quantization in every mode: seven inputs, each feeding one output via an add."""
    b = FirmwareBuilder()
    xs = [b.input(f"x{n}", (4,), k=rng.integers(0, 2, 4), i=rng.integers(-1, 3, 4),
                  f=rng.integers(1, 4, 4), round=q, overflow=o)
          for n, (q, o) in enumerate(zip(ROUNDING_MODES, itertools.cycle(OVERFLOW_MODES)))]
    return b.build([b.add(*xs)])


def arch_conv(rng, rank, padding, strides):
    """Conv → cast → ReLU → maxpool → per-position dense → flatten → dense → cast."""
    b = FirmwareBuilder()
    shape = (7,) * rank + (2,)
    x = b.input("x", shape, **_types(rng, shape))
    ks = (3,) * rank + (2, 3)
    h = b.conv(x, _weights(rng, ks), rng.integers(0, 5, ks), rng.integers(-9, 9, 3), 2,
               strides=strides, padding=padding)
    h = b.relu(b.cast(h, 1, rng.integers(1, 3, 3), rng.integers(1, 4, 3), "RND_CONV", "SAT"))
    h = b.maxpool(h, 2, padding=padding)
    h = b.flatten(b.dense(h, rng.integers(-9, 9, (3, 2)), 3))
    h = b.dense(h, rng.integers(-9, 9, (b.types[h].shape[0], 4)), 2)
    return b.build([b.cast(h, 1, 3, 3, "RND", "WRAP")])


def arch_avgpool(rng, rank, pool, padding):
    """Average pooling (sizes that are not powers of two, padding excluded) with casts."""
    b = FirmwareBuilder()
    shape = (7,) * rank + (3,)
    x = b.input("x", shape, **_types(rng, shape), round="RND", overflow="SAT")
    h = b.avgpool(x, pool, 1, rng.integers(0, 3, 1), rng.integers(1, 5, 1), "RND_INF", "SAT_SYM",
                  padding=padding, strides=2)
    h2 = b.maxpool(x, pool, padding=padding, strides=2)
    return b.build([b.flatten(b.add(h, h2))])


def arch_concat_reshape(rng):
    b = FirmwareBuilder()
    x = b.input("x", (4, 3), **_types(rng, (4, 3)))
    a = b.cast(x, 1, 1, 2, "RND", "SAT")
    c = b.relu(x)
    h0 = b.flatten(b.concatenate([a, c], axis=-1))
    h1 = b.flatten(b.concatenate([c, a, x], axis=0))
    h = b.concatenate([h0, h1], axis=0)
    h = b.reshape(h, (12, 5))
    h = b.dense(h, _weights(rng, (5, 2)), 2)                     # rank-2 input: per-row dense
    return b.build([b.cast(b.flatten(h), 1, 3, 3, "RND_MIN_INF", "WRAP")])


def arch_tables(rng):
    """Two table ops: mixed per-element input types, constant-0 inputs and outputs."""
    b = FirmwareBuilder()
    x = b.input("x", (6,), **_types(rng, 6))
    h = b.dense(x, _weights(rng, (6, 6)), 2)
    h = b.cast(h, 1, 2, rng.integers(1, 4, 6), "RND", "SAT")
    t1 = b.table(h, np.tanh, 1, 0, rng.integers(3, 6, 6), "RND", "SAT")
    h_mixed = b.cast(h, [1, 0, 1, 1, 0, 0], [1, 2, 1, 0, 0, 2], [2, 1, 3, 0, 0, 2], "TRN", "WRAP")
    t2 = b.table(h_mixed, lambda v: 1 / (1 + np.exp(-v)), 0, [0, 0, 1, 0, 0, 0], [6, 0, 4, 5, 6, 3],
                 "RND_CONV", "SAT")
    return b.build([b.add(t1, t2)])


def arch_zero_width(rng):
    """Width-0 elements everywhere: dead inputs, dead cast outputs, a dead dense output."""
    b = FirmwareBuilder()
    k = np.array([1, 0, 1, 0, 1, 1, 0, 1])
    i = np.array([2, 0, 1, 0, 0, 2, 0, 1])
    f = np.array([2, 0, 3, 0, 2, 1, 0, 0])
    x = b.input("x", (8,), k=k, i=i, f=f, round="RND", overflow="SAT")
    w = _weights(rng, (8, 6), pruned=0.5)
    w[:, 3] = 0                                                    # output 3: no weight at all
    h = b.dense(x, w, rng.integers(0, 4, (8, 6)), [3, 0, -2, 0, 0, 1], 2)
    h = b.cast(h, [1, 0, 1, 1, 1, 1], [2, 0, 2, 2, 1, 2], [2, 0, 1, 3, 2, 1], "RND_ZERO", "SAT_ZERO")
    h = b.relu(h)
    return b.build([b.dense(h, _weights(rng, (6, 3), pruned=0.5), 1)])


def arch_pruned(rng):
    """Mostly pruned weights, wide and narrow weights, negative/large i, unsigned tensors."""
    b = FirmwareBuilder()
    x = b.input("x", (10,), k=0, i=rng.integers(-2, 4, 10), f=rng.integers(2, 7, 10),
                round="TRN_ZERO", overflow="WRAP")
    w = _weights(rng, (10, 8), -300, 300, pruned=0.8)
    h = b.dense(x, w, rng.integers(-2, 10, (10, 8)), rng.integers(-90, 90, 8), rng.integers(0, 8, 8))
    h = b.cast(h, 1, rng.integers(-1, 5, 8), rng.integers(0, 6, 8), "RND_MIN_INF", "SAT_SYM")
    return b.build([h])


def arch_wide_and_shifted(rng):
    """A first Dense whose accumulator container needs more than 63 bits (one output has 30
    integer bits, the other 30 fractional bits; the integer-MAC build must keep its ap_fixed
    loop), then one whose input and weight fractional bits never meet in one product (the
    integer sum is shifted right, exactly)."""
    b = FirmwareBuilder()
    x = b.input("x", (2,), k=1, i=np.array([30, 0]), f=np.array([0, 30]))
    h = b.dense(x, np.array([[rng.integers(1, 9), 0], [0, rng.integers(1, 9)]]), 1)
    h = b.cast(h, 1, 6, np.array([8, 0]), "RND", "SAT")
    w_f = np.array([[0, 0, 0], [6, 6, 6]])
    return b.build([b.dense(h, _weights(rng, (2, 3), pruned=0.0), w_f, rng.integers(-9, 9, 3), 2)])


def arch_two_in_two_out(rng):
    b = FirmwareBuilder()
    x = b.input("x", (4,), **_types(rng, 4), round="RND", overflow="SAT")
    y = b.input("y", (3, 2), **_types(rng, (3, 2)), round="RND_CONV", overflow="WRAP")
    hx = b.dense(x, _weights(rng, (4, 6)), 2)
    hy = b.flatten(y)
    s = b.add(b.cast(hx, 1, 3, 2, "RND", "SAT"), b.cast(hy, 1, 2, 3, "TRN", "SAT"))
    out1 = b.cast(b.dense(s, _weights(rng, (6, 2)), 1), 1, 4, 2, "RND_INF", "WRAP")
    return b.build([out1, b.relu(y)])


# ------------------------------------------------------------------------------- helpers

def _data(fw, rng, n=300):
    """Normal, overflow-forcing (x4) and exact-tie data for every input."""
    sets = [[], [], []]
    for spec in fw.inputs:
        t = spec.type
        normal = rng.normal(0, 1.5, (n, *spec.shape)) * np.ldexp(1.0, np.maximum(t.i, 0))
        ties = (rng.integers(-64, 64, (n, *spec.shape)) + 0.5) * np.ldexp(1.0, -t.f)
        for s, a in zip(sets, (normal, normal * 4, ties)):
            s.append(a)
    return [s if len(s) > 1 else s[0] for s in sets]


def _equal(a, b) -> bool:
    if isinstance(b, list):
        return isinstance(a, list) and len(a) == len(b) and all(map(_equal, a, b))
    return a.shape == b.shape and np.array_equal(a, b)


def _check(models, tmp_path, seed, extra=()):
    """Write, compile together (with ``extra`` projects), and compare every model on the three
    data sets, in both C-simulation builds: the ``ap_fixed`` text HLS synthesises and the
    integer-MAC build that ``predict`` uses by default.  ``extra`` ends bound to the latter."""
    projects = [write_project(fw, tmp_path / f"p{n}", name=f"m{n}") for n, fw in enumerate(models)]
    for macs in ("ap_fixed", "integer"):
        rng = np.random.default_rng(seed)
        compile_projects([*projects, *extra], cache_dir=tmp_path / "cache", macs=macs)
        for fw, prj in zip(models, projects):
            for x in _data(fw, rng):
                want = fw.predict(x)
                assert _equal(prj.predict(x), want), \
                    f"{prj.name}: C simulation ({macs} build) differs from emulator"


# ------------------------------------------------------------------------------- tests

def test_dense_relu_add_reshape_and_every_cast_mode(tmp_path):
    rng = np.random.default_rng(1)
    models = [arch_mlp(rng, q, o) for q, o in (("RND", "SAT"), ("TRN", "WRAP"), ("RND_CONV", "SAT_SYM"))]
    models += [arch_all_cast_modes(rng), arch_input_modes(rng)]
    # a mutant: one cast's rounding mode changed in the C++ only; the comparison must catch it
    mutant_fw = arch_mlp(np.random.default_rng(5), "RND", "SAT")
    mutant = write_project(mutant_fw, tmp_path / "mutant", name="mutant")
    cpp = mutant.path / "firmware" / "mutant.cpp"
    text = cpp.read_text()
    assert text.count("AP_RND,AP_SAT>") >= 2
    cpp.write_text(text.replace("AP_RND,AP_SAT>", "AP_RND_ZERO, AP_SAT>"))
    _check(models, tmp_path, 1, extra=[mutant])
    x = _data(mutant_fw, np.random.default_rng(5))[2]                 # ties
    assert not np.array_equal(mutant.predict(x), mutant_fw.predict(x))


def test_conv_and_pooling(tmp_path):
    rng = np.random.default_rng(2)
    models = [arch_conv(rng, 1, "valid", 1), arch_conv(rng, 1, "same", 2),
              arch_conv(rng, 2, "valid", 1), arch_conv(rng, 2, "same", 2),
              arch_avgpool(rng, 1, 3, "same"), arch_avgpool(rng, 2, 3, "valid")]
    _check(models, tmp_path, 2)


def test_tables_concat_zero_width_pruned_multi_io(tmp_path):
    rng = np.random.default_rng(3)
    models = [arch_concat_reshape(rng), arch_tables(rng), arch_zero_width(rng), arch_pruned(rng),
              arch_two_in_two_out(rng), arch_wide_and_shifted(rng)]
    _check(models, tmp_path, 3)
    wide = (tmp_path / "p5" / "firmware" / "m5.cpp").read_text()
    # two linear ops, one integer block: the wide one kept its ap_fixed loop in both builds
    assert wide.count("#ifdef HGQ_CSIM_INTEGER_MACS") == 1
    assert "LL;  // exact: s is a multiple" in wide


def test_integer_mac_plan_refuses_sums_beyond_62_bits():
    from hgq_fpga.fixed import FixedType
    from hgq_fpga.backends.hls.lower_linear import integer_macs
    x, w, acc = FixedType(1, 10, 10), FixedType(1, 4, 8), FixedType(1, 20, 18)
    plan = integer_macs(x, w, FixedType(1, 6, 2), acc, max_terms=100, max_weight_code=1 << 11,
                        max_bias_code=200)
    assert (plan.product_shift, plan.bias_shift) == (0, 16)
    # 2^20 · 2^41 · 2 = 2^62: one term too many for the margin
    assert integer_macs(FixedType(1, 10, 10), w, None, FixedType(1, 43, 18), 2, 1 << 41, 0) is None
    assert integer_macs(FixedType(1, 10, 10), w, None, FixedType(1, 43, 18), 1, 1 << 41, 0) is not None
    assert integer_macs(x, w, None, FixedType(1, 40, 30), 1, 1, 0) is None          # 71-bit container
    assert integer_macs(x, w, FixedType(1, 6, 20), acc, 1, 1, 1) is None            # bias finer than acc


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_random_seeds_every_mode(tmp_path, seed):
    """More random instances of every architecture, each MLP in all 28 cast modes."""
    rng = np.random.default_rng(100 + seed)
    models = [arch_mlp(rng, q, o) for q, o in MODES]
    models += [arch_all_cast_modes(rng), arch_input_modes(rng), arch_concat_reshape(rng),
               arch_tables(rng), arch_zero_width(rng), arch_pruned(rng), arch_two_in_two_out(rng)]
    models += [arch_conv(rng, r, p, s) for r in (1, 2) for p in ("valid", "same") for s in (1, 2)]
    models += [arch_avgpool(rng, r, p, pad) for r in (1, 2) for p in (2, 3) for pad in ("valid", "same")]
    _check(models, tmp_path, seed)

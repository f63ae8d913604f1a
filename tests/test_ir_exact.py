"""Zero-tolerance tests of the IR emulator against an independent element-by-element reference.

The reference below computes every op with Python ``Fraction`` arithmetic one element at a time,
derives padding from first principles, and implements every ap_fixed cast as exact rational
rounding; it shares no code with the vectorised emulator except ``hgq_fpga.fixed.quantize`` for
float → fixed input quantization and table outputs.  It also checks that each value fits the type
the op declares, which tests the builder's type inference.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from hgq_fpga.fixed import OVERFLOW_MODES, ROUNDING_MODES, quantize
from hgq_fpga.ir import FirmwareBuilder, WidthError

# ---------------------------------------------------------------------------------- reference


def ref_cast(v: Fraction, k: int, i: int, f: int, rnd: str, ovf: str) -> Fraction:
    """ap_fixed assignment of an exact rational, by the book."""
    w = k + i + f
    if w == 0:
        return Fraction(0)
    m = v * Fraction(2) ** f
    fl = math.floor(m)
    fr = m - fl
    half = Fraction(1, 2)
    neg = m < 0
    up = {
        "TRN": False,
        "TRN_ZERO": fr != 0 and neg,
        "RND": fr >= half,
        "RND_ZERO": fr > half or (fr == half and neg),
        "RND_MIN_INF": fr > half,
        "RND_INF": fr > half or (fr == half and not neg),
        "RND_CONV": fr > half or (fr == half and fl % 2 == 1),
    }[rnd]
    q = fl + int(up)
    lo = -(2 ** (w - 1)) if k else 0
    hi = 2 ** (w - k) - 1
    if ovf == "WRAP":
        q = (q - lo) % (2 ** w) + lo
    elif ovf == "SAT":
        q = min(max(q, lo), hi)
    elif ovf == "SAT_SYM":
        # ap_fixed saturates to the code min|1, i.e. -hi; for a 1-bit signed type that is min
        q = min(max(q, -hi if (k and w > 1) else lo), hi)
    elif ovf == "SAT_ZERO":
        q = q if lo <= q <= hi else 0
    return Fraction(q) / Fraction(2) ** f


def fits(v: Fraction, k: int, i: int, f: int) -> bool:
    w = k + i + f
    if w == 0:
        return v == 0
    m = v * Fraction(2) ** f
    return m.denominator == 1 and (-(2 ** (w - 1)) if k else 0) <= m <= 2 ** (w - k) - 1


def ref_pad(n: int, k: int, s: int, padding: str) -> tuple[int, int]:
    """(output length, padding before), re-derived: 'same' gives ceil(n/s) outputs, padding split
    with the smaller half first."""
    if padding == "valid":
        return (n - k) // s + 1, 0
    out = (n + s - 1) // s
    need = max(0, (out - 1) * s + k - n)
    return out, need // 2


def windows(spatial, kernel, strides, padding):
    """For each output position: list of (kernel offset, input position or None)."""
    dims = [ref_pad(n, k, s, padding) for n, k, s in zip(spatial, kernel, strides)]
    result = {}
    for pos in itertools.product(*(range(o) for o, _ in dims)):
        items = []
        for off in itertools.product(*(range(k) for k in kernel)):
            src = tuple(p * s - pb + o for p, s, (_, pb), o in zip(pos, strides, dims, off))
            inside = all(0 <= c < n for c, n in zip(src, spatial))
            items.append((off, src if inside else None))
        result[pos] = items
    return result


def ref_run(fw, x: np.ndarray, fns: dict) -> dict:
    """Run one sample through the graph with Fractions; return name → object array of Fractions."""
    env = {}
    for spec in fw.inputs:
        t = spec.type
        q = np.empty(t.shape, dtype=object)
        xv = x[spec.name] if isinstance(x, dict) else x
        for idx in np.ndindex(t.shape):
            val = quantize(xv[idx], int(t.k[idx]), int(t.i[idx]), int(t.f[idx]), spec.round, spec.overflow)
            q[idx] = Fraction(float(val))
        env[spec.name] = q
    for op in fw.ops:
        xs = [env[n] for n in op.inputs]
        t = op.out
        out = np.empty(t.shape, dtype=object)
        if op.kind == "cast":
            for idx in np.ndindex(t.shape):
                out[idx] = ref_cast(xs[0][idx], int(t.k[idx]), int(t.i[idx]), int(t.f[idx]), op.round, op.overflow)
        elif op.kind == "dense":
            n_in, n_out = op.w_raw.shape
            for lead in np.ndindex(t.shape[:-1]):
                for o in range(n_out):
                    s = Fraction(int(op.b_raw[o]), 2 ** int(op.b_f[o])) if op.b_f[o] >= 0 else \
                        Fraction(int(op.b_raw[o]) * 2 ** int(-op.b_f[o]))
                    for j in range(n_in):
                        s += xs[0][lead + (j,)] * Fraction(int(op.w_raw[j, o])) * Fraction(2) ** int(-op.w_f[j, o])
                    out[lead + (o,)] = s
        elif op.kind == "conv":
            rank = op.w_raw.ndim - 2
            cin, cout = op.w_raw.shape[-2:]
            win = windows(xs[0].shape[:rank], op.w_raw.shape[:rank], op.strides, op.padding)
            for pos, items in win.items():
                for o in range(cout):
                    s = Fraction(int(op.b_raw[o])) * Fraction(2) ** int(-op.b_f[o])
                    for off, src in items:
                        if src is None:
                            continue
                        for c in range(cin):
                            s += xs[0][src + (c,)] * Fraction(int(op.w_raw[off + (c, o)])) * \
                                Fraction(2) ** int(-op.w_f[off + (c, o)])
                    out[pos + (o,)] = s
        elif op.kind == "add":
            for idx in np.ndindex(t.shape):
                out[idx] = sum((a[idx] for a in xs), Fraction(0))
        elif op.kind == "concatenate":
            out = np.concatenate(xs, axis=op.axis)
        elif op.kind == "reshape":
            out = xs[0].reshape(t.shape)
        elif op.kind == "relu":
            for idx in np.ndindex(t.shape):
                out[idx] = max(xs[0][idx], Fraction(0))
        elif op.kind in ("maxpool", "avgpool"):
            rank = len(op.pool)
            win = windows(xs[0].shape[:rank], op.pool, op.strides, op.padding)
            for pos, items in win.items():
                for c in range(xs[0].shape[-1]):
                    vals = [xs[0][src + (c,)] for _, src in items if src is not None]
                    if op.kind == "maxpool":
                        out[pos + (c,)] = max(vals)
                    else:
                        e = pos + (c,)
                        s = sum(vals, Fraction(0))
                        assert fits(s, int(op.sum_type.k[e]), int(op.sum_type.i[e]), int(op.sum_type.f[e]))
                        cst = Fraction(int(op.c_raw[e])) * Fraction(2) ** int(-op.c_f[e])
                        assert abs(cst - Fraction(1, len(vals))) <= Fraction(1, 2 ** int(op.c_f[e]))
                        p = s * cst
                        assert fits(p, int(op.prod_type.k[e]), int(op.prod_type.i[e]), int(op.prod_type.f[e]))
                        out[e] = ref_cast(p, int(t.k[e]), int(t.i[e]), int(t.f[e]), op.round, op.overflow)
        elif op.kind == "table":
            fn, rnd, ovf = fns[op.name]
            for idx in np.ndindex(t.shape):
                y = float(fn(np.array([float(xs[0][idx])]))[0])
                out[idx] = Fraction(float(quantize(y, int(t.k[idx]), int(t.i[idx]), int(t.f[idx]), rnd, ovf)))
        else:
            raise AssertionError(op.kind)
        for idx in np.ndindex(t.shape):
            assert fits(out[idx], int(t.k[idx]), int(t.i[idx]), int(t.f[idx])), \
                f"{op.name}{idx}: {out[idx]} does not fit declared type"
        env[op.name] = out
    return env


# ---------------------------------------------------------------------------------- generators


def rand_type(rng, shape, max_w=8, p_zero=0.1, signed=None):
    w = rng.integers(1, max_w + 1, shape)
    w = np.where(rng.random(shape) < p_zero, 0, w)
    k = rng.integers(0, 2, shape) if signed is None else np.full(shape, int(signed))
    k = np.minimum(k, w)
    f = rng.integers(-2, 7, shape)
    i = w - k - f
    return k, i, f


def rand_weights(rng, shape, bits=6):
    raw = rng.integers(-(2 ** bits), 2 ** bits + 1, shape)
    raw = np.where(rng.random(shape) < 0.3, 0, raw)
    return raw, rng.integers(-2, 7, shape)


def rand_modes(rng):
    return str(rng.choice(ROUNDING_MODES)), str(rng.choice(["WRAP", "SAT", "SAT_SYM", "SAT_ZERO"]))


def act(b, rng, h, fns, allow_table=True):
    """Cast to a random type, then relu, a table (tanh/sigmoid) or nothing."""
    shape = b.types[h].shape
    r, o = rand_modes(rng)
    h = b.cast(h, *rand_type(rng, shape, 7), round=r, overflow=o)
    choice = rng.integers(0, 3 if allow_table else 2)
    if choice == 1:
        h = b.relu(h)
    elif choice == 2:
        fn = np.tanh if rng.random() < 0.5 else (lambda v: 1.0 / (1.0 + np.exp(-v)))
        r, o = rand_modes(rng)
        h = b.table(h, fn, *rand_type(rng, shape, 6), round=r, overflow=o)
        fns[h] = (fn, r, o)
    return h


def dense(b, rng, h, n_out):
    n_in = b.types[h].shape[-1]
    w, wf = rand_weights(rng, (n_in, n_out))
    bias, bf = rand_weights(rng, (n_out,))
    return b.dense(h, w, wf, bias, bf)


def build_random(seed: int):
    rng = np.random.default_rng(seed)
    b = FirmwareBuilder()
    fns: dict = {}
    arch = seed % 6
    r, o = rand_modes(rng)
    if arch in (0, 1):                                   # MLP, maybe with a branch
        shape = (6,) if arch == 1 else (2, 6)            # arch 0: Dense on a 2-d input
        x = b.input("x", shape, *rand_type(rng, shape), round=r, overflow=o)
        h = act(b, rng, dense(b, rng, x, 5), fns)
        if arch == 0:
            h = b.flatten(h)
        if arch == 1:
            a = act(b, rng, dense(b, rng, h, 4), fns)
            c = act(b, rng, dense(b, rng, h, 4), fns)
            h = b.add(a, c) if rng.random() < 0.5 else b.concatenate([a, c])
        h = dense(b, rng, h, 3)
    elif arch in (2, 3):                                 # Conv1D
        x = b.input("x", (9, 2), *rand_type(rng, (9, 2)), round=r, overflow=o)
        w, wf = rand_weights(rng, (int(rng.integers(1, 4)), 2, 3))
        bias, bf = rand_weights(rng, (3,))
        h = b.conv(x, w, wf, bias, bf, strides=int(rng.integers(1, 3)),
                   padding=str(rng.choice(["valid", "same"])))
        h = act(b, rng, h, fns)
        pad = str(rng.choice(["valid", "same"]))
        if arch == 2:
            h = b.maxpool(h, int(rng.integers(2, 4)), strides=int(rng.integers(1, 3)), padding=pad)
        else:
            r2, o2 = rand_modes(rng)
            h = b.avgpool(h, int(rng.integers(2, 4)), *rand_type(rng, (1,), 8, 0.0), round=r2,
                          overflow=o2, strides=int(rng.integers(1, 3)), padding=pad,
                          c_f=int(rng.integers(3, 12)))
        h = dense(b, rng, b.flatten(h), 3)
    else:                                                # Conv2D, with a skip add / concat
        x = b.input("x", (5, 6, 2), *rand_type(rng, (5, 6, 2)), round=r, overflow=o)
        pad = str(rng.choice(["valid", "same"]))
        s = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        w, wf = rand_weights(rng, (2, 3, 2, 2))
        bias, bf = rand_weights(rng, (2,))
        h = act(b, rng, b.conv(x, w, wf, bias, bf, strides=s, padding=pad), fns)
        w2, wf2 = rand_weights(rng, (2, 3, 2, 2))
        g = act(b, rng, b.conv(x, w2, wf2, None, None, strides=s, padding=pad), fns)
        h = b.add(h, g) if arch == 4 else b.concatenate([h, g], axis=-1)
        if arch == 4:
            r2, o2 = rand_modes(rng)
            h = b.avgpool(h, (2, 2), *rand_type(rng, (1,), 8, 0.0), round=r2, overflow=o2,
                          strides=(1, 2), padding="same", c_f=10)
        else:
            h = b.maxpool(h, (2, 2), strides=(2, 1), padding="same")
        h = dense(b, rng, b.flatten(h), 2)
    r, o = rand_modes(rng)
    h = b.cast(h, *rand_type(rng, b.types[h].shape, 10, 0.0), round=r, overflow=o)
    return b.build([h]), fns, rng


def input_data(fw, rng, n, kind):
    t = fw.inputs[0].type
    shape = (n,) + t.shape
    hi = np.ldexp(1.0, t.i)
    lo = np.where(t.k == 1, -hi, 0)
    if kind == "tie":
        step = np.ldexp(1.0, -t.f)
        m = rng.integers(-20, 20, shape)
        return (m + 0.5) * step
    x = lo + (hi - lo) * rng.random(shape)
    if kind == "x4":
        x = x * 4 * np.where(rng.random(shape) < 0.5, -1, 1)
    return x


def assert_exact(fw, fns, x):
    trace = fw.predict(x, trace=True)
    out = fw.predict(x)
    for n in range(x.shape[0]):
        env = ref_run(fw, x[n], fns)
        for name, ref in env.items():
            got = trace[name][n]
            want = np.vectorize(float, otypes=[np.float64])(ref) if ref.size else ref.astype(np.float64)
            assert np.array_equal(got, want), f"sample {n} tensor {name}: {got} != {want}"
        assert np.array_equal(out[n], trace[fw.outputs[0]][n])


@pytest.mark.parametrize("seed", range(36))
@pytest.mark.parametrize("kind", ["calib", "x4", "tie"])
def test_random_graph_exact(seed, kind):
    fw, fns, rng = build_random(seed)
    x = input_data(fw, rng, 6, kind)
    assert_exact(fw, fns, x)


# ---------------------------------------------------------------------------------- targeted cases


@pytest.mark.parametrize("rnd", ROUNDING_MODES)
@pytest.mark.parametrize("ovf", OVERFLOW_MODES)
def test_cast_all_modes_ties_and_overflow(rnd, ovf):
    b = FirmwareBuilder()
    x = b.input("x", (4,), k=[1, 0, 1, 1], i=[6, 6, 0, -1], f=[3, 3, 6, 5])
    h = b.cast(x, k=[1, 0, 1, 1], i=[1, 1, -1, 2], f=[1, 0, 3, -1], round=rnd, overflow=ovf)
    fw = b.build([h])
    m = np.arange(-64, 64)
    xs = np.stack([m / 8, np.abs(m) / 8, m / 64, m / 32], axis=1)
    assert_exact(fw, {}, xs)


def test_int_path_when_float_not_exact():
    """Accumulators past 53 bits (but within 62) take the int64 matmul path and stay exact."""
    rng = np.random.default_rng(5)
    b = FirmwareBuilder()
    x = b.input("x", (8,), 1, 20, 4)
    w = rng.integers(-(2 ** 30), 2 ** 30, (8, 3))
    h = b.dense(x, w, 0)
    fw = b.build([h])
    from hgq_fpga.ir.types import linear_alignment
    plan, _, _ = linear_alignment(fw.ops[0], fw.types["x"])
    assert not plan.float_exact
    assert int(fw.ops[0].out.width.max()) > 53
    xs = rng.integers(-(2 ** 20), 2 ** 20, (5, 8)).astype(np.float64)
    raw = fw.run_raw(xs)[h]
    want = [[sum(int(xs[n, j] * 16) * int(w[j, o]) for j in range(8)) for o in range(3)] for n in range(5)]
    assert raw.tolist() == want


def test_width_beyond_int64_names_op():
    b = FirmwareBuilder()
    x = b.input("x", (64,), 1, 30, 10)
    h = b.dense(x, np.full((64, 2), 2 ** 25), 0, name="too_wide")
    fw = b.build([h])
    with pytest.raises(WidthError, match="too_wide"):
        fw.predict(np.zeros((1, 64)))


def test_zero_width_everything():
    b = FirmwareBuilder()
    x = b.input("x", (3,), 0, 0, 0)
    h = b.dense(x, np.ones((3, 2), np.int64), 0)
    fw = b.build([h])
    assert int(fw.ops[0].out.width.max()) == 0
    assert np.array_equal(fw.predict(np.ones((2, 3))), np.zeros((2, 2)))


def test_accumulator_type_is_tight():
    """The declared accumulator is the smallest type holding the exact extreme sums."""
    from hgq_fpga.fixed import range_type
    rng = np.random.default_rng(11)
    b = FirmwareBuilder()
    k, i, f = rand_type(rng, (7,))
    x = b.input("x", (7,), k, i, f)
    w, wf = rand_weights(rng, (7, 4))
    bias, bf = rand_weights(rng, (4,))
    h = b.dense(x, w, wf, bias, bf)
    acc = b.build([h]).ops[0].out
    for o in range(4):
        lo = hi = Fraction(int(bias[o])) * Fraction(2) ** int(-bf[o])
        fmax = [int(bf[o])] if bias[o] else []
        for j in range(7):
            wj = Fraction(int(w[j, o])) * Fraction(2) ** int(-wf[j, o])
            wd = int(k[j] + i[j] + f[j])
            if wd == 0 or wj == 0:
                continue
            xlo = Fraction(-(2 ** (wd - 1)) if k[j] else 0) / Fraction(2) ** int(f[j])
            xhi = Fraction(2 ** (wd - int(k[j])) - 1) / Fraction(2) ** int(f[j])
            lo += min(wj * xlo, wj * xhi)
            hi += max(wj * xlo, wj * xhi)
            fmax.append(int(f[j] + wf[j, o]))
        fa = max(fmax) if fmax else 0
        want = range_type(int(lo * 2 ** fa), int(hi * 2 ** fa), fa)
        if want[0] + want[1] + want[2] == 0:
            want = (0, 0, 0)
        assert (int(acc.k[o]), int(acc.i[o]), int(acc.f[o])) == want


def test_two_inputs_two_outputs():
    rng = np.random.default_rng(3)
    b = FirmwareBuilder()
    x = b.input("x", (3,), 1, 2, 3, "RND", "SAT")
    y = b.input("y", (3,), 0, 1, 4, "RND_CONV", "WRAP")
    s = b.add(x, y)
    c = b.cast(s, 1, 1, 2, "RND", "SAT")
    fw = b.build([s, c])
    xs = rng.normal(size=(20, 3)) * 3
    ys = rng.random((20, 3)) * 3
    out = fw.predict({"x": xs, "y": ys})
    assert isinstance(out, list) and len(out) == 2
    assert np.array_equal(out[0], fw.predict([xs, ys])[0])
    for n in range(20):
        ref = ref_run(fw, {"x": xs[n], "y": ys[n]}, {})
        assert np.array_equal(out[1][n], np.vectorize(float)(ref[c]))


def test_conv_int_path_exact_raw():
    """A Conv2D whose accumulator passes 53 bits runs on the int64 path; compare raw codes."""
    rng = np.random.default_rng(9)
    b = FirmwareBuilder()
    x = b.input("x", (4, 4, 2), 1, 24, rng.integers(-3, 4, (4, 4, 2)))
    w = rng.integers(-(2 ** 24), 2 ** 24, (2, 2, 2, 3))
    h = b.conv(x, w, rng.integers(0, 3, w.shape), rng.integers(-99, 99, 3), 1, strides=(2, 1),
               padding="same")
    fw = b.build([h])
    from hgq_fpga.ir.types import linear_alignment
    assert not linear_alignment(fw.ops[0], fw.types["x"])[0].float_exact
    xs = rng.integers(-(2 ** 20), 2 ** 20, (3, 4, 4, 2)) * np.ldexp(1.0, -fw.inputs[0].type.f)
    raw = fw.run_raw(xs)[h]
    t = fw.ops[0].out
    for n in range(3):
        ref = ref_run(fw, xs[n], {})[h]
        want = np.vectorize(lambda v, f: int(v * Fraction(2) ** int(f)), otypes=[object])(ref, t.f)
        assert raw[n].tolist() == want.tolist()


def test_table_checks():
    b = FirmwareBuilder()
    x = b.input("x", (2,), 1, 20, 4)
    with pytest.raises(ValueError, match="table input width"):
        b.table(x, np.tanh, 1, 0, 4)
    b = FirmwareBuilder()
    x = b.input("x", (2,), 1, 2, 3)
    t = b.table(x, np.tanh, 1, 0, 4)
    fw = b.build([t])
    fw.ops[0].lo = fw.ops[0].lo + 1          # no longer covers the lowest code
    with pytest.raises(ValueError, match="does not cover"):
        fw.predict(np.zeros((1, 2)))


def test_in_place_casts_do_not_corrupt_shared_buffers():
    """predict() lets casts overwrite dead intermediates; views (reshape) must stay intact."""
    rng = np.random.default_rng(4)
    b = FirmwareBuilder()
    x = b.input("x", (2, 3), 1, 3, 3, "RND", "SAT")
    r = b.reshape(x, (6,))
    c = b.cast(r, 1, 1, 1, "RND", "WRAP")
    d = b.dense(b.reshape(x, (6,)), rng.integers(-5, 5, (6, 2)), 1)
    h = b.concatenate([c, d])
    fw = b.build([h])
    xs = rng.normal(scale=5, size=(40, 2, 3))
    assert np.array_equal(fw.predict(xs), fw.predict(xs, trace=True)[h])
    for n in range(5):
        assert np.array_equal(fw.predict(xs)[n], np.vectorize(float)(ref_run(fw, xs[n], {})[h]))


@pytest.mark.parametrize("seed", range(6))
def test_chunked_predict_equals_one_pass(seed, monkeypatch):
    """predict() runs big batches in sample chunks and splits matmuls into row blocks; neither may
    change a single value (the trace path runs the whole batch at once, the reference per sample)."""
    import hgq_fpga.ir.emulator.linear as linear
    import hgq_fpga.ir.model as model
    monkeypatch.setattr(model, "CHUNK_ELEMENTS", 200)
    monkeypatch.setattr(linear, "GEMM_BLOCK", 40)
    fw, fns, rng = build_random(seed)
    x = np.concatenate([input_data(fw, rng, 50, kind) for kind in ("calib", "x4", "tie")])
    fw._compiled()
    assert fw._chunk_rows < len(x)          # several chunks
    out = fw.predict(x)
    assert np.array_equal(out, fw.predict(x, trace=True)[fw.outputs[0]])
    for n in rng.choice(len(x), 4, replace=False):
        want = np.vectorize(float, otypes=[np.float64])(ref_run(fw, x[n], fns)[fw.outputs[0]])
        assert np.array_equal(out[n], want)

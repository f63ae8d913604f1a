"""Multiplier-free weight quantizers (n-hot, FGQ ternary), the two-stage schedule, ternarize, and
the IR's adder count (``docs/method.md`` §8).

Keras = emulator = C++ (``ap_fixed`` build) bit for bit on Dense, Conv1D/2D and batch-norm models
using each quantizer, on calibration data, ×4 (overflow) and exact ties of the input types.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import hgq_fpga  # noqa: E402
from hgq_fpga.ir.adders import csd_digits  # noqa: E402
from hgq_fpga.nn import layers as L  # noqa: E402
from hgq_fpga.nn.nhot_schedule import NHotSchedule, nhot_quantizers  # noqa: E402
from hgq_fpga.nn.quantizers.nhot import NHotQuantizer, nearest_nhot_codes, nhot  # noqa: E402
from hgq_fpga.nn.quantizers.ternary import TernaryQuantizer, ternary, ternary_codes  # noqa: E402
from hgq_fpga.nn.ternarize import ternarize  # noqa: E402

tf_function = __import__("tensorflow").function


def _digit_sets(bits: int) -> dict[int, int]:
    """Brute force: every integer reachable with digits {-1, 0, 1} on ``bits`` positions -> the
    fewest nonzero digits that reach it."""
    best: dict[int, int] = {}
    for digits in itertools.product((-1, 0, 1), repeat=bits):
        value = sum(d << e for e, d in enumerate(digits))
        nz = sum(d != 0 for d in digits)
        best[value] = min(best.get(value, nz), nz)
    return best


DIGITS = _digit_sets(9)


def test_csd_digits_is_the_fewest_signed_digits():
    values = np.array([v for v in DIGITS if abs(v) < 256], np.int64)
    assert np.array_equal(csd_digits(values), np.array([DIGITS[int(v)] for v in values]))
    assert csd_digits(np.array([0, 1, -1, 3, 7, 2 ** 40 - 1]))[-1] == 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_nhot_is_the_nearest_value_with_n_digits(n):
    allowed = np.array(sorted(v for v, d in DIGITS.items() if d <= n and abs(v) <= 256), np.float64)
    rng = np.random.default_rng(n)
    v = np.concatenate([rng.uniform(-200, 200, 2000),
                        (allowed[:-1] + allowed[1:]) / 2,        # exact ties
                        allowed])
    got = nearest_nhot_codes(v, n).astype(np.float64)
    dist = np.abs(allowed[None] - v[:, None])
    best = dist.min(axis=1)
    assert np.array_equal(np.abs(got - v), best)
    ties_up = np.max(np.where(dist == best[:, None], allowed[None], -np.inf), axis=1)
    assert np.array_equal(got, ties_up)
    assert np.all(csd_digits(got.astype(np.int64)) <= n)
    # the float32 training-mode search finds the same distance
    q = NHotQuantizer(n=n)
    q.build((v.size,))
    train = keras.ops.convert_to_numpy(q.round_scaled(keras.ops.convert_to_tensor(v, "float32")))
    v32 = v.astype(np.float32).astype(np.float64)
    assert np.array_equal(np.abs(train - v32), np.abs(nearest_nhot_codes(v32, n) - v32))


def test_ternary_codes_follow_fgq():
    rng = np.random.default_rng(3)
    w = rng.normal(0, 0.3, (3, 3, 7, 5))
    m, F = ternary_codes(w, group_size=4, alpha_bits=3)
    W, M, FF = w.reshape(-1, 5), m.reshape(-1, 5), F.reshape(-1, 5)
    for o in range(5):
        for g0 in range(0, W.shape[0], 4):
            grp = W[g0:g0 + 4, o]
            delta = 0.7 * np.mean(np.abs(grp))
            keep = np.abs(grp) > delta
            alpha = np.mean(np.abs(grp[keep]))
            e = int(np.floor(np.log2(alpha))) + 1
            code = int(np.floor(alpha * 2.0 ** (3 - e) + 0.5))
            want = np.where(keep, np.sign(grp) * code, 0)
            assert np.array_equal(M[g0:g0 + 4, o], want)
            assert set(FF[g0:g0 + 4, o]) == {3 - e}


def _mixed_model(quantizers, rank: int, batch_norm: bool) -> keras.Model:
    """Conv (rank 1 or 2) -> flatten -> Dense(-BN) -> Dense, each kernel with the next quantizer."""
    kq = iter(quantizers)
    shape = (9, 2) if rank == 1 else (5, 5, 2)
    conv = {1: (L.HConv1DBatchNorm if batch_norm else L.HConv1D),
            2: (L.HConv2DBatchNorm if batch_norm else L.HConv2D)}[rank]
    opts = dict(bias_initializer="random_normal", output_quantizer={"overflow_mode": "SAT"})
    inp = keras.Input(shape)
    x = L.HQuantize(output_quantizer={"round_mode": "RND"})(inp)
    x = conv(4, 3, activation="relu", kernel_quantizer=next(kq), **opts)(x)
    x = L.HFlatten()(x)
    dense = L.HDenseBatchNorm if batch_norm else L.HDense
    x = dense(6, activation="relu", kernel_quantizer=next(kq), **opts)(x)
    return keras.Model(inp, L.HDense(3, kernel_quantizer=next(kq), output_quantizer={"round_mode": "RND"})(x))


def _ties(model, rng, n=64):
    k, i, f = model.layers[1].output_types()
    w = k + i + f
    lo = np.where(k == 1, -(2.0 ** np.maximum(w - 1, 0)), 0.0) - 2
    hi = 2.0 ** np.maximum(w - k, 0) + 2
    return (np.floor(lo + (hi - lo) * rng.random((n,) + k.shape)) + 0.5) * np.ldexp(1.0, -f)


CASES = {
    "nhot-conv1d": ([nhot(1), nhot(2), nhot(3)], 1, False),
    "nhot-conv2d-bn": ([nhot(2), nhot(1, init_bits=4), nhot(3)], 2, True),
    "ternary-conv2d": ([ternary(4), ternary(16, alpha_bits=3), ternary(4)], 2, False),
    "ternary-conv1d-bn": ([ternary(8), ternary(4), nhot(2)], 1, True),
}


def _trained(name):
    quantizers, rank, bn = CASES[name]
    keras.utils.set_random_seed(7)
    model = _mixed_model(quantizers, rank, bn)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (96,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, rng.normal(0, 1, (96, 3)), epochs=1, batch_size=32, verbose=0)
    hgq_fpga.calibrate(model, x)
    return model, x, rng


def _check_weight_sets(model):
    for layer in model.layers:
        kq = getattr(layer, "kq", None)
        if kq is None:
            continue
        m = np.ldexp(layer.quantized_kernel(), layer.kernel_types()[2]).astype(np.int64)
        if isinstance(kq, NHotQuantizer):
            assert csd_digits(m).max() <= kq.n
            assert np.count_nonzero(m) > 0
        elif isinstance(kq, TernaryQuantizer):
            wq = layer.quantized_kernel().reshape(-1, m.shape[-1])
            for g0 in range(0, wq.shape[0], kq.group_size):
                for o in range(wq.shape[1]):
                    values = set(wq[g0:g0 + kq.group_size, o].tolist())
                    alpha = max(abs(v) for v in values)
                    assert values <= {-alpha, 0.0, alpha}


def test_keras_equals_emulator_equals_cpp(tmp_path):
    from hgq_fpga.backends.hls.project import compile_projects
    from hgq_fpga.backends.hls.writer import write_project
    models, projects, data = [], [], []
    for n, name in enumerate(CASES):
        model, x, rng = _trained(name)
        _check_weight_sets(model)
        fw = hgq_fpga.to_firmware(model)
        models.append(model)
        projects.append(write_project(fw, tmp_path / name, name=f"m{n}"))
        data.append({"calibration": x, "x4": 4 * x, "ties": _ties(model, rng)})
    compile_projects(projects, cache_dir=tmp_path / "cache", macs="ap_fixed")
    for name, model, project, cases in zip(CASES, models, projects, data):
        for case, x in cases.items():
            report = hgq_fpga.verify(model, x, project=project)
            assert report.mismatches == 0, f"{name}, {case}:\n{report}"
            assert report.emulator_vs_csim == 0


def _brute_adders(model) -> int:
    """Adders from the Keras weights and input types with plain loops (Dense layers only)."""
    total = 0
    for layer in model.layers:
        if not isinstance(layer, L.HDense):
            continue
        k, i, f = layer.input_types()
        alive = (k + i + f) > 0
        m = np.ldexp(layer.quantized_kernel(), layer.kernel_types()[2]).astype(np.int64)
        b = layer.quantized_bias()
        for o in range(m.shape[1]):
            terms = 0
            for j in range(m.shape[0]):
                if m[j, o] != 0 and alive[j]:
                    terms += 1
                    total += DIGITS[int(m[j, o])] - 1 if abs(m[j, o]) < 256 else 0
            terms += int(b[o] != 0)
            total += max(terms - 1, 0)
    return total


def test_adder_count_equals_brute_force():
    keras.utils.set_random_seed(2)
    inp = keras.Input((10,))
    x = L.HQuantize()(inp)
    x = L.HDense(7, activation="relu", kernel_quantizer=nhot(2, init_bits=4), bias_initializer="random_normal")(x)
    x = L.HDense(5, activation="relu", kernel_quantizer={"init_bits": 3})(x)
    model = keras.Model(inp, L.HDense(3, kernel_quantizer=ternary(4, alpha_bits=3))(x))
    x = np.random.default_rng(0).normal(0, 1, (64, 10))
    hgq_fpga.calibrate(model, x)
    res = hgq_fpga.to_firmware(model).resources()
    want = _brute_adders(model)
    assert want > 0
    assert res.adders == want == sum(r.adders for r in res.ops)
    assert res.ebops == hgq_fpga.ebops(model)


def test_save_load_round_trips_the_quantizers(tmp_path):
    model, x, _ = _trained("ternary-conv1d-bn")
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(model.layers, loaded.layers):
        if hasattr(a, "kq"):
            assert type(a.kq) is type(b.kq) and a.kq.get_config() == b.kq.get_config()
            assert np.array_equal(a.quantized_kernel(), b.quantized_kernel())
    assert np.array_equal(keras.ops.convert_to_numpy(model(x)), keras.ops.convert_to_numpy(loaded(x)))
    assert hgq_fpga.verify(loaded, x).mismatches == 0


def test_two_stage_schedule_switches_terms():
    keras.utils.set_random_seed(0)
    model = _mixed_model([nhot(1, max_terms=3), nhot(2, max_terms=3), nhot(1, max_terms=3)], 1, False)
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([float(keras.ops.convert_to_numpy(q.n_active)) for q in nhot_quantizers(model)])

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (32, 9, 2))
    model.compile("adam", "mse")
    model.fit(x, rng.normal(0, 1, (32, 3)), epochs=3, verbose=0, callbacks=[NHotSchedule(2, n_loose=3), Probe()])
    assert seen == [[3.0] * 3, [3.0] * 3, [1.0, 2.0, 1.0]]
    with pytest.raises(ValueError, match="max_terms"):
        nhot_quantizers(model)[0].set_terms(4)
    # the variable drives the compiled training-mode rounding without a retrace
    q = nhot_quantizers(model)[0]
    rounding = tf_function(q.round_scaled)
    v = keras.ops.convert_to_tensor(np.array([23.0, 45.0, 0.4, -11.0]), "float32")
    got = {}
    for n in (0, 1, 2, 3):
        q.set_terms(n)
        got[n] = keras.ops.convert_to_numpy(rounding(v)).tolist()
    assert got == {0: [23.0, 45.0, 0.0, -11.0], 1: [16.0, 32.0, 0.0, -8.0], 2: [24.0, 48.0, 0.0, -10.0],
                   3: [23.0, 46.0, 0.0, -11.0]}   # 45 needs 4 digits; 44 and 46 tie: up


def test_ternarize_post_training():
    keras.utils.set_random_seed(5)
    model = _mixed_model([{}, {}, {}], 2, True)
    x = np.random.default_rng(0).normal(0, 1, (64, 5, 5, 2))
    model.compile("adam", "mse")
    model.fit(x, x[:, 0, 0, :1].repeat(3, 1), epochs=1, verbose=0)
    tern = ternarize(model, 4, alpha_bits=4)
    assert all(isinstance(l.kq, TernaryQuantizer) for l in tern.layers if hasattr(l, "kq"))
    assert np.array_equal(tern.layers[2].kernel.numpy(), model.layers[2].kernel.numpy())
    hgq_fpga.calibrate(tern, x)
    _check_weight_sets(tern)
    assert hgq_fpga.verify(tern, np.concatenate([x, 4 * x])).mismatches == 0


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="n >= 1"):
        NHotQuantizer(n=0)
    with pytest.raises(ValueError, match="RND"):
        NHotQuantizer(n=2, round_mode="TRN")
    with pytest.raises(ValueError, match="group_size"):
        TernaryQuantizer(group_size=0)
    with pytest.raises(ValueError, match="weights only"):
        TernaryQuantizer(kind="activation")


def test_report_shows_the_adder_count():
    from hgq_fpga.app.report.stats import summarize
    keras.utils.set_random_seed(2)
    inp = keras.Input((6,))
    x = L.HQuantize()(inp)
    model = keras.Model(inp, L.HDense(3, kernel_quantizer=nhot(2), bias_initializer="random_normal")(x))
    hgq_fpga.calibrate(model, np.random.default_rng(0).normal(0, 1, (32, 6)))
    fw = hgq_fpga.to_firmware(model)
    stats = summarize(fw).to_dict()
    assert stats["adders"] == fw.resources().adders > 0
    assert sum(layer["adders"] for layer in stats["layers"]) == stats["adders"]

"""Post-training quantization of float Keras models (hgq_fpga.nn.ptq).

A corpus of small float architectures covering every mapped layer kind (Dense, Conv1D/2D,
BatchNormalization folded into a kernel, ReLU/Activation/LeakyReLU, max and average pooling, Add,
Concatenate, Flatten, Reshape, Dropout, a final softmax dropped) with heavy-tailed random weights
on scikit-learn's digits. For each: float -> PTQ -> firmware must be bit-exact (Keras == emulator,
compared with ``==``, also on inputs far outside the calibrated range), and the EasyQuant search
must give a higher output cosine similarity with the float model than min/max.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import hgq_fpga  # noqa: E402
from hgq_fpga.nn.ptq import UnmappableLayerError, quantize_float  # noqa: E402

L = keras.layers


def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return (d.data / 16.0).astype("float32"), d.target


def _heavy_tailed(model: keras.Model, seed: int) -> keras.Model:
    """Student-t kernels (outliers, as trained networks have) and non-trivial batch-norm statistics."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.weights:
            shape = tuple(v.shape)
            if v.name == "kernel":
                fan_in = int(np.prod(shape[:-1]))
                v.assign((rng.standard_t(3, shape) / np.sqrt(3 * fan_in)).astype("float32"))
            elif v.name == "bias":
                v.assign(rng.normal(0, 0.1, shape).astype("float32"))
            elif v.name in ("gamma", "moving_variance"):
                v.assign(rng.uniform(0.5, 2.0, shape).astype("float32"))
            elif v.name in ("beta", "moving_mean"):
                v.assign(rng.normal(0, 0.3, shape).astype("float32"))
    return model


def mlp():
    inp = keras.Input((64,))
    x = L.Dense(32)(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    x = L.Dense(24, activation="tanh")(x)
    x = L.Dropout(0.2)(x)
    return keras.Model(inp, L.Dense(10, activation="softmax")(x), name="mlp")


def cnn2d():
    inp = keras.Input((64,))
    x = L.Reshape((8, 8, 1))(inp)
    x = L.Conv2D(6, 3, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(8, 2, strides=1, padding="valid", activation="relu")(x)
    x = L.AveragePooling2D(3)(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(10)(x), name="cnn2d")


def cnn1d():
    inp = keras.Input((64,))
    x = L.Reshape((16, 4))(inp)
    x = L.Conv1D(8, 3, strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("sigmoid")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.Conv1D(6, 2, activation="relu")(x)
    x = L.AveragePooling1D(3, padding="same")(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(10)(x), name="cnn1d")


def branches():
    inp = keras.Input((64,))
    h = L.Dense(24, activation="relu")(inp)
    a = L.Dense(16)(h)
    b = L.LeakyReLU(negative_slope=0.2)(L.Dense(16)(h))
    s = L.ReLU()(L.Add()([a, b]))
    c = L.Concatenate()([s, L.Dense(8, activation="relu")(h)])
    return keras.Model(inp, L.Dense(10)(c), name="branches")


def sequential():
    return keras.Sequential([keras.Input((64,)), L.Dense(20, activation="relu"), L.Dense(10)],
                            name="sequential")


CORPUS = {f.__name__: f for f in (mlp, cnn2d, cnn1d, branches, sequential)}


@pytest.fixture(scope="module")
def data():
    x, y = _digits()
    return x[:256], y[:256]


def _model(name: str, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return _heavy_tailed(CORPUS[name](), seed)


def _exact(qmodel: keras.Model, x: np.ndarray):
    fw = hgq_fpga.to_firmware(qmodel)
    for xs in (x, 4.0 * x - 1.0):                # also far outside the calibrated range
        xs = xs.astype("float32")
        keras_out = np.asarray(qmodel.predict(xs, verbose=0), np.float64)
        assert np.sum(keras_out != fw.predict(xs)) == 0
    return fw


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_ptq_bit_exact_and_easyquant_beats_minmax(name, data):
    x, _ = data
    model = _model(name)
    results = {}
    for search in ("minmax", "easyquant"):
        r = quantize_float(model, x, weight_bits=6, act_bits=6, search=search, drop_softmax=True)
        fw = _exact(r.model, x)
        assert fw.resources().ebops == r.ebops == hgq_fpga.ebops(r.model)
        results[search] = r.output_cosine
    assert results["easyquant"] > results["minmax"], results


def test_per_tensor_and_8_bits(data):
    x, _ = data
    qmodel = quantize_float(_model("cnn2d"), x, weight_bits=8, act_bits=8, granularity="per_tensor").model
    _exact(qmodel, x)
    for layer in qmodel.layers:
        if hasattr(layer, "kq"):
            k, i, f = layer.kernel_types()
            live = (k + i + f) > 0
            assert len(np.unique(f[live])) == 1            # one binary point for the whole kernel
            assert int((k + i + f).max()) <= 8


def test_widths_respected(data):
    x, _ = data
    r = quantize_float(_model("branches"), x, weight_bits=5, act_bits=7)
    for layer in r.model.layers:
        if hasattr(layer, "kq"):
            k, i, f = layer.kernel_types()
            assert int((k + i + f).max()) <= 5
        if hasattr(layer, "oq"):
            k, i, f = layer.output_types()
            assert int((k + i + f).max()) <= 7


def test_hls_csim_bit_exact(data, tmp_path):
    from hgq_fpga.backends.hls.writer import write_project

    x, _ = data
    qmodel = quantize_float(_model("branches"), x[:200], weight_bits=6, act_bits=6).model
    fw = hgq_fpga.to_firmware(qmodel)
    project = write_project(fw, tmp_path / "fw", board="vu9p")
    project.compile(macs="ap_fixed")
    report = hgq_fpga.verify(qmodel, x[:200], firmware=fw, project=project)
    assert report.mismatches == 0, report


def test_saved_and_loaded(data, tmp_path):
    x, _ = data
    qmodel = quantize_float(_model("mlp"), x, drop_softmax=True).model
    qmodel.save(tmp_path / "q.keras")
    loaded = keras.models.load_model(tmp_path / "q.keras", compile=False)
    assert np.array_equal(np.asarray(loaded.predict(x, verbose=0)), np.asarray(qmodel.predict(x, verbose=0)))


@pytest.mark.parametrize("build, needle", [
    (lambda: keras.Sequential([keras.Input((64,)), L.Dense(8), L.LayerNormalization(name="ln")]), "'ln'"),
    (lambda: keras.Sequential([keras.Input((64,)), L.Reshape((8, 8)), L.BatchNormalization(axis=1, name="bn0"),
                               L.Dense(4)]), "'bn0'"),
    (lambda: keras.Sequential([keras.Input((64,)), L.Dense(4, activation="softsign"),
                               L.Softmax(axis=(0, 1), name="sm")]), "'sm'"),
    (lambda: keras.Sequential([keras.Input((64,)), L.Dense(4), L.ReLU(max_value=2.0, name="r2")]), "'r2'"),
])
def test_unmappable_layer_is_named(build, needle, data):
    with pytest.raises(UnmappableLayerError, match=needle):
        quantize_float(build(), data[0][:50])


def test_bad_arguments(data):
    x, _ = data
    model = _model("sequential")
    with pytest.raises(ValueError, match="weight_bits"):
        quantize_float(model, x, weight_bits=1)
    with pytest.raises(ValueError, match="search"):
        quantize_float(model, x, search="kl")
    with pytest.raises(ValueError, match="shape"):
        quantize_float(model, x[:, :10])


# ------------------------------------------------------------------ mixed precision
def test_mixed_precision_meets_ebops_budget(data):
    x, _ = data
    model = _model("mlp")
    uniform = quantize_float(model, x[:200], 8, 8, drop_softmax=True)
    budget = uniform.ebops // 2
    r = quantize_float(model, x[:200], 8, 8, drop_softmax=True, ebops_budget=budget)
    assert r.ebops <= budget < uniform.ebops
    assert r.lowered and r.lowered[-1]["ebops"] == r.ebops
    fw = _exact(r.model, x)
    assert fw.resources().ebops == r.ebops
    widths = {c.wbits for c in r.layers.values() if c.wbits} | {c.abits for c in r.layers.values() if c.abits}
    assert len(widths) > 1                                 # mixed, not uniform
    # issue 35: print(result) is a table, not the log's raw dicts
    text = str(r).splitlines()
    assert text[0] == (f"PTQResult: {len(r.layers)} layers, {r.ebops:,} EBOPs, output cosine "
                       f"{r.output_cosine:.5f} (with the float model, on the calibration data)")
    assert text[1].split() == ["layer", "weight", "bits", "weight", "int.", "bits", "activation", "cosine"]
    for line, (name, c) in zip(text[2:], r.layers.items()):
        cells = line.split()
        assert cells[0] == name and cells[-1] == f"{c.cosine:.5f}"
        assert cells[1] == (str(c.wbits) if c.wbits else "–") and ("ap_" in cells[3] or cells[3] == "–")
    assert text[-1].startswith(f"  mixed precision: {len(r.lowered)} bits taken away") and "{" not in str(r)
    assert "lowered" not in repr(r) and "ebops=" in repr(r)


def test_mixed_precision_greedy_on_a_subset(data):
    """Trials scored on 64 inputs; the final types are searched on all 200 and the budget holds there."""
    from hgq_fpga.nn.ptq.search import run_search

    x, _ = data
    model = _model("sequential")
    budget = quantize_float(model, x[:200], 6, 6).ebops // 2
    r = quantize_float(model, x[:200], 6, 6, ebops_budget=budget, mixed_samples=64)
    assert r.ebops <= budget
    assert r.lowered[0]["samples"] == 64 and r.state.quant[r.state.mapped.outputs[0]].shape[0] == 200
    _exact(r.model, x)
    widths = [(c.wbits, c.abits) for c in r.layers.values()]
    again = run_search(r.state.mapped, [x[:200]], 6, 6, "easyquant", widths=widths)
    if not any(e["samples"] == 200 for e in r.lowered):     # no settling step: the full search at those widths
        assert again.ebops() == r.ebops and again.output_cosine() == r.output_cosine


@pytest.mark.slow   # 30 s; the budget search itself is tested in the default suite
def test_budgets_from_one_descent_equal_single_runs(data):
    from hgq_fpga.nn.ptq import quantize_float_budgets

    x, _ = data
    model = _model("sequential")
    full = quantize_float(model, x[:128], 6, 6).ebops
    budgets = [full * 3 // 4, full // 2]
    many = quantize_float_budgets(model, x[:128], budgets, 6, 6, mixed_samples=32)
    for budget, r in zip(budgets, many):
        one = quantize_float(model, x[:128], 6, 6, ebops_budget=budget, mixed_samples=32)
        assert r.ebops == one.ebops <= budget
        assert [(c.wbits, c.abits) for c in r.layers.values()] == [(c.wbits, c.abits) for c in one.layers.values()]
        _exact(r.model, x)
    assert many[1].ebops < many[0].ebops


def test_mixed_precision_impossible_budget_raises(data):
    x, _ = data
    with pytest.raises(ValueError, match="cannot be met"):
        quantize_float(_model("sequential"), x[:100], 4, 4, ebops_budget=1, min_bits=3)


def _trained_mlp(x, y) -> keras.Model:
    keras.utils.set_random_seed(1)
    f = keras.Sequential([keras.Input((64,)), L.Dense(32, activation="relu"), L.Dense(10)])
    f.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    f.fit(x, y, epochs=15, batch_size=64, verbose=0)
    return f


def test_mixed_precision_by_accuracy_loss():
    from hgq_fpga.nn.ptq.mixed import accuracy

    x, y = _digits()
    model = _trained_mlp(x[:1200], y[:1200])
    x_val, y_val = x[1200:1500], y[1200:1500]
    float_acc = accuracy(y_val, np.asarray(model.predict(x_val, verbose=0)))
    uniform = quantize_float(model, x[:200], 6, 6)
    r = quantize_float(model, x[:200], 6, 6, max_accuracy_loss=0.02, x_val=x_val, y_val=y_val)
    assert r.ebops < uniform.ebops
    acc = accuracy(y_val, np.asarray(r.model.predict(x_val, verbose=0)))
    assert float_acc - acc <= 0.02
    _exact(r.model, x_val)


# ------------------------------------------------------------------ fine-tuning
def test_uncalibrate_hands_ptq_widths_to_hgq_training():
    from hgq_fpga.nn.callbacks import BetaScheduler

    x, y = _digits()
    model = _trained_mlp(x[:1200], y[:1200])
    frozen = quantize_float(model, x[:300], 6, 6)
    fixed_f = {l.name: l.kq.fixed_types()[2].copy() for l in frozen.model.layers if hasattr(l, "kq")}
    from hgq_fpga.nn.calibration import uncalibrate

    qmodel = uncalibrate(quantize_float(model, x[:300], 6, 6).model)
    for layer in qmodel.layers:
        if hasattr(layer, "kq"):                            # training starts from the PTQ binary points
            f = layer.kq.rounded_f()
            live = fixed_f[layer.name] != 0
            assert np.array_equal(f[live], fixed_f[layer.name][live])
    kernel0 = np.asarray(qmodel.layers[-1].kernel).copy()
    qmodel.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    hist = qmodel.fit(x[:1200], y[:1200], epochs=2, batch_size=128, verbose=0,
                      callbacks=[BetaScheduler(lambda epoch: 1e-6)])
    assert np.all(np.isfinite(hist.history["loss"]))
    assert not np.array_equal(np.asarray(qmodel.layers[-1].kernel), kernel0)
    hgq_fpga.calibrate(qmodel, x[:1200])
    _exact(qmodel, x[1200:])


# ------------------------------------------------------------------ command line
def test_cli_convert_from_float(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from hgq_fpga.app.cli import main

    monkeypatch.setenv("HGQ_FPGA_CACHE", str(tmp_path / "cache"))
    x, _ = _digits()
    _model("sequential").save(tmp_path / "float.keras")
    np.save(tmp_path / "calib.npy", x[:200])
    run = lambda *a: CliRunner().invoke(main, [str(v) for v in a])  # noqa: E731
    result = run("convert", tmp_path / "float.keras", "--from", "float", "--bits", "6", "--calib",
                 tmp_path / "calib.npy", "--out", tmp_path / "design")
    assert result.exit_code == 0, result.output
    loaded = keras.models.load_model(tmp_path / "design" / "model.keras", compile=False)
    k, i, f = loaded.layers[-1].kernel_types()
    assert int((k + i + f).max()) <= 6
    result = run("verify", tmp_path / "design", "--data", tmp_path / "calib.npy")
    assert result.exit_code == 0, result.output
    refused = run("convert", tmp_path / "float.keras", "--calib", tmp_path / "calib.npy",
                  "--out", tmp_path / "d2", "--weight-bits", "4")
    assert refused.exit_code != 0 and "--weight-bits: option(s) of --from float" in refused.output
    refused = run("convert", tmp_path / "float.keras", "--calib", tmp_path / "calib.npy",
                  "--out", tmp_path / "d2", "--search", "minmax", "--bits", "8")
    assert refused.exit_code != 0 and "--bits, --search: option(s) of --from float" in refused.output

"""What a user does after calibration, checked against the firmware emulator with ``==``.

``model.compile(...)`` then ``model.predict`` / ``model.evaluate`` (eagerly traced, and compiled by
XLA with ``jit_compile=True``, which Keras picks by default on a GPU), saving and loading, float32
inputs. Calibrated-mode Keras must give the emulator's bits in every case.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga.nn.layers import (HActivation, HAveragePooling2D, HConv2D, HConv2DBatchNorm,  # noqa: E402
                             HDense, HDenseBatchNorm, HFlatten, HMaxPooling2D, HQuantize)
from hgq_fpga.nn.quantizers.exact import exp2_exact  # noqa: E402

def _predict(model, x, jit: bool) -> np.ndarray:
    model.compile(loss="mse", jit_compile=jit)
    return model.predict(x, verbose=0, batch_size=256)


def _dense(rng):
    inp = keras.Input((12,))
    h = HDense(16, activation="relu")(HQuantize()(inp))
    return keras.Model(inp, HDense(4)(h)), rng.normal(size=(300, 12)).astype("float32")


def _conv(rng):
    inp = keras.Input((8, 8, 2))
    h = HConv2D(3, 3, activation="relu")(HQuantize()(inp))
    h = HFlatten()(HMaxPooling2D(2)(h))
    return keras.Model(inp, HDense(3)(h)), rng.normal(size=(200, 8, 8, 2)).astype("float32")


def _tanh(rng):
    inp = keras.Input((6,))
    h = HActivation("tanh")(HDense(8)(HQuantize()(inp)))
    return keras.Model(inp, HActivation("sigmoid")(HDense(3)(h))), rng.normal(size=(300, 6)).astype("float32")


def _batchnorm(rng):
    inp = keras.Input((7, 7, 2))
    h = HConv2DBatchNorm(3, 2, activation="relu")(HQuantize()(inp))
    h = HFlatten()(HAveragePooling2D(3)(h))
    h = HDenseBatchNorm(5, activation="relu")(h)
    return keras.Model(inp, HDense(2)(h)), rng.normal(size=(200, 7, 7, 2)).astype("float32")


@pytest.mark.parametrize("make", [_dense, _conv, _tanh, _batchnorm], ids=["dense", "conv", "tanh", "bn_avgpool"])
def test_compiled_predict_equals_emulator(make):
    rng = np.random.default_rng(3)
    model, x = make(rng)
    model.compile("adam", "mse")
    model.fit(x, rng.normal(size=(len(x),) + model.output_shape[1:]), epochs=1, batch_size=100, verbose=0)
    hgq_fpga.calibrate(model, x)
    fw = hgq_fpga.to_firmware(model)
    xs = np.concatenate([x, 4 * x, 16 * x[:50]])               # out of range: WRAP overflow too
    ref = fw.predict(xs.astype(np.float64))
    for jit in (False, True):
        y = _predict(model, xs, jit)
        assert y.dtype == np.float64
        assert np.array_equal(y, ref), f"jit_compile={jit}"
    # evaluate on the emulator's outputs: zero loss, exactly
    assert model.evaluate(xs, ref, verbose=0, batch_size=256, return_dict=True)["loss"] == 0.0


def _check(model, x, ref=None) -> None:
    ref = hgq_fpga.to_firmware(model).predict(np.asarray(x, np.float64)) if ref is None else ref
    for jit in (False, True):
        assert np.array_equal(_predict(model, x, jit), ref), f"jit_compile={jit}"


def test_xla_tanh_saturation_matches_table():
    """XLA's float64 tanh rounds to 1.0 from about 17.7 on; the firmware table does not."""
    inp = keras.Input((1,))
    q = HQuantize(output_quantizer={"f_init": 7})
    model = keras.Model(inp, HActivation("tanh", output_quantizer={"f_init": 10})(q(inp)))
    x = np.arange(-24 * 128, 24 * 128, dtype=np.float64)[:, None] / 128
    hgq_fpga.calibrate(model, x)
    _check(model, x)


def test_xla_batchnorm_fusion_uses_calibrated_weights(tmp_path):
    """gamma / sqrt(var + eps) is 1.0 eagerly but 1 - 2**-24 under XLA for these variances."""
    inp = keras.Input((4,))
    bn = HDenseBatchNorm(8, kernel_quantizer={"round_mode": "TRN", "init_bits": 4})
    model = keras.Model(inp, bn(HQuantize()(inp)))
    var = np.array([8.17695, 0.4324972, 1.3304044, 2.5, 3.7, 0.9, 5.1, 7.3], np.float32)
    bn.moving_var.assign(var)
    bn.gamma.assign(np.sqrt(var + np.float32(bn.epsilon)).astype(np.float32))
    bn.kernel.assign(np.full((4, 8), 0.5, np.float32))
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    hgq_fpga.calibrate(model, x)
    assert np.all(bn.quantized_kernel() == 0.5)
    _check(model, x)
    # the fused quantized weights survive saving and loading
    path = str(tmp_path / "bn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert np.array_equal(loaded.layers[-1].quantized_kernel(), bn.quantized_kernel())
    _check(loaded, x)


def test_exp2_exact_under_xla():
    import tensorflow as tf

    t = np.arange(-255, 256, dtype=np.float64)
    want = np.ldexp(1.0, t.astype(np.int64))
    assert np.array_equal(keras.ops.convert_to_numpy(exp2_exact(t)), want)
    xla = tf.function(lambda v: exp2_exact(v), jit_compile=True)(tf.constant(t))
    assert np.array_equal(xla.numpy(), want)


def test_float32_input_is_exact():
    rng = np.random.default_rng(1)
    model, x = _dense(rng)
    hgq_fpga.calibrate(model, x)
    x32 = (rng.normal(size=(500, 12)) * 3).astype(np.float32)
    ref = hgq_fpga.to_firmware(model).predict(x32)
    assert np.array_equal(np.asarray(model(x32)), ref)
    assert np.array_equal(model.predict(x32, verbose=0), ref)


def test_readme_quick_start_runs(tmp_path, monkeypatch, capsys):
    """The README's quick start, as a user copies it (only the epoch count lowered)."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## Quick start\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert "epochs=50" in code and "log_ramp(1e-7, 1e-4, 50)" in code
    code = code.replace("epochs=50", "epochs=2").replace("log_ramp(1e-7, 1e-4, 50)", "log_ramp(1e-7, 1e-4, 2)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HGQ_FPGA_CACHE", str(tmp_path / "cache"))
    scope = {"__name__": "__quickstart__"}
    exec(compile(code, "README.md quick start", "exec"), scope)
    design = scope["design"]
    assert design.verification.mismatches == 0 and design.ok
    assert design.verification.samples == 2000   # the held-out test data is the verification
    printed = capsys.readouterr().out
    assert "0 (Keras = emulator = C++ on 2,000 samples, test data)" in printed   # the summary table
    assert (tmp_path / "build" / "fw").is_dir() and any((tmp_path / "checkpoints").iterdir())
    assert (tmp_path / "build" / "fw" / "report" / "pareto.png").is_file()  # the front went into the record
    # the quick start builds the one folder type every command reads
    from click.testing import CliRunner

    from hgq_fpga.app.cli import main

    result = CliRunner().invoke(main, ["report", str(tmp_path / "build" / "fw")])
    assert result.exit_code == 0, result.output
    np.save(tmp_path / "x.npy", np.zeros((3, 16)))
    result = CliRunner().invoke(main, ["emulate", str(tmp_path / "build" / "fw"), "--data", str(tmp_path / "x.npy"),
                                       "--out", str(tmp_path / "y.npy")])
    assert result.exit_code == 0, result.output


def test_ebops_before_any_data_warns():
    model, x = _dense(np.random.default_rng(0))
    with pytest.warns(UserWarning, match="has not seen data yet"):
        assert hgq_fpga.ebops(model) == 0.0
    model(x, training=True)
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert hgq_fpga.ebops(model) > 0
    assert not [w for w in caught if "not seen data" in str(w.message)]


def test_calibrate_with_a_dataset_says_what_to_pass():
    import tensorflow as tf

    model, x = _dense(np.random.default_rng(0))
    with pytest.raises(ValueError, match="NumPy arrays.*got .*Dataset.*as_numpy_iterator"):
        hgq_fpga.calibrate(model, tf.data.Dataset.from_tensor_slices(x).batch(32))

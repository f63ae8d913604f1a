"""Calibration: errors, exact EBOPs, the 53-bit guard, and require_calibrated."""

import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga.nn.calibration import calibrate, require_calibrated  # noqa: E402
from conftest import build_hgq_mlp  # noqa: E402


def _model():
    return build_hgq_mlp(5, 4, 2, names=("qin", "d1", "d2"))


def test_calibrate_empty_is_clear_error():
    with pytest.raises(ValueError, match="non-empty"):
        calibrate(_model(), np.zeros((0, 5), np.float32))
    with pytest.raises(ValueError, match="non-empty"):
        calibrate(_model(), [])
    with pytest.raises(ValueError, match="got None"):
        calibrate(_model(), None)


def test_calibrate_wrong_shape_is_one_clear_line():
    for bad in (np.zeros(5), np.zeros((8, 4)), np.zeros((8, 5, 1))):
        with pytest.raises(ValueError) as err:
            calibrate(_model(), bad)
        msg = str(err.value)
        assert "\n" not in msg and f"shape {bad.shape}" in msg and "expects (samples, 5)" in msg


def test_calibrate_non_finite_is_clear_error():
    x = np.ones((8, 5), np.float32)
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        calibrate(_model(), x)


def test_require_calibrated_names_layer():
    model = _model()
    with pytest.raises(ValueError, match="'qin'.*not calibrated"):
        require_calibrated(model)
    calibrate(model, np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32))
    require_calibrated(model)
    with pytest.raises(ValueError, match="no HGQ layers"):
        inp = keras.Input((3,))
        require_calibrated(keras.Model(inp, keras.layers.Dense(2)(inp)))


def test_exact_ebops_by_hand():
    model = _model()
    x = np.random.default_rng(1).normal(size=(128, 5)).astype(np.float32)
    total = calibrate(model, x, batch_size=16)
    expect = 0
    for layer in (model.get_layer("d1"), model.get_layer("d2")):
        k, i, f = layer.input_types()
        kf = layer.kernel_types()[2]
        m = np.abs(np.ldexp(layer.quantized_kernel(), kf)).astype(np.int64)
        bw = np.array([int(v).bit_length() for v in m.ravel()]).reshape(m.shape)
        expect += int(((k + i + f)[:, None] * bw).sum())
    assert total == expect
    assert hgq_fpga.ebops(model) == expect
    assert isinstance(total, int)


def test_margin_adds_integer_bits():
    x = np.random.default_rng(2).normal(size=(64, 5)).astype(np.float32)
    m0, m2 = _model(), _model()
    m2.set_weights(m0.get_weights())
    calibrate(m0, x)
    calibrate(m2, x, margin=2)
    k0, i0, f0 = m0.get_layer("qin").output_types()
    k2, i2, f2 = m2.get_layer("qin").output_types()
    live = k0 + i0 + f0 > 0
    assert np.array_equal(i2[live], i0[live] + 2)
    assert np.array_equal(f2, f0)


def test_wide_accumulator_is_refused():
    model = _model()
    for q in model.get_layer("qin").quantizers() + model.get_layer("d1").quantizers():
        q.f.assign(np.full(q.f.shape, 16.0, np.float32))
    x = (np.random.default_rng(3).normal(size=(64, 5)) * 1e6).astype(np.float32)
    with pytest.raises(ValueError, match="53"):
        calibrate(model, x)


def test_fit_after_calibration_is_a_clear_error_and_uncalibrate_trains_again():
    from hgq_fpga.nn.calibration import uncalibrate

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype(np.float32)
    y = rng.normal(size=(64, 2)).astype(np.float32)
    model = _model()
    model.compile(keras.optimizers.Adam(1e-2), "mse")
    model.fit(x, y, epochs=1, verbose=0)
    calibrate(model, x)
    with pytest.raises(ValueError, match="'qin' is calibrated.*uncalibrate"):
        model.fit(x, y, epochs=1, verbose=0)
    uncalibrate(model)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, verbose=0)
    assert any(np.any(a != b) for a, b in zip(before, model.get_weights()))
    calibrate(model, x)
    assert np.array_equal(model.predict(x, verbose=0), hgq_fpga.to_firmware(model).predict(x))

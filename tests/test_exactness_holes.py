"""Regression tests for the exactness holes found by adversarial testing: denormal and huge inputs,
sums wider than float64, non-finite calibration ranges, verify on wide tensors, and the report of
values that left the calibrated range."""

from __future__ import annotations


import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga.fixed import ROUNDING_MODES, out_of_range  # noqa: E402
from hgq_fpga.ir import FirmwareBuilder  # noqa: E402
from hgq_fpga.nn.layers import HActivation, HAdd, HDense, HQuantize  # noqa: E402


def _quantizer_model(dtype="float32", **options):
    inp = keras.Input((1,), dtype=dtype)
    return keras.Model(inp, HQuantize(output_quantizer=options)(inp))


def _keras(model, x):
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), np.float64)


def test_negative_float32_denormals_round_down_as_in_the_firmware():
    """The issue's repro: TensorFlow reads -1e-40 as -0.0; TRN must still give -2^-f."""
    m = _quantizer_model(f_init=4)
    hgq_fpga.calibrate(m, np.array([[-3.0], [2.0]], np.float32))
    fw = hgq_fpga.to_firmware(m)
    x = np.array([[-1e-40], [-1.4e-45], [1e-40], [-0.0], [0.0]], np.float32)
    want = np.array([[-0.0625], [-0.0625], [0.0], [0.0], [0.0]])
    assert np.array_equal(fw.predict(x.astype(np.float64)), want)
    assert np.array_equal(_keras(m, x), want)
    import tensorflow as tf
    xla = tf.function(lambda v: m(v, training=False), jit_compile=True)
    assert np.array_equal(np.asarray(xla(tf.constant(x)), np.float64), want)


@pytest.mark.parametrize("rnd", ["TRN", "RND"])
def test_float64_denormals_and_underflowing_products(rnd):
    m = _quantizer_model("float64", f_init=4, round_mode=rnd)
    hgq_fpga.calibrate(m, np.array([[-3.0], [2.0]]))
    fw = hgq_fpga.to_firmware(m)
    x = np.array([[-5e-324], [-1e-310], [5e-324], [-2.0 ** -1020], [2.0 ** -1020], [-1e-300]])
    assert np.array_equal(_keras(m, x), fw.predict(x))
    if rnd == "TRN":
        assert np.all(fw.predict(x)[[0, 1, 3, 5]] == -0.0625)


def test_float32_denormal_on_a_fine_grid_keeps_its_value():
    """With many fractional bits a float32 denormal is a nonzero code, so it must not read as 0."""
    m = _quantizer_model(f_init=126.0, f_max=126.0)      # 2^-126: the finest grid float32 trains on
    hgq_fpga.calibrate(m, np.array([[-3e-37], [2e-37]], np.float32))
    fw = hgq_fpga.to_firmware(m)
    x = np.array([[1.1e-38], [-1.1e-38], [5e-39], [-1.4e-45]], np.float32)
    assert np.all(np.abs(x) < np.finfo(np.float32).tiny)  # all denormal
    want = fw.predict(x.astype(np.float64))
    assert want[0, 0] == 0.0 and want[1, 0] == -2.0 ** -126 and want[3, 0] == -2.0 ** -126   # TRN
    assert np.array_equal(_keras(m, x), want)


@pytest.mark.parametrize("ovf", ["WRAP", "SAT"])
def test_huge_float64_inputs_overflow_like_the_firmware(ovf):
    m = _quantizer_model("float64", f_init=6, overflow_mode=ovf)
    hgq_fpga.calibrate(m, np.array([[-3.0], [2.0]]))
    fw = hgq_fpga.to_firmware(m)
    x = np.array([[1e308], [1.7976931348623157e308], [-1.7e308], [3e300], [-2.0 ** 1000]])
    got = _keras(m, x)
    assert np.all(np.isfinite(got))
    assert np.array_equal(got, fw.predict(x))


def test_add_wider_than_float64_is_refused_naming_the_layer():
    a, b = keras.Input((2,)), keras.Input((2,))
    qa = HQuantize(output_quantizer={"f_init": 0})(a)
    qb = HQuantize(output_quantizer={"f_init": 24, "f_max": 30})(b)
    model = keras.Model([a, b], HAdd(name="wide_sum", output_quantizer={"f_init": 0})([qa, qb]))
    xa = np.array([[2.0 ** 30, -2.0 ** 30], [1.0, 2.0]], np.float32)
    xb = np.array([[0.5, -0.25], [0.75, 0.1]], np.float32)
    with pytest.raises(ValueError, match=r"HAdd 'wide_sum': the aligned sum of the inputs is up to 5[4-9] bits"):
        hgq_fpga.calibrate(model, [xa, xb])


def test_activation_wider_than_float64_is_refused():
    m = _quantizer_model(f_init=30.0, f_max=40.0)
    with pytest.raises(ValueError, match=r"HQuantize .*output is up to 6\d bits wide.*53"):
        hgq_fpga.calibrate(m, np.array([[-2.0 ** 30], [2.0 ** 29]], np.float32))


def test_non_finite_activation_range_is_refused_with_layer_and_sample():
    inp = keras.Input((1,))
    h = HQuantize(output_quantizer={"f_init": 2})(inp)
    model = keras.Model(inp, HActivation("exponential", name="exp")(h))
    x = np.array([[0.5], [1.0], [100.0], [2.0]], np.float32)
    with pytest.raises(ValueError, match=r"layer 'exp' \(HActivation\).*non-finite.*sample 2"):
        hgq_fpga.calibrate(model, x)


def test_verify_reports_a_wide_intermediate_instead_of_crashing():
    """A firmware whose inner accumulator is 60 bits wide: verify still names the diverging layer."""
    inp = keras.Input((2,))
    q = HQuantize(name="q", output_quantizer={"f_init": 3})(inp)
    model = keras.Model(inp, HDense(1, name="head")(q))
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    fw_true = hgq_fpga.to_firmware(model)
    b = FirmwareBuilder()
    spec = fw_true.inputs[0]
    t = spec.type
    h = b.input("q", (2,), t.k, t.i, t.f, round=spec.round, overflow=spec.overflow)
    h = b.dense(h, np.array([[2 ** 50], [3]]), 0, name="wide_acc")
    out = fw_true.types["head"]
    fw = b.build([b.cast(h, out.k, out.i, out.f, "TRN", "WRAP", name="head")])
    assert int(fw.types["wide_acc"].width.max()) > 53
    report = hgq_fpga.verify(model, x, firmware=fw)
    assert report.mismatches > 0 and report.diverging_layer == "head"


# --------------------------------------------------------------- values outside the calibrated range

def _reference_outside(m: int, f_in: int, k: int, i: int, f: int, mode: str) -> bool:
    """Plain-integer definition: round m·2^(f - f_in) with ``mode``, compare with the range."""
    from fractions import Fraction
    v = Fraction(m) * Fraction(2) ** (f - f_in)
    fl = v.numerator // v.denominator
    rem = v - fl
    half = rem == Fraction(1, 2)
    neg = v < 0
    if rem == 0:
        r = fl
    elif mode == "TRN":
        r = fl
    elif mode == "TRN_ZERO":
        r = fl + (1 if neg else 0)
    elif rem > Fraction(1, 2):
        r = fl + 1
    elif rem < Fraction(1, 2):
        r = fl
    else:
        r = fl + {"RND": 1, "RND_ZERO": 1 if neg else 0, "RND_MIN_INF": 0,
                  "RND_INF": 0 if neg else 1, "RND_CONV": fl & 1}[mode]
    w = k + i + f
    if w <= 0:
        return False
    lo, hi = (-(2 ** (w - 1)) if k else 0), 2 ** (w - k) - 1
    return not lo <= r <= hi


def test_out_of_range_matches_its_definition():
    rng = np.random.default_rng(5)
    for mode in ROUNDING_MODES:
        m = rng.integers(-300, 300, 400)
        f_in = rng.integers(-3, 7, 400)
        k = rng.integers(0, 2, 400)
        i = rng.integers(-2, 5, 400)
        f = rng.integers(-2, 6, 400)
        i = np.maximum(i, -k - f)                                   # widths >= 0
        got = out_of_range(m, f_in, k, i, f, mode)
        want = [_reference_outside(*map(int, args), mode) for args in zip(m, f_in, k, i, f)]
        assert got.tolist() == want, mode


def test_firmware_counts_values_outside_the_calibrated_range():
    b = FirmwareBuilder()
    x = b.input("x", (3,), k=[1, 0, 1], i=2, f=2, round="RND", overflow="SAT")
    h = b.dense(x, np.array([[3], [2], [1]]), 0)
    fw = b.build([b.cast(h, 1, 3, 1, "TRN", "WRAP", name="out")])
    xs = np.array([[0.5, 1, 1], [-1, 2, 5], [100, -3, 0.1], [3.9, 3.874, -4.2]])
    y, report = fw.predict(xs, report=True)
    assert np.array_equal(y, fw.predict(xs))
    counts = {c.tensor: c.outside for c in report.counts}
    # inputs: 5 > 3.75; 100 and -3 (unsigned); 3.9 rounds to 4 and -4.2 to -4.25
    assert counts == {"x": 5, "out": 2} and report.inputs_outside == 5
    assert "wrapped or saturated" in report.summary()
    assert not fw.overflows(xs[:1]).any


def test_verify_and_cli_warn_about_inputs_outside_the_range(tmp_path):
    from conftest import build_hgq_mlp
    model = build_hgq_mlp(4, 5, 3)
    x = np.random.default_rng(1).uniform(0, 1, (64, 4)).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    inside = hgq_fpga.verify(model, x)
    assert inside.ok and not inside.overflow.any and "warning" not in str(inside)
    outside = hgq_fpga.verify(model, 1000 * x)
    assert outside.ok                                   # still bit-exact ...
    assert outside.overflow.inputs_outside > 0          # ... but the user is told
    assert "warning:" in str(outside) and "outside the calibrated range" in str(outside)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_a_clear_error(bad):
    from conftest import build_hgq_mlp
    model = build_hgq_mlp(2, 3, 2)
    x = np.ones((4, 2), np.float32)
    hgq_fpga.calibrate(model, x)
    x[2, 1] = bad
    what = "NaN" if np.isnan(bad) else "inf"
    for run in (lambda: hgq_fpga.verify(model, x), lambda: hgq_fpga.to_firmware(model).predict(x)):
        with pytest.raises(ValueError, match=f"{what}.*sample 2"):
            run()


def test_reference_is_itself_checked():
    """The plain-integer reference agrees with hand-worked cases (so the comparison can fail)."""
    assert _reference_outside(15, 2, 0, 2, 2, "TRN") is False     # 3.75 in ufixed<4,2>
    assert _reference_outside(16, 2, 0, 2, 2, "TRN") is True      # 4.0
    assert _reference_outside(31, 3, 0, 2, 2, "RND") is True      # 3.875 rounds to 4.0
    assert _reference_outside(31, 3, 0, 2, 2, "TRN") is False     # ... truncates to 3.75
    assert _reference_outside(-1, 0, 0, 2, 2, "TRN") is True      # negative into unsigned

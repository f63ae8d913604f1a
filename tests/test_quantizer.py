"""The trainable quantizer: forward values, surrogate gradient, exact deployment cast."""

import numpy as np
import pytest

import keras
import tensorflow as tf  # noqa: E402

from hgq_fpga import fixed  # noqa: E402
from hgq_fpga.nn.quantizers.hgq import HQuantizer  # noqa: E402


def _q(shape, **kw):
    q = HQuantizer(**kw)
    q.build(shape)
    return q


@pytest.mark.parametrize("mode", ["TRN", "RND"])
def test_forward_matches_fixed(mode):
    rng = np.random.default_rng(1)
    q = _q((5, 7), kind="weight", round_mode=mode)
    f = rng.integers(-2, 8, (5, 7)).astype(np.float32)
    q.f.assign(f + rng.uniform(-0.4, 0.4, f.shape).astype(np.float32))  # rounds to f
    x = rng.normal(0, 3, (5, 7)).astype(np.float32)
    xq, _ = q.fake_quantize(x)
    ref = fixed.quantize(x, 1, 30 - f.astype(int), f.astype(int), round=mode, overflow="SAT")
    assert np.array_equal(np.asarray(xq, np.float64), ref)


def test_surrogate_gradient():
    rng = np.random.default_rng(2)
    q = _q((6,), kind="activation")
    x = tf.constant(rng.normal(0, 2, (4, 6)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        xq, _ = q.fake_quantize(x)
        loss = tf.reduce_sum(xq)
    gx = tape.gradient(loss, x).numpy()
    gf = tape.gradient(loss, q.f).numpy()
    assert np.array_equal(gx, np.ones_like(gx))
    expect = (-np.log(2) * (xq.numpy() - x.numpy())).sum(axis=0)
    np.testing.assert_allclose(gf, expect, rtol=1e-5, atol=1e-7)
    assert np.any(gf != 0)


@pytest.mark.parametrize("granularity,fshape", [("per_element", (3, 4)), ("per_channel", (1, 4)),
                                                ("per_tensor", (1, 1))])
def test_granularity(granularity, fshape):
    q = _q((3, 4), granularity=granularity)
    assert tuple(q.f.shape) == fshape


@pytest.mark.parametrize("rnd", ["TRN", "RND"])
@pytest.mark.parametrize("ovf", ["WRAP", "SAT"])
def test_exact_quantize_matches_fixed(rnd, ovf):
    rng = np.random.default_rng(3)
    shape = (50,)
    q = _q(shape, round_mode=rnd, overflow_mode=ovf)
    k = rng.integers(0, 2, shape)
    i = rng.integers(-3, 6, shape)
    f = rng.integers(-2, 8, shape)
    f = np.maximum(f, -k - i)  # W >= 0
    q._set_types(k, i, f)
    x = rng.normal(0, 40, (200,) + shape)  # far outside most ranges
    x[:, 0] = 0.0
    got = np.asarray(q.exact_quantize(x))
    ref = fixed.quantize(x, k, i, f, round=rnd, overflow=ovf)
    assert got.dtype == np.float64
    assert np.array_equal(got, ref)


def test_fixed_types_requires_calibration():
    q = _q((3,))
    with pytest.raises(ValueError, match="not calibrated"):
        q.fixed_types()


def test_weight_freeze_tight_types():
    q = _q((6,), kind="weight")
    q.f.assign(np.full((6,), 2.0, np.float32))
    wq = q.calibrate_weight(np.array([0.0, 0.1, -1.0, 1.0, -0.3, 3.0]))
    k, i, f = q.fixed_types()
    assert np.array_equal(wq, [0.0, 0.0, -1.0, 1.0, -0.5, 3.0])  # TRN: toward -inf
    assert np.array_equal(k + i + f, [0, 0, 3, 3, 2, 4])  # f=2 kept; 0 → W=0 (pruned)
    assert np.array_equal(fixed.quantize(wq, k, i, f), wq)


def test_bad_modes():
    with pytest.raises(ValueError, match="rounding"):
        HQuantizer(round_mode="FOO")
    with pytest.raises(ValueError, match="supports overflow"):
        HQuantizer(overflow_mode="SAT_ZERO")
    with pytest.raises(ValueError, match="granularity"):
        HQuantizer(granularity="per_row")

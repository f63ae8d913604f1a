"""The one-op training quantizer gives exactly the values and gradients of the reference formula.

``HQuantizer.fake_quantize`` is a custom-gradient op (for speed); the reference is the expression
it replaces, ``xq + (x - sg(x)) + (F - sg(F)) * ln2 * (x - xq)``. Values and both gradients
(to the input and to ``f``) are compared with ``==``, eagerly and in a ``tf.function``, on values
that include zeros of both signs and exact grid points.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from hgq_fpga.nn.quantizers.hgq import HQuantizer


def _reference(q: HQuantizer, x):
    F = q._F()
    Fr = ops.stop_gradient(F)
    scale = ops.power(ops.cast(2.0, Fr.dtype), Fr)
    xq_val = ops.stop_gradient(q.round_scaled(x * scale) / scale)
    err = ops.stop_gradient(x - xq_val)
    return xq_val + (x - ops.stop_gradient(x)) + (F - Fr) * (math.log(2.0) * err)


def _values_and_grads(fn, q, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(q, x)
        loss = tf.reduce_sum(out * out + 3.0 * out)  # an upstream gradient that differs per element
    gx, gf = tape.gradient(loss, [x, q.f])
    return [np.asarray(v) for v in (out, gx, gf)]


@pytest.mark.parametrize("kind, granularity, round_mode", [
    ("activation", "per_element", "TRN"), ("activation", "per_channel", "RND"),
    ("activation", "per_tensor", "TRN"), ("weight", "per_element", "RND"), ("weight", "per_channel", "TRN"),
])
@pytest.mark.parametrize("compiled", [False, True])
def test_fast_fake_quantize_equals_the_reference(kind, granularity, round_mode, compiled):
    rng = np.random.default_rng(7)
    shape = (5, 6)
    q = HQuantizer(kind=kind, granularity=granularity, round_mode=round_mode, f_init=3.0)
    q.build(shape)
    q.f.assign((rng.integers(-2, 7, q.f.shape) + rng.uniform(-0.4, 0.4, q.f.shape)).astype(np.float32))
    x = rng.normal(0, 4, (16,) + shape if kind == "activation" else shape).astype(np.float32)
    x.reshape(-1)[:6] = [0.0, -0.0, 1e-3, -1e-3, 2.0 ** -3, -(2.0 ** -3)]
    fast = lambda q, x: q.fake_quantize(x)[0]  # noqa: E731
    ref = _reference
    if compiled:
        fast, ref = tf.function(fast), tf.function(ref)
    got, want = _values_and_grads(fast, q, x), _values_and_grads(ref, q, x)
    for g, w, what in zip(got, want, ("value", "d/dx", "d/df")):
        assert g.shape == w.shape, what
        assert np.array_equal(g, w), what  # == : a zero may differ in sign only (-0.0 == 0.0)


def test_a_layer_trains_eagerly_through_its_variables():
    """The kernel reaches the op as a variable: its gradient is the straight-through one."""
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((4,))
    layer = HDense(3, beta=1e-3)
    model = keras.Model(inp, layer(HQuantize()(inp)))
    x = tf.constant(np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True)) + tf.add_n(model.losses)
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)
    kernel = next(g for v, g in zip(model.trainable_variables, grads) if v is layer.kernel)
    assert np.all(np.isfinite(np.asarray(kernel))) and np.any(np.asarray(kernel) != 0)

"""Convolutions with a folded batch norm: batch statistics in training, exact fused deployment
inference against a numpy reference, save/load."""

import numpy as np
import pytest

import keras
import tensorflow as tf  # noqa: E402

import hgq_fpga  # noqa: E402
from hgq_fpga import fixed  # noqa: E402
from hgq_fpga.nn.layers import (HConv1D, HConv1DBatchNorm, HConv2D, HConv2DBatchNorm,  # noqa: E402
                             HDenseBatchNorm, HQuantize)


def conv_reference(x, w, strides, padding):
    """Direct float64 N-d cross-correlation, channels last, Keras 'valid'/'same' zero padding."""
    kernel = w.shape[:-2]
    pads = []
    for n, k, s in zip(x.shape[1:-1], kernel, strides):
        out = (n - k) // s + 1 if padding == "valid" else -(-n // s)
        total = max((out - 1) * s + k - n, 0) if padding == "same" else 0
        pads.append((total // 2, total - total // 2, out))
    xp = np.pad(x.astype(np.float64), [(0, 0)] + [(b, a) for b, a, _ in pads] + [(0, 0)])
    outs = tuple(o for _, _, o in pads)
    y = np.zeros((x.shape[0],) + outs + (w.shape[-1],))
    for pos in np.ndindex(*outs):
        sl = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, strides, kernel))
        patch = xp[(slice(None),) + sl + (slice(None),)]
        y[(slice(None),) + pos + (slice(None),)] = np.tensordot(patch, w, axes=len(kernel) + 1)
    return y


def fused_float32(layer):
    """``W * s`` and ``(b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``, in float32."""
    gamma, beta = layer.gamma.numpy(), layer.bn_beta.numpy()
    mean, var = layer.moving_mean.numpy(), layer.moving_var.numpy()
    s = gamma / np.sqrt(var + np.float32(layer.epsilon))
    return layer.kernel.numpy() * s, (layer.bias.numpy() - mean) * s + beta


def _set_bn(layer, rng):
    n = layer.kernel.shape[-1]
    layer.gamma.assign(rng.uniform(0.5, 2, n).astype(np.float32))
    layer.bn_beta.assign(rng.normal(0, 0.5, n).astype(np.float32))
    layer.moving_mean.assign(rng.normal(0, 0.5, n).astype(np.float32))
    layer.moving_var.assign(rng.uniform(0.3, 3, n).astype(np.float32))
    layer.bias.assign(rng.normal(0, 0.3, n).astype(np.float32))


CASES = [  # (class, input shape, filters, kernel, strides, padding)
    (HConv1DBatchNorm, (10, 3), 4, (3,), (2,), "same"),
    (HConv2DBatchNorm, (6, 5, 2), 3, (3, 2), (1, 1), "valid"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__)
@pytest.mark.parametrize("rnd,ovf", [("TRN", "WRAP"), ("RND", "SAT"), ("TRN", "SAT"), ("RND", "WRAP")])
def test_conv_batchnorm_deployed_equals_reference(case, rnd, ovf):
    cls, shape, filters, kernel, strides, padding = case
    keras.utils.set_random_seed(11)
    rng = np.random.default_rng(11)
    inp = keras.Input(shape)
    a = HQuantize()(inp)
    b = cls(filters, kernel, strides=strides, padding=padding, activation="relu",
            kernel_quantizer={"round_mode": rnd}, bias_quantizer={"round_mode": rnd},
            output_quantizer={"round_mode": rnd, "overflow_mode": ovf})(a)
    model = keras.Model(inp, [a, b])
    bn = model.layers[2]
    x = rng.uniform(-1, 1, (64,) + shape).astype(np.float32)
    model(x, training=True)  # the training path runs
    _set_bn(bn, rng)
    hgq_fpga.calibrate(model, x)
    qa = model.layers[1]
    k, i, f = qa.output_types()
    qa.oq._set_types(np.ones_like(k), np.where(k + i + f > 0, i + 4, 0), f)  # let bigger inputs in
    xt = (x * 6).astype(np.float32)
    ya, yb = (np.asarray(t) for t in model.predict(xt, verbose=0))
    ref_a = fixed.quantize(xt, *qa.output_types())
    assert np.array_equal(ya, ref_a)
    # the fused weights, quantized to their calibrated types
    wf, bf = fused_float32(bn)
    wq = fixed.quantize(wf, *bn.kernel_types(), round=rnd)
    bq = fixed.quantize(bf, *bn.bias_types(), round=rnd)
    assert np.array_equal(bn.quantized_kernel(), wq)
    assert np.array_equal(bn.quantized_bias(), bq)
    assert not np.array_equal(wq, fixed.quantize(bn.kernel.numpy(), *bn.kernel_types(), round=rnd))
    acc = np.maximum(conv_reference(ref_a, wq, strides, padding) + bq, 0)
    ref_b = fixed.quantize(acc, *bn.output_types(), round=rnd, overflow=ovf)
    assert np.array_equal(yb, ref_b)
    kk, ii, ff = bn.output_types()
    assert np.any(fixed.quantize(acc, kk, ii + 20, ff, round=rnd) != ref_b)  # overflow happened


def test_conv_batchnorm_training_uses_batch_statistics():
    keras.utils.set_random_seed(12)
    rng = np.random.default_rng(12)
    inp = keras.Input((8, 8, 2))
    a = HQuantize(output_quantizer={"f_init": 10})(inp)
    model = keras.Model(inp, HConv2DBatchNorm(3, 3, padding="same", momentum=0.9,
                                              kernel_quantizer={"init_bits": 14},
                                              bias_quantizer={"f_init": 14},
                                              output_quantizer={"f_init": 12})(a))
    bn = model.layers[2]
    x = rng.normal(2, 3, (32, 8, 8, 2)).astype(np.float32)
    y = np.asarray(model(x, training=True))
    xq = np.asarray(model.layers[1](x))
    z = conv_reference(xq, bn.kernel.numpy(), (1, 1), "same") + bn.bias.numpy()
    mean, var = z.mean(axis=(0, 1, 2)), z.var(axis=(0, 1, 2))
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.1 * mean, rtol=1e-4)
    np.testing.assert_allclose(bn.moving_var.numpy(), 0.9 + 0.1 * var, rtol=1e-4)
    # training output is batch-normalised: per-channel mean ~ 0, variance ~ 1 (fine quantization)
    np.testing.assert_allclose(y.mean(axis=(0, 1, 2)), 0, atol=2e-3)
    np.testing.assert_allclose(y.var(axis=(0, 1, 2)), var / (var + bn.epsilon), rtol=1e-2)
    # gradients reach gamma, the kernel's f and the batch-norm shift
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * rng.normal(size=y.shape))
    grads = tape.gradient(loss, [bn.gamma, bn.bn_beta, bn.kq.f])
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_conv_batchnorm_save_load_and_config(tmp_path):
    keras.utils.set_random_seed(13)
    rng = np.random.default_rng(13)
    inp = keras.Input((9, 3))
    a = HQuantize()(inp)
    b = HConv1DBatchNorm(4, 3, strides=2, padding="same", activation="relu")(a)
    c = HConv1D(2, 2)(b)
    model = keras.Model(inp, [b, c])
    x = rng.normal(size=(64, 9, 3)).astype(np.float32)
    model.compile(keras.optimizers.Adam(1e-2), [None, "mse"])
    model.fit(x, [None, rng.normal(size=(64, 4, 2))], epochs=1, batch_size=16, verbose=0)
    assert np.any(model.layers[2].moving_mean.numpy() != 0)
    hgq_fpga.calibrate(model, x)
    dep = [np.asarray(t) for t in model.predict(x * 3, verbose=0)]
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for want, got in zip(dep, loaded.predict(x * 3, verbose=0)):
        assert np.array_equal(want, got)
    assert np.array_equal(loaded.layers[2].quantized_kernel(), model.layers[2].quantized_kernel())
    for layer in (HConv1DBatchNorm(3, 2, strides=2, momentum=0.8, epsilon=1e-2),
                  HConv2DBatchNorm(2, (3, 1), padding="same", activation="relu",
                                   output_quantizer={"overflow_mode": "SAT"}),
                  HDenseBatchNorm(5, beta=1e-6)):
        config = layer.get_config()
        assert "use_bias" not in config
        clone = type(layer).from_config(config)
        assert type(clone) is type(layer) and clone.get_config() == config
    assert isinstance(HConv2DBatchNorm(2, 3), HConv2D)  # the converter treats it as a conv


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match="always has a bias"):
        HConv2DBatchNorm(2, 3, use_bias=False)
    with pytest.raises(ValueError, match="momentum"):
        HConv1DBatchNorm(2, 3, momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        HDenseBatchNorm(2, epsilon=0.0)

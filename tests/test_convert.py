"""Keras → firmware IR: for models using every layer of the set, the emulated firmware equals the
calibrated Keras model exactly, on calibration data, on overflowing data and on rounding ties."""

import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga import fixed  # noqa: E402
from hgq_fpga.nn.freeze import UnsupportedLayerError  # noqa: E402
from hgq_fpga.nn.layers import (LAYER_SET, HActivation, HAdd, HAveragePooling1D,  # noqa: E402
                             HAveragePooling2D, HConcatenate, HConv1D, HConv1DBatchNorm, HConv2D,
                             HConv2DBatchNorm, HDense, HDenseBatchNorm, HFlatten, HMaxPooling1D,
                             HMaxPooling2D, HQuantize, HReshape)

MODES = [("TRN", "WRAP"), ("RND", "SAT")]


def dense_model(o, w):
    inp = keras.Input((10,))
    q = HQuantize(output_quantizer=o)(inp)
    h = HDense(8, activation="relu", output_quantizer=o, kernel_quantizer=w, bias_quantizer=w,
               bias_initializer="random_normal")(q)
    t = HActivation("tanh", output_quantizer=o)(h)
    bn = HDenseBatchNorm(6, output_quantizer=o, kernel_quantizer=w, bias_quantizer=w)(t)
    s = HActivation("sigmoid", output_quantizer=o)(bn)
    r = HActivation("relu", output_quantizer=o)(bn)
    added = HAdd(output_quantizer=o)([s, r])
    cat = HConcatenate()([added, t])
    out = HDense(3, output_quantizer=o, kernel_quantizer=w, bias_quantizer=w)(cat)
    return keras.Model(inp, [h, bn, cat, out])


def conv2d_model(o, w):
    inp = keras.Input((6, 6, 2))
    q = HQuantize(output_quantizer=o)(inp)
    c1 = HConv2D(3, 3, padding="same", activation="relu", output_quantizer=o, kernel_quantizer=w,
                 bias_quantizer=w, bias_initializer="random_normal")(q)
    mp = HMaxPooling2D(2)(c1)                                                   # (3, 3, 3)
    c2 = HConv2DBatchNorm(3, 2, padding="same", output_quantizer=o, kernel_quantizer=w,
                          bias_quantizer=w)(mp)
    # 'same' windows of 3 over 3 positions hold 2, 3, 2 real ones: counts 4, 6, 9
    ap = HAveragePooling2D(3, strides=1, padding="same", output_quantizer=o, c_f=10)(c2)
    ap2 = HAveragePooling2D((3, 1), strides=1, padding="same", output_quantizer=o)(c2)
    added = HAdd(output_quantizer=o)([ap, ap2])                                  # (3, 3, 3)
    mp2 = HMaxPooling2D(2, padding="same")(added)                               # (2, 2, 3)
    out = HDense(4, output_quantizer=o, kernel_quantizer=w, bias_quantizer=w)(HFlatten()(mp2))
    return keras.Model(inp, [c1, c2, ap, ap2, mp2, out])


def conv1d_model(o, w):
    inp = keras.Input((12, 3))
    q = HQuantize(output_quantizer=o)(inp)
    c = HConv1DBatchNorm(4, 3, strides=2, padding="same", activation="relu", output_quantizer=o,
                         kernel_quantizer=w, bias_quantizer=w)(q)               # (6, 4)
    ap = HAveragePooling1D(3, strides=1, padding="same", output_quantizer=o)(c)  # counts 2, 3, 3, ...
    c2 = HConv1D(2, 2, output_quantizer=o, kernel_quantizer=w, bias_quantizer=w)(ap)  # (5, 2)
    mp = HMaxPooling1D(2)(c2)                                                   # (2, 2)
    out = HDense(2, output_quantizer=o, kernel_quantizer=w, bias_quantizer=w)(HReshape((4,))(mp))
    return keras.Model(inp, [c, ap, c2, out])


def _prepare(build, rnd, ovf, seed):
    """Build, give every quantizer random bit widths and the batch norms real statistics, calibrate."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build({"round_mode": rnd, "overflow_mode": ovf}, {"round_mode": rnd})
    shape = model.inputs[0].shape[1:]
    x = rng.normal(0, 1, (128,) + tuple(shape)).astype(np.float32)
    model(x, training=True)  # the training path runs; batch norms update their moving statistics
    for layer in model.layers:
        for q in getattr(layer, "quantizers", lambda: [])():
            lo, hi = (2, 7) if q.kind == "weight" else (1, 5)
            q.f.assign(rng.integers(lo, hi, q.f.shape).astype(np.float32))
        if hasattr(layer, "moving_var"):
            n = layer.moving_var.shape
            layer.gamma.assign(rng.uniform(0.5, 2, n).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0, 0.5, n).astype(np.float32))
            layer.moving_var.assign(rng.uniform(0.3, 3, n).astype(np.float32))
    hgq_fpga.calibrate(model, x)
    return model, x


def _keras(model, x):
    out = model(x)
    return [np.asarray(t) for t in (out if isinstance(out, (list, tuple)) else [out])]


def _assert_same(model, fw, x):
    want = _keras(model, x)
    got = fw.predict(x)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(want)
    for n, (g, w) in enumerate(zip(got, want)):
        assert w.dtype == np.float64
        assert np.array_equal(g, w), f"output {n}: {np.sum(g != w)} of {g.size} elements differ"


def _ties(model, rng, n=64):
    """Inputs exactly half way between two codes of the input quantizer (where it is live)."""
    k, i, f = model.layers[1].output_types()
    m = rng.integers(-(2 ** 6), 2 ** 6, (n,) + k.shape)
    return np.ldexp(m + 0.5, -f).astype(np.float32)


def _internal_overflow(fw, x) -> bool:
    """Whether some cast after the input leaves its range, i.e. wraps or saturates."""
    trace = fw.predict(x, trace=True)
    for op in fw.ops:
        if op.kind == "cast":
            src = trace[op.inputs[0]]
            wide = fixed.quantize(src, op.out.k, op.out.i + 40, op.out.f, round=op.round)
            if np.any(wide != trace[op.name]):
                return True
    return False


@pytest.mark.parametrize("build", [dense_model, conv2d_model, conv1d_model], ids=lambda b: b.__name__)
@pytest.mark.parametrize("rnd,ovf", MODES)
def test_firmware_equals_keras(build, rnd, ovf):
    model, x = _prepare(build, rnd, ovf, seed=21)
    fw = hgq_fpga.to_firmware(model)
    kinds = {op.kind for op in fw.ops}
    _assert_same(model, fw, x)
    _assert_same(model, fw, x * 4)
    assert _internal_overflow(fw, x * 4)
    ties = _ties(model, np.random.default_rng(22))
    assert not np.array_equal(fixed.quantize(ties, *model.layers[1].output_types(), round="RND"),
                              fixed.quantize(ties, *model.layers[1].output_types(), round="TRN"))
    _assert_same(model, fw, ties)
    if build is conv2d_model:
        assert {"conv", "maxpool", "avgpool", "add", "reshape", "dense", "relu"} <= kinds
    if build is dense_model:
        assert {"table", "add", "concatenate", "dense", "relu"} <= kinds


def test_every_layer_of_the_set_is_covered():
    """By the models here, and by the particle-network models of ``test_layers_particles.py``."""
    from test_layers_particles import MODELS
    used = set()
    for build in (dense_model, conv2d_model, conv1d_model):
        used |= {type(layer) for layer in build({}, {}).layers}
    for build in MODELS:
        used |= {type(layer) for layer in build(np.random.default_rng(0)).layers}
    assert set(LAYER_SET) <= used


def test_non_hgq_layer_is_named():
    inp = keras.Input((4,))
    x = HQuantize()(inp)
    model = keras.Model(inp, HDense(2)(keras.layers.Dense(3, name="plain_dense")(x)))
    with pytest.raises(UnsupportedLayerError, match=r"'plain_dense' of class Dense.*use HDense"):
        hgq_fpga.to_firmware(model)
    odd = keras.Model(inp, HDense(2)(keras.layers.Dropout(0.1, name="drop")(x)))
    with pytest.raises(UnsupportedLayerError, match=r"'drop' of class Dropout.*HAveragePooling2D"):
        hgq_fpga.to_firmware(odd)


@pytest.mark.parametrize("softmax", [lambda: keras.layers.Softmax(), lambda: keras.layers.Activation("softmax")])
def test_a_keras_softmax_says_to_use_hsoftmax(softmax):
    inp = keras.Input((4,))
    model = keras.Model(inp, softmax()(HDense(2)(HQuantize()(inp))))
    with pytest.raises(UnsupportedLayerError, match="use HSoftmax from hgq_fpga.nn.layers"):
        hgq_fpga.to_firmware(model)


def test_uncalibrated_model_is_a_clear_error():
    inp = keras.Input((4,))
    model = keras.Model(inp, HDense(2, name="head")(HQuantize()(inp)))
    with pytest.raises(ValueError, match=r"'h_quantize.*' \(HQuantize\).*not calibrated.*hgq_fpga.calibrate"):
        hgq_fpga.to_firmware(model)

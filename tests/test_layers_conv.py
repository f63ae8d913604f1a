"""HGQ conv, merge and pooling layers: exact deployment inference, EBOPs, save/load."""

import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga import fixed  # noqa: E402
from hgq_fpga.nn.layers import (HAdd, HConcatenate, HConv1D, HConv2D, HDense, HFlatten,  # noqa: E402
                             HMaxPooling1D, HMaxPooling2D, HQuantize)


def _conv1d_valid(x, w):
    """Direct numpy 1-D convolution (cross-correlation), float64, no padding."""
    kw = w.shape[0]
    n = x.shape[1] - kw + 1
    out = np.zeros((x.shape[0], n, w.shape[2]))
    for p in range(n):
        out[:, p, :] = np.einsum("btc,tco->bo", x[:, p:p + kw, :], w)
    return out


@pytest.mark.parametrize("ovf", ["WRAP", "SAT"])
def test_conv1d_deployed_equals_fixed_by_hand(ovf):
    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    inp = keras.Input((12, 3))
    a = HQuantize()(inp)
    b = HConv1D(4, 3, activation="relu", output_quantizer={"overflow_mode": ovf},
                bias_initializer="random_normal")(a)
    model = keras.Model(inp, [a, b])
    x = rng.uniform(-1, 1, (128, 12, 3)).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    qa, conv = model.layers[1], model.layers[2]
    k, i, f = qa.output_types()
    qa.oq._set_types(np.ones_like(k), np.where(k + i + f > 0, i + 4, 0), f)  # let bigger inputs in
    xt = (x * 6).astype(np.float32)
    ya, yb = model.predict(xt, verbose=0)
    ref_a = fixed.quantize(xt, *qa.output_types())
    assert np.array_equal(ya, ref_a)
    acc = np.maximum(_conv1d_valid(ref_a, conv.quantized_kernel()) + conv.quantized_bias(), 0)
    ref_b = fixed.quantize(acc, *conv.output_types(), overflow=ovf)
    assert np.array_equal(yb, ref_b)
    kk, ii, ff = conv.output_types()
    assert np.any(fixed.quantize(acc, kk, ii + 20, ff) != ref_b)  # overflow happened
    # exact EBOPs: every output position, tap and channel
    ka, ia, fa = conv.input_types()
    ba = (ka + ia + fa).astype(np.float64)[None]
    expect = int(_conv1d_valid(ba, conv.weight_bit_widths().astype(np.float64)).sum())
    assert conv.exact_ebops() == expect


def test_conv_merge_pool_model_roundtrip(tmp_path):
    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(5)
    inp = keras.Input((8, 8, 2))
    a = HQuantize()(inp)
    b = HConv2D(3, 3, padding="same", activation="relu")(a)
    c = HMaxPooling2D(2)(b)
    d = HConv2D(3, 1)(c)
    e = HAdd()([c, d])
    f = HConcatenate()([e, c])
    g = HDense(2)(HFlatten()(f))
    model = keras.Model(inp, [c, e, f, g])
    model.compile("adam", [None, None, None, "mse"])
    x = rng.normal(size=(64, 8, 8, 2)).astype(np.float32)
    model.fit(x, [None, None, None, rng.normal(size=(64, 2))], epochs=1, verbose=0)
    per = hgq_fpga.ebops(model, per_layer=True)
    assert len(per) == 3 and all(v > 0 for v in per.values())
    total = hgq_fpga.calibrate(model, x)
    assert total == hgq_fpga.ebops(model)
    yc, ye, yf, yg = model.predict(x * 3, verbose=0)
    layers = {type(l).__name__: l for l in model.layers}
    # max pooling: values are inputs, so they lie in the union type of each window
    pool = layers["HMaxPooling2D"]
    assert np.array_equal(fixed.quantize(yc, *pool.output_types()), yc)
    # add: exact sum of both inputs, then the output cast
    add = layers["HAdd"]
    yd = keras.Model(model.inputs, model.layers[4].output).predict(x * 3, verbose=0)
    assert np.array_equal(ye, fixed.quantize(yc + yd, *add.output_types()))
    # concatenate: types flow through
    cat = layers["HConcatenate"]
    assert np.array_equal(yf, np.concatenate([ye, yc], axis=-1))
    assert np.array_equal(cat.output_types()[2], np.concatenate([add.output_types()[2],
                                                               pool.output_types()[2]], axis=-1))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    for p, q in zip(model.predict(x * 3, verbose=0), loaded.predict(x * 3, verbose=0)):
        assert np.array_equal(p, q)


def test_from_config_conv_merge_pool():
    for layer in [HConv1D(3, 2, strides=2), HConv2D(4, (3, 1), padding="same", activation="relu"),
                  HAdd(), HConcatenate(axis=1), HMaxPooling1D(3), HMaxPooling2D((2, 1))]:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert type(clone) is type(layer) and clone.get_config() == config


def test_conv_bad_arguments():
    with pytest.raises(ValueError, match="supports activation"):
        HConv2D(2, 3, activation="sigmoid")
    with pytest.raises(ValueError, match="padding"):
        HConv1D(2, 3, padding="causal")

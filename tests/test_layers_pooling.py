"""HGQ average (and max) pooling: exact deployment inference against a numpy reference, the
1/count constant, the float64 exactness guard, widths flowing on, save/load."""

import itertools

import numpy as np
import pytest

import keras
import tensorflow as tf  # noqa: E402

import hgq_fpga  # noqa: E402
from hgq_fpga import fixed  # noqa: E402
from hgq_fpga.nn.layers import (HAveragePooling1D, HAveragePooling2D, HDense, HFlatten,  # noqa: E402
                             HMaxPooling1D, HMaxPooling2D, HQuantize)


def _windows(n, k, s, padding):
    """Start of every window along one axis (Keras rules: 'same' pads total // 2 before)."""
    if padding == "valid":
        return [p * s for p in range((n - k) // s + 1)]
    out = -(-n // s)
    before = max((out - 1) * s + k - n, 0) // 2
    return [p * s - before for p in range(out)]


def avgpool_reference(x, pool, strides, padding, c_f):
    """Window sum over the real elements times round_half_up(2^c_f / count) * 2^-c_f, by loops."""
    spatial = x.shape[1:-1]
    starts = [_windows(n, k, s, padding) for n, k, s in zip(spatial, pool, strides)]
    y = np.zeros((x.shape[0],) + tuple(len(s) for s in starts) + (x.shape[-1],))
    for pos in itertools.product(*(range(len(s)) for s in starts)):
        sl = tuple(slice(max(st[p], 0), min(st[p] + k, n))
                   for st, p, k, n in zip(starts, pos, pool, spatial))
        count = int(np.prod([b.stop - b.start for b in sl]))
        c_raw = (2 ** (c_f + 1) + count) // (2 * count)          # floor(2^c_f / count + 1/2)
        window = x[(slice(None),) + sl + (slice(None),)].astype(np.float64)
        total = window.sum(axis=tuple(range(1, 1 + len(pool))))
        y[(slice(None),) + pos + (slice(None),)] = total * (c_raw * 2.0 ** -c_f)
    return y


GEOMETRIES = [  # (layer class, input shape, pool, strides, padding)
    (HAveragePooling1D, (11, 3), (3,), (2,), "same"),
    (HAveragePooling1D, (10, 2), (3,), (1,), "valid"),
    (HAveragePooling2D, (7, 6, 2), (3, 2), (2, 2), "same"),
    (HAveragePooling2D, (6, 6, 2), (2, 2), (2, 2), "valid"),
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"{g[0].__name__}-{g[2]}-{g[3]}-{g[4]}")
@pytest.mark.parametrize("rnd,ovf", [("TRN", "WRAP"), ("RND", "SAT"), ("TRN", "SAT"), ("RND", "WRAP")])
def test_avgpool_deployed_equals_reference(geometry, rnd, ovf):
    cls, shape, pool, strides, padding = geometry
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    inp = keras.Input(shape)
    a = HQuantize(output_quantizer={"f_init": 4})(inp)
    p = cls(pool, strides=strides, padding=padding, c_f=12,
            output_quantizer={"round_mode": rnd, "overflow_mode": ovf, "f_init": 3})(a)
    model = keras.Model(inp, [a, p])
    x = rng.uniform(-1, 1, (96,) + shape).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    qa, pool_layer = model.layers[1], model.layers[2]
    k, i, f = qa.output_types()
    qa.oq._set_types(np.ones_like(k), np.where(k + i + f > 0, i + 3, 0), f)  # let bigger inputs in
    xt = (x * 5).astype(np.float32)                                         # beyond the range
    ya, yp = (np.asarray(t) for t in model.predict(xt, verbose=0))
    assert ya.dtype == yp.dtype == np.float64
    ref_a = fixed.quantize(xt, *qa.output_types())
    assert np.array_equal(ya, ref_a)
    mean = avgpool_reference(ref_a, pool, strides, padding, 12)
    ref = fixed.quantize(mean, *pool_layer.output_types(), round=rnd, overflow=ovf)
    assert np.array_equal(yp, ref)
    kk, ii, ff = pool_layer.output_types()
    assert np.any(fixed.quantize(mean, kk, ii + 20, ff, round=rnd) != ref)  # overflow happened
    # the firmware's AvgPool op gives the same numbers
    fw = hgq_fpga.to_firmware(model)
    for got, want in zip(fw.predict(xt), (ya, yp)):
        assert np.array_equal(got, want)


def test_avgpool_constant_is_round_half_up_of_inverse_count():
    layer = HAveragePooling1D(3, strides=1, padding="same", c_f=4)
    layer.build((None, 5, 1))
    # counts 2, 3, 3, 3, 2: 16/2 = 8, 16/3 = 5.33 -> 5
    assert layer.c_raw.tolist() == [8, 5, 5, 5, 8]
    layer = HAveragePooling2D((3, 3), strides=(3, 3), padding="same", c_f=18)
    layer.build((None, 5, 5, 1))
    # 'same' windows [0, 3) and [3, 6) -> [3, 5) per axis: counts (3*3, 3*2; 2*3, 2*2)
    assert layer.c_raw.tolist() == [[29127, 43691], [43691, 65536]]


def test_avgpool_ties_round_half_up():
    """Two inputs averaging to an exact half step: RND goes up, TRN down (c = 1/2 exactly)."""
    inp = keras.Input((2, 1))
    a = HQuantize(output_quantizer={"f_init": 2, "overflow_mode": "SAT"})(inp)
    outs = [HAveragePooling1D(2, output_quantizer={"round_mode": m, "f_init": 2})(a) for m in ("RND", "TRN")]
    model = keras.Model(inp, outs)
    x = np.array([[[0.25], [0.0]], [[-0.25], [0.0]], [[0.75], [0.5]], [[1.0], [-1.0]]], np.float32)
    hgq_fpga.calibrate(model, x)
    rnd, trn = (np.asarray(t)[:, 0, 0] for t in model(x))
    # means 0.125, -0.125, 0.625, 0 at 2 fractional bits
    assert rnd.tolist() == [0.25, 0.0, 0.75, 0.0]
    assert trn.tolist() == [0.0, -0.25, 0.5, 0.0]


def test_avgpool_exact_beyond_float32():
    """Three equal values times c = round(2^30 / 3) * 2^-30 < 1/3 lie just below the value:
    truncation must go one step down, which a float32 product (rounded to the value) would miss."""
    inp = keras.Input((6, 1))
    a = HQuantize(output_quantizer={"f_init": 4, "overflow_mode": "SAT"})(inp)
    model = keras.Model(inp, HAveragePooling1D(3, c_f=30, output_quantizer={"f_init": 4})(a))
    v = np.random.default_rng(3).integers(1, 60, (32, 2, 1)) / 16.0
    x = np.repeat(v, 3, axis=1).astype(np.float32)                       # windows of equal values
    hgq_fpga.calibrate(model, x)
    y = np.asarray(model(x))
    pool = model.layers[2]
    ref = fixed.quantize(avgpool_reference(x, (3,), (3,), "valid", 30), *pool.output_types())
    assert np.array_equal(y, ref)
    assert np.array_equal(y, v - 1 / 16)
    assert np.array_equal(hgq_fpga.to_firmware(model).predict(x), y)


def test_avgpool_inexact_float64_is_refused():
    def model(c_f):
        inp = keras.Input((6, 2))
        a = HQuantize(output_quantizer={"f_init": 8})(inp)
        return keras.Model(inp, HAveragePooling1D(3, c_f=c_f, name="avg")(a))

    x = (np.random.default_rng(0).normal(size=(32, 6, 2)) * 1000).astype(np.float32)
    hgq_fpga.calibrate(model(18), x)  # about 8 + 11 + 2 + 17 bits: fine
    with pytest.raises(ValueError, match=r"HAveragePooling1D 'avg'.*53"):
        hgq_fpga.calibrate(model(40), x)


def test_avgpool_bits_flow_and_gradients():
    keras.utils.set_random_seed(8)
    inp = keras.Input((8, 8, 2))
    a = HQuantize()(inp)
    p = HAveragePooling2D(2, padding="same")(a)
    model = keras.Model(inp, HDense(3, beta=1e-3)(HFlatten()(p)))
    x = np.random.default_rng(8).normal(size=(32, 8, 8, 2)).astype(np.float32)
    pool, dense = model.layers[2], model.layers[4]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) ** 2) + tf.add_n(model.losses)
    g = tape.gradient(loss, pool.oq.f)
    assert g is not None and np.any(g.numpy() != 0)
    assert not pool.has_ebops
    per = hgq_fpga.ebops(model, per_layer=True)
    assert list(per) == [dense.name]
    # the dense layer's EBOPs use the pooling layer's output widths
    ba = np.asarray(pool.output_bits()).reshape(-1)
    assert ba.shape == (4 * 4 * 2,) and np.all(ba > 0)
    bw = np.asarray(keras.ops.convert_to_numpy(
        dense.kq.weight_bits(*dense.kq.fake_quantize(dense.kernel))), np.float64)
    assert per[dense.name] == pytest.approx(float(ba @ bw.sum(axis=1)), rel=1e-6)


def test_pooling_save_load_and_config(tmp_path):
    keras.utils.set_random_seed(9)
    rng = np.random.default_rng(9)
    inp = keras.Input((9, 9, 2))
    a = HQuantize(output_quantizer={"overflow_mode": "SAT"})(inp)
    p = HAveragePooling2D((3, 2), strides=(2, 1), padding="same", c_f=10,
                          output_quantizer={"round_mode": "RND"})(a)
    m = HMaxPooling2D(2, padding="same")(p)
    model = keras.Model(inp, [p, m])
    x = rng.normal(size=(32, 9, 9, 2)).astype(np.float32)
    train = [np.asarray(t) for t in model(x, training=False)]
    model.save(tmp_path / "t.keras")
    again = keras.models.load_model(tmp_path / "t.keras")
    for want, got in zip(train, again(x)):
        assert np.array_equal(want, np.asarray(got))
    hgq_fpga.calibrate(model, x)
    dep = [np.asarray(t) for t in model(x * 3)]
    model.save(tmp_path / "d.keras")
    loaded = keras.models.load_model(tmp_path / "d.keras")
    for want, got in zip(dep, loaded(x * 3)):
        assert np.array_equal(want, np.asarray(got))
    assert loaded.layers[2].c_f == 10 and loaded.layers[2].padding == "same"
    for layer in (HAveragePooling1D(4, strides=3, padding="same", c_f=7,
                                    output_quantizer={"overflow_mode": "SAT"}),
                  HAveragePooling2D((2, 3)), HMaxPooling1D(2, padding="same")):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert type(clone) is type(layer) and clone.get_config() == config


def test_pooling_bad_arguments():
    with pytest.raises(ValueError, match="c_f must be an integer in 0..52"):
        HAveragePooling2D(2, c_f=60)
    with pytest.raises(ValueError, match="c_f"):
        HAveragePooling1D(2, c_f=2.5)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        HAveragePooling1D(2, padding="causal")
    with pytest.raises(ValueError, match="pool_size must be 2 positive"):
        HAveragePooling2D((2, 0))
    with pytest.raises(ValueError, match="strides must be 1 positive"):
        HMaxPooling1D(2, strides=(1, 1))

"""HGQ layers: gradients to f, EBOPs, digits MLP, save/load, exact deployment inference."""

import numpy as np
import pytest

import keras
import tensorflow as tf  # noqa: E402

import hgq_fpga  # noqa: E402
from hgq_fpga import fixed  # noqa: E402
from hgq_fpga.nn.callbacks import BetaScheduler  # noqa: E402
from hgq_fpga.nn.layers import HActivation, HDense, HFlatten, HQuantize, HReshape  # noqa: E402


def _randomize_f(model, rng, lo=1, hi=6):
    for layer in model.layers:
        for q in getattr(layer, "quantizers", lambda: [])():
            q.f.assign(rng.integers(lo, hi, q.f.shape).astype(np.float32))


def _mlp(n_in=8, beta=0.0, ovf="WRAP"):
    inp = keras.Input((n_in,))
    x = HQuantize(output_quantizer={"overflow_mode": ovf})(inp)
    x = HDense(12, activation="relu", beta=beta, output_quantizer={"overflow_mode": ovf})(x)
    out = HDense(3, beta=beta, output_quantizer={"overflow_mode": ovf})(x)
    return keras.Model(inp, out)


def test_gradient_reaches_f():
    keras.utils.set_random_seed(0)
    model = _mlp(beta=1e-4)
    x = np.random.default_rng(0).normal(size=(32, 8)).astype(np.float32)
    with tf.GradientTape() as tape:
        y = model(x, training=True)
        loss = tf.reduce_sum(y ** 2) + tf.add_n(model.losses)
    # bias starts at 0, so it has no quantization error and no gradient yet; all others must
    fs = [q.f for l in model.layers if hasattr(l, "quantizers") for q in l.quantizers()
          if "bias" not in q.name]
    grads = tape.gradient(loss, fs)
    dense = model.layers[2]
    names = [v.path for v in fs]
    for var, g in zip(fs, grads):
        assert g is not None, var.path
        assert np.any(g.numpy() != 0), var.path
    assert any("kernel_quantizer" in n for n in names) and any("output_quantizer" in n for n in names)
    assert any(v is dense.kq.f for v in fs)


def test_ebops_fall_with_beta():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(512, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = _mlp()
    model.compile(keras.optimizers.Adam(2e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, epochs=8, batch_size=32, verbose=0,
                     callbacks=[BetaScheduler.constant(1e-3)])
    e = hist.history["ebops"]
    assert e[-1] < 0.7 * e[0], e
    per = hgq_fpga.ebops(model, per_layer=True)
    assert set(per) == {model.layers[2].name, model.layers[3].name}
    assert hgq_fpga.ebops(model) == pytest.approx(sum(per.values()))


def test_digits_mlp_learns_bit_widths():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    keras.utils.set_random_seed(0)
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    xtr, xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0)
    inp = keras.Input((64,))
    h = HQuantize()(inp)
    h = HDense(32, activation="relu")(h)
    model = keras.Model(inp, HDense(10)(h))
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    epochs = 30
    hist = model.fit(xtr, ytr, epochs=epochs, batch_size=64, verbose=0,
                     callbacks=[BetaScheduler.log_ramp(1e-7, 2e-5, epochs)])
    assert "ebops" in hist.history
    exact = hgq_fpga.calibrate(model, xtr)
    acc = float(np.mean(model.predict(xte, verbose=0).argmax(1) == yte))
    bw = np.concatenate([l.weight_bit_widths().ravel() for l in model.layers if isinstance(l, HDense)])
    print(f"digits: acc={acc:.4f} exact_ebops={exact} widths={np.unique(bw, return_counts=True)}")
    assert acc >= 0.93
    assert len(np.unique(bw)) >= 3
    assert np.sum(bw == 0) > 0
    assert exact == hgq_fpga.ebops(model)


@pytest.mark.parametrize("ovf", ["WRAP", "SAT"])
@pytest.mark.parametrize("rnd", ["TRN", "RND"])
def test_deployed_layers_equal_fixed_by_hand(ovf, rnd):
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    opts = {"overflow_mode": ovf, "round_mode": rnd}
    inp = keras.Input((6,))
    a = HQuantize(output_quantizer=opts)(inp)
    b = HDense(5, activation="relu", output_quantizer=opts,
               kernel_quantizer={"round_mode": rnd}, bias_quantizer={"round_mode": rnd},
               bias_initializer="random_normal")(a)
    c = HActivation("tanh", output_quantizer=opts)(b)
    model = keras.Model(inp, [a, b, c])
    _randomize_f(model, rng, 0, 5)
    x = rng.uniform(-1, 1, (256, 6)).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    qa, dense, act = model.layers[1], model.layers[2], model.layers[3]
    xt = (x * 5).astype(np.float32)  # far beyond the calibrated range
    # let the input quantizer pass larger values (4 more integer bits), so that the dense
    # layer's output also leaves its calibrated range
    k, i, f = qa.output_types()
    qa.oq._set_types(np.ones_like(k), np.where(k + i + f > 0, i + 4, 0), f)
    ya, yb, yc = (np.asarray(t) for t in model.predict(xt, verbose=0))
    # HQuantize
    ref_a = fixed.quantize(xt, *qa.output_types(), round=rnd, overflow=ovf)
    assert np.array_equal(ya, ref_a)
    # HDense: exact products and sums, then the output cast
    wq, bq = dense.quantized_kernel(), dense.quantized_bias()
    assert np.array_equal(wq, fixed.quantize(dense.kernel.numpy(), *dense.kernel_types(), round=rnd))
    acc = np.maximum(ref_a @ wq + bq, 0)
    ref_b = fixed.quantize(acc, *dense.output_types(), round=rnd, overflow=ovf)
    assert np.array_equal(yb, ref_b)
    assert np.array_equal(dense.input_types()[0], qa.output_types()[0])
    # HActivation: function of the exact input, then the cast
    ref_c = fixed.quantize(np.tanh(ref_b), *act.output_types(), round=rnd, overflow=ovf)
    assert np.array_equal(yc, ref_c)
    # something actually overflowed: the result differs from a cast without overflow handling
    k, i, f = dense.output_types()
    wide = fixed.quantize(acc, k, i + 20, f, round=rnd, overflow=ovf)
    assert np.any(wide != ref_b)


def test_save_load_exact(tmp_path):
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    inp = keras.Input((4, 3))
    x = HQuantize()(inp)
    x = HDense(5, activation="relu")(x)
    x = HFlatten()(x)
    x = HActivation("sigmoid")(x)
    x = HReshape((4, 5))(x)
    model = keras.Model(inp, HDense(2)(x))
    x = rng.normal(size=(64, 4, 3)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, rng.normal(size=(64, 4, 2)), epochs=1, verbose=0)
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "train.keras")
    again = keras.models.load_model(tmp_path / "train.keras")
    assert np.array_equal(before, again.predict(x, verbose=0))
    hgq_fpga.calibrate(model, x)
    dep = model.predict(x * 3, verbose=0)
    assert dep.dtype == np.float64
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert np.array_equal(dep, loaded.predict(x * 3, verbose=0))
    for a, b in zip(model.layers[1:], loaded.layers[1:]):
        assert type(a) is type(b)
        for ta, tb in zip(a.output_types(), b.output_types()):
            assert np.array_equal(ta, tb)
    assert hgq_fpga.ebops(loaded) == hgq_fpga.ebops(model)


def test_from_config_rebuilds_every_layer():
    layers = [HQuantize(output_quantizer={"overflow_mode": "SAT", "granularity": "per_channel"}),
              HDense(7, activation="relu", beta=3e-6, kernel_quantizer={"granularity": "per_tensor"}),
              HActivation("tanh"), HFlatten(), HReshape((7, 1))]
    for layer in layers:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert type(clone) is type(layer)
        assert clone.get_config() == config


def test_unsupported_activation_errors():
    with pytest.raises(ValueError, match="unsupported activation 'softmax'"):
        HActivation("softmax")
    with pytest.raises(ValueError, match="unsupported activation 'nope'"):
        HActivation("nope")
    with pytest.raises(ValueError, match="HDense supports activation"):
        HDense(3, activation="tanh")


def test_non_hgq_producer_is_a_clear_error():
    inp = keras.Input((4,))
    model = keras.Model(inp, HDense(2)(keras.layers.Dense(4)(inp)))
    with pytest.raises(ValueError, match="not an HGQ layer"):
        model(np.zeros((2, 4), np.float32), training=True)


def test_dense_batchnorm_fused_exact(tmp_path):
    from hgq_fpga.nn.layers import HDenseBatchNorm

    keras.utils.set_random_seed(6)
    rng = np.random.default_rng(6)
    inp = keras.Input((6,))
    a = HQuantize()(inp)
    b = HDenseBatchNorm(4, activation="relu")(a)
    model = keras.Model(inp, [a, b])
    x = rng.normal(2, 3, (256, 6)).astype(np.float32)
    model.compile(keras.optimizers.Adam(1e-2), [None, "mse"])
    model.fit(x, [None, rng.normal(size=(256, 4))], epochs=2, batch_size=32, verbose=0)
    bn = model.layers[2]
    assert np.any(bn.moving_mean.numpy() != 0)  # statistics were tracked
    hgq_fpga.calibrate(model, x)
    ya, yb = model.predict(x * 2, verbose=0)
    acc = np.maximum(ya @ bn.quantized_kernel() + bn.quantized_bias(), 0)
    assert np.array_equal(yb, fixed.quantize(acc, *bn.output_types()))
    model.save(tmp_path / "bn.keras")
    loaded = keras.models.load_model(tmp_path / "bn.keras")
    assert np.array_equal(yb, loaded.predict(x * 2, verbose=0)[1])
    assert type(bn).from_config(bn.get_config()).get_config() == bn.get_config()

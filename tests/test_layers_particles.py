"""The particle-network layers: Keras in calibrated mode (eagerly, as a graph and under XLA) equals
the firmware emulator with ``==``, on data inside the calibrated range, four times larger (every
overflow mode acts) and on exact rounding ties; save and load; EBOPs; refusals at calibration;
and how far :class:`HSoftmax` is from the float softmax, within the bound its widths give."""

from __future__ import annotations

import numpy as np
import pytest

import keras
import tensorflow as tf

import hgq_fpga  # noqa: E402
from hgq_fpga.nn import layers as L  # noqa: E402
from test_keras_corpus import tie_data  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _randomize(model, rng, lo=-1, hi=7):
    """Random fractional bits for every quantizer, random rounding is set by the builders."""
    for layer in L.hgq_layers(model):
        for q in layer.quantizers():
            low = 1 if q.kind == "weight" else lo
            f = rng.integers(low, hi, q.f.shape) + rng.uniform(-0.45, 0.45, q.f.shape)
            q.f.assign(f.astype(np.float32))


def _modes(rng) -> dict:
    return {"round_mode": str(rng.choice(["TRN", "RND"])), "overflow_mode": str(rng.choice(["WRAP", "SAT"]))}


def _keras_runs(model):
    """Calibrated-mode Keras as a user may run it: eagerly, traced, and compiled by XLA."""
    graph = tf.function(lambda v: model(v, training=False))
    xla = tf.function(lambda v: model(v, training=False), jit_compile=True)
    return {"eager": lambda x: model(x, training=False), "graph": graph, "xla": xla}


def _as_list(y):
    return [np.asarray(t, np.float64) for t in (y if isinstance(y, (list, tuple)) else [y])]


def _one(xs: list):
    return xs if len(xs) > 1 else xs[0]


def check_exact(model, calib, rng):
    """Calibrate on ``calib`` and compare every Keras run with the emulator on three data sets."""
    calib = calib if isinstance(calib, list) else [calib]
    ebops = hgq_fpga.calibrate(model, _one(calib))
    fw = hgq_fpga.to_firmware(model)
    assert fw.resources().ebops == ebops == hgq_fpga.ebops(model)
    cases = {"calibration": calib, "x4": [4 * x for x in calib], "ties": tie_data(model, rng)}
    runs = _keras_runs(model)
    for case, xs in cases.items():
        xs = [np.asarray(a, np.float32) for a in xs]            # what Keras's float32 inputs hold
        ref = _as_list(fw.predict(_one([a.astype(np.float64) for a in xs])))
        for how, run in runs.items():
            got = _as_list(run(_one([tf.constant(a) for a in xs])))
            assert all(np.array_equal(a, b) for a, b in zip(got, ref)), f"{case}, {how}"
    return fw


def _particles(rng, n=64, particles=5, features=3):
    return rng.normal(0, 1.5, (n, particles, features)).astype(np.float32)


def deep_sets_model(rng):
    """HDense per particle, a standalone batch norm after an activation, mixing across particles,
    a permute, a broadcasting add, sums and global poolings."""
    inp = keras.Input((5, 3))
    h = L.HQuantize(output_quantizer=_modes(rng))(inp)
    h = L.HDense(6, activation="relu", bias_initializer="random_normal", output_quantizer=_modes(rng))(h)
    h = L.HBatchNormalization(output_quantizer=_modes(rng))(L.HActivation("tanh")(h))
    mixed = L.HEinsumDense("bnf,nm->bmf", (4, 6), bias_axes="m", output_quantizer=_modes(rng))(h)
    event = L.HGlobalMaxPooling1D(keepdims=True)(mixed)
    mixed = L.HAdd(output_quantizer=_modes(rng))([mixed, event])
    swapped = L.HPermute((2, 1))(mixed)
    pooled = L.HConcatenate()([L.HSum(1, output_quantizer=_modes(rng))(h),
                               L.HGlobalAveragePooling1D(c_f=10, output_quantizer=_modes(rng))(mixed),
                               L.HGlobalMaxPooling1D()(swapped),
                               L.HFlatten()(L.HSum(-1, keepdims=True)(swapped))])
    return keras.Model(inp, L.HDense(3)(pooled))


def products_model(rng):
    """Pair products (an einsum of two activations) and a broadcasting element-wise product."""
    a, b = keras.Input((4, 3)), keras.Input((4, 1))
    qa = L.HQuantize(output_quantizer=_modes(rng))(a)
    qb = L.HQuantize(output_quantizer=_modes(rng))(b)
    h = L.HDense(3, output_quantizer=_modes(rng))(qa)
    pairs = L.HEinsum("bnf,bmf->bnm", output_quantizer=_modes(rng))([h, qa])
    weighted = L.HMultiply(output_quantizer=_modes(rng))([qa, qb])
    total = L.HEinsum("bnm,bmf->bf", output_quantizer=_modes(rng))([pairs, weighted])
    return keras.Model([a, b], [L.HDense(2)(total), L.HFlatten()(pairs)])


def softmax_model(rng, axis: int = -1):
    """A softmax in the middle of the network (along ``axis``) and one at its output."""
    inp = keras.Input((5, 3))
    h = L.HDense(4, output_quantizer=_modes(rng))(L.HQuantize()(inp))
    mid = L.HSoftmax(axis=axis)(h)
    h = L.HDense(3, activation="relu")(L.HMultiply()([mid, h]))
    out = L.HSoftmax(exp_input_quantizer={"round_mode": "TRN"}, output_quantizer={"round_mode": "TRN"})(
        L.HDense(3)(L.HFlatten()(h)))
    return keras.Model(inp, out)


def attention_model(rng):
    """HMultiHeadAttention (the recipe) with a residual add, as a one-head transformer has it."""
    inp = keras.Input((4, 3))
    x = L.HQuantize()(inp)
    att = L.HMultiHeadAttention(num_heads=2, key_dim=2, name="mha")(x, x)
    h = L.HAdd()([x, att])
    return keras.Model(inp, L.HDense(2)(L.HGlobalAveragePooling1D()(h)))


def pooling_2d_model(rng):
    inp = keras.Input((4, 3, 2))
    h = L.HConv2D(3, 2, padding="same", output_quantizer=_modes(rng))(L.HQuantize()(inp))
    out = L.HConcatenate()([L.HGlobalAveragePooling2D(c_f=6)(h), L.HGlobalMaxPooling2D()(h),
                            L.HFlatten()(L.HGlobalAveragePooling2D(keepdims=True)(h))])
    return keras.Model(inp, out)


#: the models of the exactness tests below (``tests/test_convert.py`` checks they cover the layer set)
MODELS = (deep_sets_model, products_model, softmax_model, attention_model, pooling_2d_model)


def test_deep_sets_and_mixing_layers_are_exact():
    rng = np.random.default_rng(1)
    keras.utils.set_random_seed(1)
    model = deep_sets_model(rng)
    _randomize(model, rng)
    check_exact(model, _particles(rng), rng)


def test_products_of_two_activations_are_exact():
    rng = np.random.default_rng(2)
    keras.utils.set_random_seed(2)
    model = products_model(rng)
    _randomize(model, rng)
    check_exact(model, [_particles(rng, features=3, particles=4), _particles(rng, features=1, particles=4)],
                rng)


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_output_and_mid_network_are_exact(axis):
    rng = np.random.default_rng(3 + axis)
    keras.utils.set_random_seed(3)
    model = softmax_model(rng, axis)
    _randomize(model, rng, lo=1)
    fw = check_exact(model, _particles(rng), rng)
    kinds = [op.kind for op in fw.ops]
    assert kinds.count("table") == 4 and "max" in kinds and "subtract" in kinds


def test_attention_block_is_exact():
    rng = np.random.default_rng(4)
    keras.utils.set_random_seed(4)
    model = attention_model(rng)
    names = {layer.name for layer in model.layers}
    assert {"mha_query", "mha_key", "mha_value", "mha_scores", "mha_softmax", "mha_combine",
            "mha_output"} <= names
    _randomize(model, rng, lo=2)
    check_exact(model, _particles(rng, particles=4), rng)


def test_global_poolings_2d_are_exact():
    rng = np.random.default_rng(5)
    keras.utils.set_random_seed(5)
    model = pooling_2d_model(rng)
    _randomize(model, rng)
    check_exact(model, rng.normal(0, 1, (48, 4, 3, 2)).astype(np.float32), rng)


def _all_layers_model():
    inp = keras.Input((4, 3))
    x = L.HQuantize()(inp)
    h = L.HBatchNormalization()(L.HDense(4, activation="relu")(x))
    h = L.HEinsumDense("bnf,nm->bmf", (4, 4), bias_axes="f")(h)
    p = L.HSoftmax()(L.HEinsum("bnf,bmf->bnm")([h, h]))
    h = L.HMultiply()([L.HEinsum("bnm,bmf->bnf")([p, h]), L.HSum(1, keepdims=True)(h)])
    h = L.HPermute((2, 1))(L.HAdd()([h, L.HGlobalMaxPooling1D(keepdims=True)(h)]))
    att = L.HMultiHeadAttention(1, 2, name="mha")(h, h)
    return keras.Model(inp, L.HGlobalAveragePooling1D()(att))


def test_save_and_load_keep_every_layer(tmp_path):
    rng = np.random.default_rng(6)
    keras.utils.set_random_seed(6)
    model = _all_layers_model()
    x = _particles(rng, particles=4)
    model(x, training=True)
    model.save(tmp_path / "trainable.keras")
    again = keras.models.load_model(tmp_path / "trainable.keras")
    assert np.array_equal(np.asarray(again(x)), np.asarray(model(x)))
    hgq_fpga.calibrate(model, x)
    model.save(tmp_path / "calibrated.keras")
    again = keras.models.load_model(tmp_path / "calibrated.keras")
    ref = hgq_fpga.to_firmware(model).predict(x.astype(np.float64))
    assert np.array_equal(np.asarray(again(4 * x)), hgq_fpga.to_firmware(model).predict(4 * x.astype(np.float64)))
    assert np.array_equal(hgq_fpga.to_firmware(again).predict(x.astype(np.float64)), ref)
    assert hgq_fpga.ebops(again) == hgq_fpga.ebops(model)


def test_ebops_count_every_product_and_train():
    """Products of two activations and the softmax's product are counted (exactly after
    calibration, per layer as in the IR), and the EBOPs loss reaches their inputs' bit widths."""
    rng = np.random.default_rng(7)
    keras.utils.set_random_seed(7)
    model = _all_layers_model()
    x = _particles(rng, particles=4)
    for layer in L.hgq_layers(model):
        if layer.has_ebops:
            layer.beta.assign(1e-3)
    model.compile("adam", "mse")
    before = {q.name: q.f.numpy().copy() for layer in L.hgq_layers(model) for q in layer.quantizers()}
    model.fit(x, rng.normal(size=(len(x), 4)), epochs=1, verbose=0, batch_size=16)
    training = hgq_fpga.ebops(model, per_layer=True)
    counted = {type(layer).__name__ for layer in L.hgq_layers(model) if layer.name in training}
    assert {"HEinsum", "HMultiply", "HSoftmax", "HEinsumDense", "HBatchNormalization"} <= counted
    assert all(v > 0 for v in training.values())
    softmax = next(layer for layer in L.hgq_layers(model) if isinstance(layer, L.HSoftmax))
    assert not np.array_equal(before[softmax.eq.name], softmax.eq.f.numpy())   # the loss reached it
    hgq_fpga.calibrate(model, x)
    fw = hgq_fpga.to_firmware(model)
    per_op = {r.name: r.ebops for r in fw.resources().ops}
    for name, value in hgq_fpga.ebops(model, per_layer=True).items():
        # the op that multiplies: a kernel's accumulator, or a product of two activations
        assert value == per_op.get(f"{name}_acc", 0) + per_op.get(f"{name}_product", 0), name


def test_softmax_is_within_its_width_bound_of_the_float_softmax():
    """On held-out data, the calibrated softmax is within :meth:`HSoftmax.error_bound` of
    softmax of its own (quantized) input; the measured error is reported."""
    rng = np.random.default_rng(8)
    inp = keras.Input((8,))
    logits = L.HQuantize(output_quantizer={"f_init": 4, "overflow_mode": "SAT", "round_mode": "RND"})(inp)
    layer = L.HSoftmax(exp_input_quantizer={"f_init": 4}, exp_output_quantizer={"f_init": 10},
                       sum_quantizer={"f_init": 6}, inverse_quantizer={"f_init": 10},
                       output_quantizer={"f_init": 10})
    model = keras.Model(inp, layer(logits))
    train, held_out = (rng.normal(0, 2.0, (n, 8)).astype(np.float32) for n in (2000, 2000))
    hgq_fpga.calibrate(model, train, margin=1)
    fw = hgq_fpga.to_firmware(model)
    _, overflow = fw.predict(held_out.astype(np.float64), report=True)
    assert not overflow.any, overflow.summary()                    # the bound's precondition
    trace = fw.predict(held_out.astype(np.float64), trace=True)
    x = trace[model.layers[1].name]
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = np.asarray(model(held_out), np.float64)
    error = np.abs(y - p)
    bound = layer.error_bound()
    print(f"HSoftmax vs float softmax on held-out data: max |Δ| {error.max():.2e}, mean |Δ| "
          f"{error.mean():.2e}, bound from the widths {bound:.2e}")
    assert error.max() <= bound
    # coarser widths: a larger bound, a larger error, still within it
    coarse = L.HSoftmax(exp_input_quantizer={"f_init": 1}, exp_output_quantizer={"f_init": 4},
                        inverse_quantizer={"f_init": 4}, output_quantizer={"f_init": 4})
    model = keras.Model(inp, coarse(logits))
    hgq_fpga.calibrate(model, train, margin=1)
    y = np.asarray(model(held_out), np.float64)
    assert np.abs(y - p).max() <= coarse.error_bound() and coarse.error_bound() > bound
    # random widths and rounding modes: the bound holds wherever nothing overflows
    for _ in range(3):
        opts = {o: {"f_init": float(rng.integers(1, 10)), "round_mode": str(rng.choice(["TRN", "RND"]))}
                for o in ("exp_input_quantizer", "exp_output_quantizer", "sum_quantizer",
                          "inverse_quantizer", "output_quantizer")}
        layer = L.HSoftmax(**opts)
        model = keras.Model(inp, layer(logits))
        hgq_fpga.calibrate(model, train, margin=1)
        _, overflow = hgq_fpga.to_firmware(model).predict(held_out.astype(np.float64), report=True)
        assert not overflow.any, overflow.summary()
        y = np.asarray(model(held_out), np.float64)
        assert np.abs(y - p).max() <= layer.error_bound(), opts


def _calibrate_error(model, x) -> str:
    with pytest.raises(ValueError) as e:
        hgq_fpga.calibrate(model, x)
    return str(e.value)


def test_calibration_refuses_what_cannot_be_exact():
    x = np.random.default_rng(9).normal(0, 100, (64, 4)).astype(np.float32)
    inp = keras.Input((4,))
    q = L.HQuantize(output_quantizer={"f_init": 14, "f_max": 30})(inp)
    softmax = keras.Model(inp, L.HSoftmax(name="wide_softmax", exp_input_quantizer={"f_init": 14})(q))
    message = _calibrate_error(softmax, x)
    assert "wide_softmax" in message and "exp_input_quantizer" in message and "20 bits" in message
    a, b = keras.Input((4,)), keras.Input((4,))
    qa = L.HQuantize(output_quantizer={"f_init": 28, "f_max": 30})(a)
    qb = L.HQuantize(output_quantizer={"f_init": 28, "f_max": 30})(b)
    product = keras.Model([a, b], L.HMultiply(name="wide_product", output_quantizer={"f_init": 0})([qa, qb]))
    message = _calibrate_error(product, [x, x])
    assert "wide_product" in message and "53" in message


@pytest.mark.parametrize("make, message", [
    (lambda x: L.HEinsum("nf,mf->nm")([x, x]), "batch axis"),
    (lambda x: L.HEinsum("bnf,bmf->bnm")([x, L.HQuantize()(keras.Input((4, 2)))]), "letter"),
    (lambda x: L.HMultiply()([x, L.HQuantize()(keras.Input((3, 3)))]), "do not broadcast"),
    (lambda x: L.HSum(0)(x), "batch axis"),
    (lambda x: L.HPermute((1, 1))(x), "permutation"),
    (lambda x: L.HSoftmax(axis=(1, 2))(x), "one integer"),
    (lambda x: L.HBatchNormalization(axis=1)(x), "last axis"),
    (lambda x: L.HMultiHeadAttention(2, 2)(x, x, attention_mask=x), "attention_mask"),
])
def test_bad_layer_arguments_are_clear_errors(make, message):
    x = L.HQuantize()(keras.Input((4, 3)))
    with pytest.raises(ValueError, match=message):
        make(x)

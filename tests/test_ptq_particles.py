"""Post-training quantization of float particle networks: EinsumDense, a batch norm that follows
no kernel, Softmax, Multiply, Permute, global poolings and MultiHeadAttention map onto the HGQ
layers, and the quantized model is bit-exact (Keras = emulator, ``==``) inside and far outside the
calibrated range."""

from __future__ import annotations

import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga.nn import layers as H  # noqa: E402
from hgq_fpga.nn.ptq import UnmappableLayerError, quantize_float  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
L = keras.layers


def _statistics(model, seed: int):
    """Non-trivial batch-norm statistics and biases (a trained model has them)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for v in layer.weights:
            if v.name in ("moving_mean", "beta", "bias"):
                v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))
            elif v.name in ("moving_variance", "gamma"):
                v.assign(rng.uniform(0.5, 2.0, v.shape).astype("float32"))
    return model


def _exact(result, x):
    fw = hgq_fpga.to_firmware(result.model)
    for xs in (x, 4 * x):
        report = hgq_fpga.verify(result.model, xs, firmware=fw)
        assert report.mismatches == 0, str(report)
    return fw


def attention_model():
    """A one-head-style transformer block on particles, with every mapped particle layer."""
    inp = keras.Input((6, 4))
    h = L.Dense(8, activation="relu")(inp)
    h = L.BatchNormalization()(h)                                   # after an activation
    h = L.Add()([h, L.MultiHeadAttention(2, 4, name="mha")(h, h)])
    h = L.EinsumDense("bnf,nm->bmf", (3, 8), bias_axes="m", activation="relu")(h)
    h = L.Multiply()([h, L.Softmax(axis=1)(h)])                      # a mid-network softmax
    h = L.Permute((2, 1))(h)
    pooled = L.Concatenate()([L.GlobalAveragePooling1D()(h), L.GlobalMaxPooling1D()(h)])
    return keras.Model(inp, L.Dense(5, activation="softmax")(pooled))


def test_float_attention_model_is_bit_exact_after_ptq():
    keras.utils.set_random_seed(1)
    model = _statistics(attention_model(), 1)
    x = np.random.default_rng(1).normal(size=(300, 6, 4)).astype("float32")
    result = quantize_float(model, x)
    fw = _exact(result, x)
    kinds = {type(layer).__name__ for layer in H.hgq_layers(result.model)}
    assert {"HEinsumDense", "HEinsum", "HSoftmax", "HMultiply", "HPermute", "HGlobalAveragePooling1D",
            "HGlobalMaxPooling1D"} <= kinds
    names = {layer.name for layer in result.model.layers}
    assert {"mha_query", "mha_scores", "mha_softmax", "mha_combine", "mha_output"} <= names
    assert result.output_cosine > 0.99
    # the EBOPs include the products of two activations (attention scores, the softmaxes)
    per_op = {r.name: r.ebops for r in fw.resources().ops}
    assert per_op["mha_scores_product"] > 0 and per_op["mha_softmax_product"] > 0
    assert result.ebops == fw.resources().ebops


def test_batch_norm_after_an_activation_maps_and_matches_the_float_model():
    """The most common place for a batch norm: ``Dense(relu) -> BatchNormalization -> Dense``."""
    keras.utils.set_random_seed(2)
    inp = keras.Input((16,))
    h = L.BatchNormalization(name="bn")(L.Dense(12, activation="relu")(inp))
    model = _statistics(keras.Model(inp, L.Dense(4)(h)), 2)
    x = np.random.default_rng(2).normal(size=(400, 16)).astype("float32")
    result = quantize_float(model, x, weight_bits=10, act_bits=12)
    bn = result.model.get_layer("bn")
    assert isinstance(bn, H.HEinsumDense) and bn.sample_equation == "c,c->c"
    _exact(result, x)
    y, ref = np.asarray(result.model(x), np.float64), np.asarray(model(x), np.float64)
    assert result.output_cosine > 0.999 and np.abs(y - ref).max() < 0.05 * np.abs(ref).max()


@pytest.mark.slow
def test_mixed_precision_counts_products_of_activations():
    """The EBOPs of mixed precision include the attention's products of two activations, and a
    budget below the uniform model's is met."""
    keras.utils.set_random_seed(3)
    inp = keras.Input((4, 3))
    h = L.MultiHeadAttention(1, 2, use_bias=False, name="mha")(inp, inp)
    model = _statistics(keras.Model(inp, L.Dense(2)(L.GlobalAveragePooling1D()(h))), 3)
    x = np.random.default_rng(3).normal(size=(100, 4, 3)).astype("float32")
    quick = dict(clip_steps=1, rounds=1)
    full = quantize_float(model, x, **quick)
    fw = hgq_fpga.to_firmware(full.model)
    products = sum(r.ebops for r in fw.resources().ops if r.kind == "einsum")
    assert 0 < products < full.ebops
    budget = full.ebops - products // 4
    low = quantize_float(model, x, ebops_budget=budget, mixed_samples=50, **quick)
    assert low.ebops <= budget
    _exact(low, x)


def test_global_poolings_2d_map():
    keras.utils.set_random_seed(4)
    inp = keras.Input((5, 4, 2))
    h = L.Conv2D(3, 2, activation="relu")(inp)
    out = L.Dense(3)(L.Concatenate()([L.GlobalAveragePooling2D()(h), L.GlobalMaxPooling2D()(h)]))
    x = np.random.default_rng(4).normal(size=(200, 5, 4, 2)).astype("float32")
    _exact(quantize_float(keras.Model(inp, out), x), x)


@pytest.mark.parametrize("call, needle", [
    (lambda h: L.MultiHeadAttention(1, 2, name="masked")(h, h, attention_mask=np.ones((1, 6, 6), bool)), "'masked'"),
    (lambda h: L.MultiHeadAttention(1, 2, use_gate=True, name="gated")(h, h), "'gated'"),
    (lambda h: L.Multiply(name="three")([h, h, h]), "'three'"),
])
def test_unmappable_particle_layers_are_named(call, needle):
    inp = keras.Input((6, 4))
    model = keras.Model(inp, call(L.Dense(4)(inp)))
    with pytest.raises(UnmappableLayerError, match=needle):
        quantize_float(model, np.zeros((20, 6, 4), "float32"))

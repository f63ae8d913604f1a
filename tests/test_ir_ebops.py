"""The firmware IR's EBOPs equal the Keras model's exact EBOPs after calibration.

``fw.resources()`` counts from the integer weights and the tensor types of the IR;
``hgq_fpga.ebops(model)`` counts from the calibrated layers.  Both must give the same integer, per
layer and in total, or the number a physicist minimises in training is not the firmware's.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras

# TensorFlow's tensors warn on numpy 2's copy keyword whenever Keras converts them; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import hgq_fpga  # noqa: E402
from hgq_fpga.nn.layers import (HConv1D, HConv2D, HDense, HFlatten, HMaxPooling1D,  # noqa: E402
                                HQuantize)
from conftest import build_hgq_mlp  # noqa: E402


def _randomize_f(model: keras.Model, rng) -> None:
    for layer in model.layers:
        for q in getattr(layer, "quantizers", lambda: [])():
            q.f.assign(rng.integers(-1, 7, q.f.shape).astype(np.float32))


def _ir_ebops_per_layer(fw) -> dict[str, int]:
    """EBOPs of the IR's Dense/Conv ops, keyed by the Keras layer they came from."""
    return {r.name.removesuffix("_acc"): r.ebops for r in fw.resources().ops
            if r.kind in ("dense", "conv")}


def _check(model: keras.Model, x: np.ndarray) -> None:
    exact = hgq_fpga.calibrate(model, x)
    fw = hgq_fpga.to_firmware(model)
    assert _ir_ebops_per_layer(fw) == hgq_fpga.ebops(model, per_layer=True)
    assert fw.resources().ebops == exact == hgq_fpga.ebops(model) > 0


@pytest.mark.parametrize("seed", range(3))
def test_dense_model(seed):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_hgq_mlp(10, 7, 3, bias_initializer="random_normal")
    _randomize_f(model, rng)
    _check(model, rng.normal(size=(100, 10)))


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
def test_conv_models(padding, strides):
    keras.utils.set_random_seed(strides)
    rng = np.random.default_rng(strides)
    inp = keras.Input((7, 6, 2))
    h = HQuantize()(inp)
    h = HConv2D(3, (3, 2), strides=strides, padding=padding, activation="relu")(h)
    model = keras.Model(inp, HDense(2)(HFlatten()(h)))
    _randomize_f(model, rng)
    _check(model, rng.normal(size=(100, 7, 6, 2)))

    inp = keras.Input((9, 3))
    h = HConv1D(4, 3, strides=strides, padding=padding)(HQuantize()(inp))
    model = keras.Model(inp, HConv1D(2, 2, padding=padding)(h))
    _randomize_f(model, rng)
    _check(model, rng.normal(size=(100, 9, 3)))


def test_max_pooling_over_signed_and_unsigned_inputs():
    keras.utils.set_random_seed(0)
    inp = keras.Input((2, 1))
    h = HMaxPooling1D(2)(HQuantize()(inp))
    model = keras.Model(inp, HDense(1)(HFlatten()(h)))
    x = np.stack([-np.linspace(0, 1.5, 20), np.linspace(0, 1.5, 20)], axis=1)[..., None]
    hgq_fpga.calibrate(model, x)                     # element 0 signed, element 1 unsigned
    fw = hgq_fpga.to_firmware(model)
    pool = model.layers[2]
    t = fw.types[pool.name]
    assert [int(a.ravel()[0]) for a in pool.output_types()] == [int(t.k[0, 0]), int(t.i[0, 0]),
                                                                int(t.f[0, 0])]
    assert fw.resources().ebops == hgq_fpga.ebops(model)

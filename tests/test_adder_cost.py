"""The adder-count training cost (hgq_fpga/nn/adder_cost.py): exact value on hand-checked weights,
the straight-through gradients, serialisation, and that training with it lowers the exact count."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import hgq_fpga
from hgq_fpga.ir.adders import csd_digits as ir_csd_digits
from hgq_fpga.nn import adder_cost
from hgq_fpga.nn.layers import HDense, HQuantize
from hgq_fpga.nn.quantizers.nhot import nhot

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

#: codes at F = 2: 3 = 4-1 (2 digits), 1, 7 = 8-1 (2), 0, 5 = 4+1 (2), -2 (1)
KERNEL = np.array([[0.75, 0.25], [1.75, 0.0], [1.25, -0.5]], np.float32)
BIAS = np.array([0.25, 0.0], np.float32)


def test_digit_count_and_lowest_digit_match_the_numpy_reference():
    m = np.arange(-1030, 1030)
    d = ops.convert_to_numpy(adder_cost.csd_digits(ops.convert_to_tensor(m.astype(np.float32))))
    assert np.array_equal(d.astype(np.int64), ir_csd_digits(m))
    low = ops.convert_to_numpy(adder_cost.lowest_digit(ops.convert_to_tensor(m.astype(np.float32))))
    low = low.astype(np.int64)
    nz = m != 0
    assert np.array_equal(low[~nz], [0])
    # deleting the lowest digit leaves exactly one digit fewer, at the lowest set bit
    assert np.array_equal(ir_csd_digits(m[nz] - low[nz]), ir_csd_digits(m[nz]) - 1)
    assert np.array_equal(np.abs(low[nz]), m[nz] & -m[nz])


def _known_model(dead_input: bool):
    inp = keras.Input((3,))
    x = HQuantize(output_quantizer={"f_init": 4.0})(inp)
    # rounding toward -inf, as the hand-checked counts and gradients below assume
    layer = HDense(2, adder_gamma=0.0, kernel_quantizer={"init_bits": 3, "round_mode": "TRN"},
                   bias_quantizer={"round_mode": "TRN"})
    model = keras.Model(inp, layer(x))
    layer.kernel.assign(KERNEL)
    layer.bias.assign(BIAS)
    layer.kq.f.assign(np.full(layer.kq.f.shape, 2.0, np.float32))
    layer.bq.f.assign(np.full(layer.bq.f.shape, 2.0, np.float32))
    x = np.random.default_rng(0).uniform(0.1, 1.0, size=(64, 3)).astype(np.float32)
    if dead_input:
        x[:, 1] = 0.0
    model(x, training=True)  # records the input range: column 1 gets width 0 when it is dead
    return model, layer, x


@pytest.mark.parametrize("dead_input, hand", [(False, 7), (True, 5)])
def test_surrogate_value_is_the_hand_checked_adder_count(dead_input, hand):
    # all inputs live: weight adders (3→1) + (7→1) + (5→1) = 3; output 0 sums 3 products and the
    # bias (3 adders), output 1 sums 2 products (1 adder): 7.  Input 1 dead: 7 drops out: 2 + 2 + 1
    model, _, x = _known_model(dead_input)
    assert adder_cost.surrogate_adders(model) == hand
    hgq_fpga.calibrate(model, x)
    assert hgq_fpga.to_firmware(model).resources().adders == hand


def test_straight_through_gradients():
    model, layer, _ = _known_model(False)
    with tf.GradientTape() as tape:
        kernel = layer.kernel
        wq, F = layer.kq.fake_quantize(kernel)
        a = adder_cost.layer_adders(layer, kernel, wq, F, layer.bq.fake_quantize(layer.bias)[0])
    g_w, g_f = tape.gradient(a, [layer.kernel, layer.kq.f])
    # 2**F / δ: δ = -1 for 3 and 7 (toward 4, 8), +1 for 1 and 5, -2 for -2 (toward 0); 0 for a 0
    assert np.array_equal(ops.convert_to_numpy(g_w), [[-4.0, 4.0], [-4.0, 0.0], [4.0, -2.0]])
    # digits saved one bit coarser (weights truncate, TRN): 3 → floor(1.5) = 1 (2→1),
    # 1 → floor(0.5) = 0 (1→0), 7 → floor(3.5) = 3 (2→2), 5 → floor(2.5) = 2 (2→1), -2 → -1 (1→1)
    assert np.array_equal(ops.convert_to_numpy(g_f), [[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])


def test_config_round_trip_and_setter(tmp_path):
    inp = keras.Input((4,))
    out = HDense(2, adder_gamma=0.5)(HQuantize()(inp))
    model = keras.Model(inp, out)
    adder_cost.set_adder_gamma(model, 0.25)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert adder_cost.gamma_config(loaded.layers[-1]) == 0.25
    plain = keras.Model(inp, HDense(2)(HQuantize()(inp)))
    assert plain.layers[-1].adder_gamma is None
    with pytest.raises(ValueError, match="no layer of the model was built with adder_gamma"):
        adder_cost.set_adder_gamma(plain, 1.0)
    with pytest.raises(ValueError, match="adder_gamma must be >= 0"):
        HDense(2, adder_gamma=-1.0)


def _train_and_count(gamma: float, kernel_quantizer=None) -> tuple[int, float]:
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(512, 12)).astype(np.float32)
    y = (x[:, :3].sum(axis=1) > 0).astype(np.int64) + (x[:, 3] > 0.5)
    inp = keras.Input((12,))
    h = HQuantize(output_quantizer={"f_init": 4.0})(inp)
    kq = (lambda: kernel_quantizer()) if kernel_quantizer else (lambda: {"init_bits": 5})
    h = HDense(16, activation="relu", adder_gamma=gamma, kernel_quantizer=kq())(h)
    out = HDense(3, adder_gamma=gamma, kernel_quantizer=kq())(h)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(3e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, epochs=4, batch_size=64, verbose=0)
    hgq_fpga.calibrate(model, x)
    acc = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
    return int(hgq_fpga.to_firmware(model).resources().adders), acc


def _lowers(kernel_quantizer=None) -> None:
    base, acc0 = _train_and_count(0.0, kernel_quantizer)
    cheap, acc1 = _train_and_count(3e-4, kernel_quantizer)
    # measured (seed 3): 596 → 496 adders (HGQ), 572 → 491 (n-hot 3), accuracy 0.62 → 0.56
    assert cheap <= 0.9 * base, (cheap, base)
    assert acc1 >= acc0 - 0.15, (acc1, acc0)  # still a classifier, not a model pruned to nothing


def test_training_with_gamma_lowers_the_exact_adder_count():
    _lowers()


@pytest.mark.slow
def test_training_with_gamma_lowers_the_exact_adder_count_nhot():
    _lowers(lambda: nhot(3, init_bits=5))

"""EBOPs per II (hgq_fpga/nn/ii_cost.py): the value on a hand-made model, ii = 1 and the default
are EBOPs bit for bit, a dict touches only its layers, the errors, and the gradient through the
slice width k = max(ba) / ii to the widest input."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import hgq_fpga
from hgq_fpga.nn.ebops import ebops, set_beta
from hgq_fpga.nn.ii_cost import set_ii
from hgq_fpga.nn.layers import HDense, HEinsumDense, HQuantize
from hgq_fpga.nn.recipe import train_pareto

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

#: input j spans about ±2**j: widths from 4 to 9 bits (6 fractional bits at the start)
SCALES = 2.0 ** np.arange(-3, 3)


def _model(einsum: bool = False):
    """6 inputs of different widths -> d1 (5, relu) -> d2 (3) [-> an HEinsumDense, parallel at any II]."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    x = HQuantize(name="q", output_quantizer={"f_init": 2.0})(inp)
    h = HDense(5, activation="relu", name="d1", kernel_quantizer={"f_init": 3.0})(x)
    y = HDense(3, name="d2", kernel_quantizer={"f_init": 3.0})(h)
    if einsum:
        y = HEinsumDense("bc,cd->bd", 2, name="e", kernel_quantizer={"f_init": 3.0})(y)
    model = keras.Model(inp, y)
    x = (np.random.default_rng(1).uniform(-1, 1, (64, 6)) * SCALES).astype(np.float32)
    model(x, training=True)                     # records the ranges
    set_beta(model, 1e-3)
    return model, x


def _widths(model, name: str) -> tuple[np.ndarray, np.ndarray]:
    layer = model.get_layer(name)
    ba, bw = layer.operand_widths(False)
    return ops.convert_to_numpy(ba).astype(np.float64), ops.convert_to_numpy(bw).astype(np.float64)


def _by_hand(model, name: str, ii: int) -> float:
    """``Σ_jo bw[j, o] · min(ba[j], k)``, ``k = max(max(ba) / ii, 1)``, in numpy."""
    ba, bw = _widths(model, name)
    return float(np.sum(bw * np.minimum(ba, max(ba.max() / ii, 1.0))[:, None]))


def _losses(model, x) -> list[np.float32]:
    model(x, training=True)
    return [np.float32(ops.convert_to_numpy(v)) for v in model.losses]


def test_cost_is_the_formula_on_a_hand_made_model():
    model, _ = _model()
    ba, bw = _widths(model, "d1")
    assert len(set(ba)) > 2 and np.all(bw >= 0)       # inputs of several widths, some wider than k
    assert np.any(ba < ba.max() / 2) and np.any(ba > ba.max() / 2)
    got = ebops(model, ii=2, per_layer=True)
    for name in ("d1", "d2"):
        assert got[name] == _by_hand(model, name, 2)    # dyadic values: exact in float32
    # the inputs wider than k = max / 2 are charged k per weight bit, narrower ones their own width
    assert got["d1"] < float(np.sum(bw * ba[:, None]))
    # at ii = 8 a slice would be under a bit (6 / 8): k = 1, each live product costs its weight's bits
    assert ba.max() < 8 and ebops(model, ii=8, per_layer=True)["d1"] == float(np.sum(bw * (ba > 0)[:, None]))


def test_ii_1_is_ebops_before_and_after_calibration():
    model, x = _model()
    assert ebops(model, ii=1, per_layer=True) == ebops(model, per_layer=True)
    hgq_fpga.calibrate(model, x)
    exact = ebops(model, per_layer=True)
    assert all(isinstance(v, int) for v in exact.values())
    assert ebops(model, ii=1, per_layer=True) == exact
    assert ebops(model, ii=2) < ebops(model)


def test_default_training_loss_is_plain_ebops_bit_for_bit():
    model, x = _model()
    default = _losses(model, x)
    ebops_now = ebops(model, per_layer=True)
    beta = np.float32(1e-3)
    assert default == [beta * np.float32(ebops_now[n]) for n in ("d1", "d2")]
    for same in (1, {}, None):
        set_ii(model, same)
        assert _losses(model, x) == default
    set_ii(model, 4)
    per_ii = _losses(model, x)
    assert per_ii == [beta * np.float32(_by_hand(model, n, 4)) for n in ("d1", "d2")]
    assert all(a < b for a, b in zip(per_ii, default))
    set_ii(model, None)
    assert _losses(model, x) == default
    assert ebops(model) == sum(ebops_now.values())     # the logged/reported EBOPs stay EBOPs


def test_a_dict_touches_only_the_named_layer_and_einsum_dense_stays_parallel():
    model, x = _model(einsum=True)
    default = _losses(model, x)
    set_ii(model, {"d2": 4})
    d1, d2, e = _losses(model, x)
    assert d1 == default[0] and e == default[2]
    assert d2 == np.float32(1e-3) * np.float32(_by_hand(model, "d2", 4)) and d2 < default[1]
    set_ii(model, 8)
    assert _losses(model, x)[2] == default[2]        # HEinsumDense: full EBOPs at any II
    assert ebops(model, ii={"d2": 4}, per_layer=True) == {
        "d1": ebops(model, per_layer=True)["d1"], "d2": _by_hand(model, "d2", 4),
        "e": ebops(model, per_layer=True)["e"]}


@pytest.mark.parametrize("ii, message", [
    (0, r"ii must be a whole number of clock cycles >= 1, got 0"),
    (-2, r"ii must be .* got -2"),
    (2.5, r"ii must be .* got 2.5"),
    (True, r"ii must be .* got True"),
    ("4", r"ii must be .* got '4'"),
    ({"d1": 0}, r"ii\['d1'\] must be .* got 0"),
    ({"dense_9": 2}, r"ii names layer 'dense_9', which is not a Dense or Conv of the model \(those are: d1, d2\)"),
    ({"e": 2}, r"ii names layer 'e', which is not a Dense or Conv"),
])
def test_bad_ii_is_one_error_naming_the_argument(ii, message):
    model, x = _model(einsum=True)
    with pytest.raises(ValueError, match=message):
        set_ii(model, ii)
    with pytest.raises(ValueError, match=message):
        ebops(model, ii=ii)
    with pytest.raises(ValueError, match=message):
        train_pareto(model, x, np.zeros(len(x), np.int64), validation_data=(x, np.zeros(len(x))),
                                        epochs=1, checkpoint_dir="unused", ii=ii)


def test_gradient_reaches_the_widest_input_through_k():
    model, x = _model()
    set_ii(model, 2)
    set_beta(model, 1.0)
    q = model.get_layer("q").oq
    ba, bw = _widths(model, "d1")
    widest = int(np.argmax(ba))
    assert np.sum(ba == ba.max()) == 1                 # one widest input: it gets all of k's gradient
    k = ba.max() / 2
    with tf.GradientTape() as tape:
        model(x, training=True)
        loss = model.losses[0]                         # d1's cost: the only one that reads q's widths
    grad = ops.convert_to_numpy(tape.gradient(loss, q.f)).reshape(-1)
    # d/d ba[j] of Σ bw·min(ba, k): bw for the inputs narrower than k; through k = max(ba)/2, the sum
    # of bw over the inputs wider than k, halved, for the widest input alone (zero if k had no gradient)
    through_k = np.sum(bw[ba > k]) / 2
    assert through_k > 0 and grad[widest] == through_k
    narrow = ba < k
    assert narrow.any() and np.array_equal(grad[narrow], bw[narrow].sum(axis=1))
    middle = (ba > k) & (ba < ba.max())
    assert np.all(grad[middle] == 0)                   # cut into slices: their own bits cost nothing more


def test_the_foldable_layers_are_those_that_freeze_to_dense_and_conv_ops():
    from hgq_fpga.backends.common.initiation import FOLDABLE
    from hgq_fpga.nn.ii_cost import foldable_layers
    from hgq_fpga.nn.layers import HConv2D, HFlatten

    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 6, 2))
    h = HQuantize(name="q")(inp)
    h = HConv2D(3, 3, activation="relu", name="c")(h)
    h = HEinsumDense("bhwc,cd->bhwd", (4, 4, 2), name="e")(h)
    y = HDense(3, name="d")(HFlatten(name="f")(h))
    model = keras.Model(inp, y)
    x = np.random.default_rng(0).uniform(-1, 1, (32, 6, 6, 2)).astype(np.float32)
    hgq_fpga.calibrate(model, x)
    fw = hgq_fpga.to_firmware(model)
    folded = {op.name for op in fw.ops if op.kind in FOLDABLE}
    assert folded == {f"{layer.name}_acc" for layer in foldable_layers(model)} == {"c_acc", "d_acc"}

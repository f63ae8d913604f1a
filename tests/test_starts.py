"""The named quantizer starts (issue 34): the default chosen by the study, the earlier ones reachable
by name and reproduced exactly, and the warning for a kernel that starts at 0."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from hgq_fpga.nn.budget import BetaPID
from hgq_fpga.nn.callbacks import BetaScheduler
from hgq_fpga.nn.layers import HDense, HQuantize
from hgq_fpga.nn.quantizers import DEFAULT_START, STARTS, quantizer_start
from hgq_fpga.nn.quantizers.starts import get_start, start_options


def _layers(units: int = 8, inputs: int = 16, **options):
    inp = keras.Input((inputs,))
    q = HQuantize(name="q")
    d = HDense(units, name="d", **options)
    keras.Model(inp, d(q(inp)))
    return q, d


def _start_of(q, d) -> dict:
    return {"kernel": (d.kq.init_bits, d.kq.f_init, d.kq.round_mode), "bias": (d.bq.init_bits, d.bq.f_init),
            "output": (d.oq.f_init, d.oq.round_mode), "input": q.oq.f_init}


def test_the_default_start_is_the_studys_choice():
    assert DEFAULT_START == "hgq_fpga-0.3"
    q, d = _layers()
    assert _start_of(q, d) == {"kernel": (None, 6.0, "RND"), "bias": (None, 6.0), "output": (6.0, "TRN"),
                               "input": 6.0}
    # every weight starts with 6 fractional bits: its kernel is on the 1/64 grid
    f = keras.ops.convert_to_numpy(d.kq.f)
    assert np.all(f == 6.0)


@pytest.mark.parametrize("name, expected", [
    ("hgq_fpga-0.1", {"kernel": (6, 6.0, "TRN"), "bias": (6, 6.0), "output": (6.0, "TRN"), "input": 6.0}),
    ("bench-0.1", {"kernel": (4, 6.0, "RND"), "bias": (4, 6.0), "output": (4.0, "TRN"), "input": 4.0}),
    ("hgq2-0.2", {"kernel": (None, 6.0, "RND"), "bias": (None, 6.0), "output": (6.0, "TRN"), "input": 6.0}),
    ("hgq_fpga-0.2", {"kernel": (None, 3.0, "RND"), "bias": (None, 3.0), "output": (6.0, "TRN"), "input": 6.0}),
])
def test_earlier_starts_stay_reachable_by_name(name, expected):
    with quantizer_start(name):
        q, d = _layers()
    assert _start_of(q, d) == expected
    if name == "hgq_fpga-0.1":   # about 6 significant bits per weight, from its own value
        w = np.abs(keras.ops.convert_to_numpy(d.kernel))
        f = keras.ops.convert_to_numpy(d.kq.f)
        assert np.array_equal(f, np.clip(6 - (np.floor(np.log2(w)) + 1), -8, 16))
    q, d = _layers()                      # outside the block: the default again
    assert d.kq.f_init == 6.0 and d.kq.init_bits is None


def test_a_layers_own_options_win_over_the_start():
    q, d = _layers(kernel_quantizer={"f_init": 4.0}, output_quantizer={"f_init": 2.0})
    assert (d.kq.f_init, d.bq.f_init, d.oq.f_init) == (4.0, 6.0, 2.0)


def test_an_unknown_start_is_named():
    with pytest.raises(ValueError, match=r"unknown quantizer start 'hgq-0.2'; known: hgq_fpga-0.1, bench-0.1"):
        get_start("hgq-0.2")
    with pytest.raises(ValueError, match="kind must be 'weight' or 'activation'"):
        start_options("kernel")
    assert set(STARTS) == {"hgq_fpga-0.1", "bench-0.1", "hgq2-0.2", "hgq_fpga-0.2", "hgq_fpga-0.3"}


def _fit_one_step(model: keras.Model, callback) -> list[str]:
    model.compile("adam", "mse")
    x = np.ones((4,) + tuple(model.input_shape[1:]), np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, np.zeros((4,) + tuple(model.output_shape[1:]), np.float32), epochs=1, verbose=0,
                  callbacks=[callback])
    return [str(w.message) for w in caught if "at the start" in str(w.message)]


@pytest.mark.parametrize("callback", [BetaScheduler.constant(1e-6), BetaPID(100.0)], ids=["scheduler", "pid"])
def test_a_kernel_that_starts_at_zero_is_warned_about_when_training_begins(callback):
    # weights of 1e-3: 6 fractional bits round every one to 0, and such a kernel gives 0 outputs and
    # no gradient to its weights; 11 keep it (1e-3 is above 2**-11)
    inp = keras.Input((784,))
    small = keras.initializers.Constant(1e-3)
    wide = keras.Model(inp, HDense(4, name="wide", kernel_initializer=small)(HQuantize()(inp)))
    assert wide.get_layer("wide").kernel_is_zero()
    assert _fit_one_step(wide, callback) == [
        "wide: every weight of the kernel is 0 at the start (6 fractional bits, largest |weight| 0.001), so it "
        "cannot train; start it with more, e.g. kernel_quantizer={'f_init': 11}"]
    inp = keras.Input((784,))
    kept = HDense(4, name="kept", kernel_initializer=small, kernel_quantizer={"f_init": 11})
    assert not keras.Model(inp, kept(HQuantize()(inp))).get_layer("kept").kernel_is_zero()
    inp = keras.Input((16,))
    glorot = keras.Model(inp, HDense(4)(HQuantize()(inp)))     # Glorot weights of 16 inputs survive the start
    assert _fit_one_step(glorot, callback) == []
    # building alone says nothing: post-training quantization and loading overwrite the kernel first
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HDense(4, kernel_initializer=keras.initializers.Constant(1e-3))(keras.Input((784,)))
    assert not [w for w in caught if "at the start" in str(w.message)]

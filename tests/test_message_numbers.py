"""Refusals print numbers as a user writes them: ``0.5``, never numpy 2's ``np.float64(0.5)``.

Each case gives a numpy scalar (or an array element, which is one) to a check that refuses it and
names the value; the message must not show numpy's repr.
"""

from __future__ import annotations

import numpy as np
import pytest

NUMPY_REPR = ("np.", "numpy.", "array(")


def message(call) -> str:
    with pytest.raises((ValueError, TypeError)) as err:
        call()
    text = str(err.value)
    assert not any(r in text for r in NUMPY_REPR), text
    return text


def test_core_and_backend_refusals():
    from hgq_fpga.backends.common.board import check_clock_period
    from hgq_fpga.fixed import FixedType, check_type_arrays, plain

    assert "0.5" in message(lambda: check_type_arrays(1, 2, np.array([0.5, 1.0])))
    assert "3.0" in message(lambda: FixedType(1, np.float64(3.0), 2))
    assert "0.0" in message(lambda: check_clock_period(np.float64(0.0), "--clock"))
    assert plain([np.int64(3), (np.float32(0.5), "a")]) == [3, (0.5, "a")]
    assert repr(plain(np.float64(0.1))) == "0.1"


def test_layer_argument_refusals():
    from hgq_fpga.nn.layers import HAveragePooling2D, HMaxPooling2D

    assert "(0, 2)" in message(lambda: HMaxPooling2D(pool_size=(np.int64(0), np.int64(2))))
    assert "got 60" in message(lambda: HAveragePooling2D(2, c_f=np.int64(60)))


def test_qkeras_table_value_refusal():
    from hgq_fpga.nn.importers.qkeras.quantizers import cast
    from hgq_fpga.nn.importers.qkeras.tables import TableSpec, check_values

    spec = TableSpec({"class": "quantized_tanh", "text": "quantized_tanh(4)"},
                     cast(1, 0, 3, "RND_CONV", "SAT", "quantized_tanh(4)"))
    assert "0.30000001192092896" in message(lambda: check_values("t", spec, np.array([0.3], np.float32)))


def test_ptq_argument_refusals():
    import keras

    from hgq_fpga.nn.ptq import quantize_float

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    x = np.zeros((8, 4), np.float32)
    assert message(lambda: quantize_float(model, x, weight_bits=np.int64(1))).startswith("weight_bits=1:")
    assert message(lambda: quantize_float(model, x, ebops_budget=np.float64(-2.5))).startswith("ebops_budget=-2.5:")


def test_seeding_takes_numpy_integers():
    from hgq_fpga.nn.seeding import seeded

    with seeded(np.int64(3)) as rng:
        assert rng.random() == __import__("random").Random(3).random()
    assert "2.5" in message(lambda: seeded(np.float64(2.5)).__enter__())

"""The float32 bit helpers of training mode: exact powers of two and exact leading-one positions,
where ``pow`` / ``log2`` are not (``floor(log2(2**-26))`` is -27 in TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from hgq_fpga.fixed import bit_length
from hgq_fpga.nn.quantizers.hgq import HQuantizer
from hgq_fpga.nn.quantizers.pow2 import LIMIT, int_bits, pow2_pair


def test_pow2_pair_is_every_power_of_two_and_its_inverse_exactly():
    t = np.arange(-LIMIT, LIMIT + 1)
    up, down = (ops.convert_to_numpy(v) for v in pow2_pair(t.astype(np.float32)))
    assert np.array_equal(up, np.ldexp(1.0, t).astype(np.float32))
    assert np.array_equal(down, np.ldexp(1.0, -t).astype(np.float32))


def test_int_bits_is_the_exponent_of_every_normal_float32():
    rng = np.random.default_rng(0)
    e = np.arange(-125, 128)
    x = np.concatenate([np.ldexp(1.0, e), np.ldexp(1.0 - 2.0 ** -24, e), np.ldexp(rng.uniform(1, 2, e.size), e)])
    x = np.concatenate([x, -x]).astype(np.float32)
    assert np.isfinite(x).all()
    assert np.array_equal(ops.convert_to_numpy(int_bits(x)), np.frexp(x)[1].astype(np.float32))
    assert np.array_equal(ops.convert_to_numpy(int_bits(np.array([0.0, -0.0], np.float32))), [-LIMIT, -LIMIT])


def test_weight_bits_equal_the_bit_length_of_the_codes():
    """Training-mode widths == exact integer widths, also for codes 2**k and 2**k - 1."""
    rng = np.random.default_rng(1)
    F = rng.integers(-8, 17, 4000)
    m = np.concatenate([rng.integers(-2 ** 14, 2 ** 14, 1000), 2 ** rng.integers(0, 20, 1000),
                        2 ** rng.integers(1, 20, 1000) - 1, -(2 ** rng.integers(0, 20, 1000))])
    wq = np.ldexp(m.astype(np.float64), -F).astype(np.float32)
    assert np.array_equal(wq.astype(np.float64), np.ldexp(m.astype(np.float64), -F))   # exact in float32
    got = ops.convert_to_numpy(HQuantizer.weight_bits(wq, F.astype(np.float32)))
    assert np.array_equal(got, bit_length(np.abs(m)).astype(np.float32))
    zero = ops.convert_to_numpy(HQuantizer.weight_bits(np.zeros(3, np.float32), np.array([16.0, 0.0, -8.0], np.float32)))
    assert np.array_equal(zero, [0, 0, 0])


def test_activation_bits_from_the_range_are_exact():
    q = HQuantizer("activation", f_init=3.0)
    q.build((6,))
    lo = np.array([0.0, -1.0, 0.0, -0.125, 0.0, 4.0], np.float32)
    hi = np.array([0.0, 2.0, 0.875, 0.0, 1.0 - 2 ** -3, 8.0], np.float32)
    q.vmin.assign(lo)
    q.vmax.assign(hi)
    want = [0, 1 + 2 + 3, 0 + 0 + 3, 1 - 2 + 3, 0 + 0 + 3, 0 + 4 + 3]   # k + (floor(log2 mag) + 1) + F
    assert np.array_equal(ops.convert_to_numpy(q.activation_bits()), want)


@pytest.mark.parametrize("bad", [{"f_min": -127.0}, {"f_max": 127.0, "f_init": 6.0}])
def test_fractional_bit_bounds_beyond_float32_powers_are_refused(bad):
    with pytest.raises(ValueError, match="normal float32"):
        HQuantizer("weight", **bad)


def test_int_bits_refuses_other_float_widths():
    with pytest.raises(TypeError, match="float32"):
        int_bits(np.array([1.0, 2.0]))

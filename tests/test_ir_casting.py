"""The emulator's precompiled casts and input quantizer agree with ``hgq_fpga.fixed`` exactly."""

from __future__ import annotations

import numpy as np
import pytest

from hgq_fpga.fixed import OVERFLOW_MODES, ROUNDING_MODES, cast_raw, quantize
from hgq_fpga.ir.emulator.casting import CastKernel, InputQuantizer
from hgq_fpga.ir.tensor import TensorType


def _types(rng, n, max_w=12):
    w = rng.integers(0, max_w + 1, n)
    k = np.minimum(rng.integers(0, 2, n), w)
    f = rng.integers(-4, 10, n)
    return TensorType.of(k, w - k - f, f)


@pytest.mark.parametrize("rnd", ROUNDING_MODES)
@pytest.mark.parametrize("ovf", OVERFLOW_MODES)
def test_cast_kernel_matches_cast_raw(rnd, ovf):
    rng = np.random.default_rng(hash((rnd, ovf)) % 2 ** 32)
    n = 64
    tin = _types(rng, n, 20)
    tout = _types(rng, n)
    lo, hi = tin.bounds()
    m = np.stack([rng.integers(int(a), int(b) + 1, 500) for a, b in zip(lo, hi)], axis=1)
    kern = CastKernel(tin.f, tin.width, tout, rnd, ovf)
    want = cast_raw(m, tin.f, tout.k, tout.i, tout.f, rnd, ovf)
    assert np.array_equal(kern(m), want)


@pytest.mark.parametrize("rnd", ROUNDING_MODES)
@pytest.mark.parametrize("ovf", OVERFLOW_MODES)
def test_input_quantizer_matches_quantize(rnd, ovf):
    rng = np.random.default_rng(7)
    n = 40
    t = _types(rng, n)
    q = InputQuantizer(t, rnd, ovf)
    step = np.ldexp(1.0, -t.f)
    specials = np.array([0.0, -0.0, 5e-324, -5e-324, 1e-310, -1e-310, 1e300, -1e300,
                         1.7976931348623157e308, -1.7976931348623157e308, 2.0 ** 70, -(2.0 ** 70)])
    x = np.concatenate([
        rng.normal(scale=8, size=(300, n)),
        (rng.integers(-200, 200, (300, n)) + 0.5) * step,            # exact ties
        rng.integers(-200, 200, (100, n)) * step * 4,                # overflow
        np.tile(specials[:, None], (1, n)),
        rng.normal(size=(50, n)) * 2.0 ** rng.integers(-60, 80, (50, n)),
    ])
    want = quantize(x, t.k, t.i, t.f, rnd, ovf)
    got = np.ldexp(q(x).astype(np.float64), -t.f)
    assert np.array_equal(got, want)

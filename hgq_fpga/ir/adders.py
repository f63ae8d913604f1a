"""Adder count of the constant multiplications and accumulations of the IR (``docs/method.md`` §8).

Without DSPs, a product by a constant weight is built from shifts and adds: ``d - 1`` adders for a
weight with ``d`` nonzero digits in canonical signed-digit form (CSD, the non-adjacent form, which
has the fewest nonzero signed digits). Each output of a Dense or Conv then sums its ``t`` live
terms (products whose weight and input are nonzero-width, plus a nonzero bias) with ``t - 1``
adders. So per Dense/Conv op, counting every output position of a convolution (fully unrolled,
as EBOPs do):

    adders = Σ_live (csd_digits(w) - 1) + Σ_outputs max(t - 1, 0)

A weight that is a signed power of two costs no adder. Other ops (Add, pooling) are not counted.
The count reads the integer weight codes only, so it applies to any model (HGQ, n-hot, ternary).
"""

from __future__ import annotations

import numpy as np

#: codes must stay below this magnitude so that ``3 * code`` fits int64
_MAX_CODE = 2 ** 61


def csd_digits(codes: np.ndarray) -> np.ndarray:
    """Number of nonzero digits of each integer in canonical signed-digit form (int64 array).

    Uses the identity that the nonzero digits of the non-adjacent form of ``n >= 0`` sit where
    ``3n`` and ``n`` differ, excluding the lowest bit: ``popcount((3n ^ n) >> 1)``.
    """
    a = np.abs(np.asarray(codes, np.int64))
    if a.size and int(a.max()) >= _MAX_CODE:
        raise ValueError(f"csd_digits: a code of magnitude {int(a.max())} is beyond 2**61")
    x = ((3 * a) ^ a) >> 1
    count = np.zeros(a.shape, np.int64)
    while np.any(x):
        count += x & 1
        x = x >> 1
    return count


def linear_adders(plan) -> tuple[int, int]:
    """``(weight adders, tree adders)`` of one Dense/Conv/EinsumDense, from its alignment
    (:func:`hgq_fpga.ir.types.linear_alignment`)."""
    digits = csd_digits(plan.w_raw)
    weight = int((plan.live * np.maximum(digits - 1, 0)).sum())
    tree = int(np.maximum(plan.fan_in - 1, 0).sum())
    return weight, tree

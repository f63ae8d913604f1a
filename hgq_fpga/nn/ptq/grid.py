"""Fixed-point grids for post-training quantization: the binary point is the scale.

A tensor quantized to ``B`` bits with sign bit ``k`` has ``i`` integer and ``f = B - k - i``
fractional bits (docs/method.md §1). Choosing ``i`` is choosing a power-of-two scale; an ``i`` below
the one that holds the largest value clips (saturates) the outliers in exchange for finer steps.
These helpers give the min/max choice of ``i``, the candidates below it, the quantization on a grid
(round half up, saturate: ``RND``/``SAT``, the modes PTQ models use) and the cosine similarity that
the search maximizes.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga import fixed

ROUND = "RND"
OVERFLOW = "SAT"


def integer_bits(magnitude: np.ndarray) -> np.ndarray:
    """Smallest ``i`` with ``magnitude < 2**i`` (int64, element-wise); 0 for a zero magnitude.

    With ``f = B - k - i`` the grid then covers the value up to one step of saturation at the top.
    """
    m = np.asarray(magnitude, np.float64)
    e = np.frexp(np.where(m > 0, m, 1.0))[1].astype(np.int64)   # m = mant * 2**e, 0.5 <= mant < 1
    return np.where(m > 0, e, 0)


def quantize(x: np.ndarray, k, i, f) -> np.ndarray:
    """``x`` on the ``(k, i, f)`` grid, rounded half up and saturated (float64)."""
    return fixed.quantize(x, k, i, f, round=ROUND, overflow=OVERFLOW)


def cosine(a: np.ndarray, b: np.ndarray, axis=None) -> np.ndarray:
    """Cosine similarity of ``a`` and ``b`` flattened (``axis=None``) or along all axes but ``axis``.

    Two all-zero vectors are identical (1.0); one all-zero vector against a nonzero one gives 0.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if axis is not None:
        a = np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])
        b = np.moveaxis(b, axis, -1).reshape(-1, b.shape[axis])
        red = 0
    else:
        a, b, red = a.reshape(-1), b.reshape(-1), None
    dot = np.sum(a * b, axis=red)
    na = np.sqrt(np.sum(a * a, axis=red))
    nb = np.sqrt(np.sum(b * b, axis=red))
    both_zero = (na == 0) & (nb == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(na * nb > 0, dot / np.where(na * nb > 0, na * nb, 1.0), 0.0)
    return np.where(both_zero, 1.0, c)


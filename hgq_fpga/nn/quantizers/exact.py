"""Operations that give the same bits in every execution mode of every supported backend
(TensorFlow eager, graph and XLA; JAX eager and ``jit``).

Calibrated-mode inference (``docs/method.md`` §4) must not trust the backends' float arithmetic to be
IEEE: TensorFlow's and XLA's CPU kernels flush denormal numbers to zero (inputs and results), ``pow``
may be an approximation, and products overflow to ``inf``. These helpers use only exact steps: table
look-ups, integer reinterpretation of a float's bits, and products of normal float64 numbers.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from hgq_fpga.nn.keras_backend import round_keep_dtype

#: calibrated-mode exponents (fractional bits, widths) must satisfy ``|t| < 2**EXP2_BITS``
EXP2_BITS = 8
#: every power of two ``2**t`` with ``|t| < 2**EXP2_BITS``, exact in float64
_POW2 = np.ldexp(1.0, np.arange(-(2 ** EXP2_BITS) + 1, 2 ** EXP2_BITS))


def exp2_exact(t):
    """``2**t`` as float64 for integer-valued ``t`` with ``|t| < 2**EXP2_BITS``, exact everywhere.

    ``pow`` is free to be an approximation (XLA, GPU math libraries); this looks the power up in a
    table of exact float64 powers of two, so no operation rounds, whatever the compiler does.
    """
    t = ops.cast(round_keep_dtype(ops.cast(t, "float64")), "int32")
    index = ops.clip(t + (2 ** EXP2_BITS - 1), 0, _POW2.size - 1)
    return ops.take(ops.convert_to_tensor(_POW2, "float64"), index)


def _bits(x):
    """The IEEE bits of a float32 / float64 tensor as int32 / int64 (no float operation at all)."""
    return ops.view(x, "int32" if x.dtype == "float32" else "int64")


def strictly_negative(x):
    """``x < 0`` element-wise, exactly, denormals included (``-0.0`` is not negative).

    TensorFlow and XLA read a denormal as 0, so ``x < 0`` is False for ``-1e-40``; the sign of a
    float32 / float64 is taken from its bits instead: negative bits other than those of ``-0.0``.
    (Not "sign bit and a nonzero magnitude": LLVM turns that masked test back into a float
    comparison with 0, which a denormal fails again inside XLA's fused kernels.)
    """
    x = ops.convert_to_tensor(x)
    if x.dtype not in ("float32", "float64"):
        return x < 0
    bits = _bits(x)
    negative_zero = np.int32(-2 ** 31) if x.dtype == "float32" else np.int64(-2 ** 63)
    return ops.logical_and(bits < 0, bits != negative_zero)


#: float32's smallest denormal, 2**-149 (a normal float64)
_FLOAT32_DENORMAL_STEP = 2.0 ** -149


def exact_float64(x):
    """``x`` as float64 with no value lost: float32 denormals are rebuilt from their bits.

    A float32 denormal ``±m·2^-149`` is a normal float64, but the plain cast reads it as 0. Every
    float32 whose exponent field is 0 (denormals and zeros) is rebuilt from its mantissa and sign.
    """
    x = ops.convert_to_tensor(x)
    if x.dtype == "float64":
        return x
    x64 = ops.cast(x, "float64")
    if x.dtype != "float32":
        return x64
    bits = _bits(x)
    mantissa = ops.bitwise_and(bits, (1 << 23) - 1)
    tiny = ops.bitwise_and(bits, 0x7F800000) == 0
    magnitude = ops.cast(mantissa, "float64") * _FLOAT32_DENORMAL_STEP
    value = ops.where(bits < 0, -magnitude, magnitude)
    return ops.where(tiny, value, x64)

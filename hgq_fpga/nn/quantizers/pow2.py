"""Powers of two and binary exponents of float32 training tensors, read from the float's bits.

Training mode (``docs/method.md`` §2) needs ``2**F`` for integer-valued ``F`` and
``floor(log2 |x|)`` of every weight at every step. ``pow`` and ``log`` are transcendental kernels:
slow on tensors of a whole kernel, and not exact (``floor(log(8) / log(2))`` may be 2). The
exponent field of an IEEE-754 float gives both exactly, with a few integer operations.
"""

from __future__ import annotations

from keras import ops

#: ``2**t`` is a normal float32 for integer ``t`` in ``[-LIMIT, LIMIT]`` (as is ``2**-t``)
LIMIT = 126
_MANTISSA_BITS = 23
_BIAS = 127


def pow2(t):
    """``2**t`` as float32, exactly, for integer values ``t`` in ``[-LIMIT, LIMIT]``."""
    return ops.view(ops.left_shift(ops.cast(t, "int32") + _BIAS, _MANTISSA_BITS), "float32")


def pow2_pair(t):
    """``(2**t, 2**-t)`` as float32, exactly, for integer values ``t`` in ``[-LIMIT, LIMIT]``."""
    return pow2(t), pow2(-ops.cast(t, "int32"))


def int_bits(x):
    """``floor(log2 |x|) + 1`` (float32) of a float32 tensor: the integer bits of ``|x|``'s
    leading one. A zero (or a denormal, which TensorFlow flushes to zero) gives ``-LIMIT``, so
    that ``relu(int_bits(x) + F)`` is 0 for it whenever ``F <= LIMIT``."""
    x = ops.convert_to_tensor(x)
    if x.dtype != "float32":   # another width's bits would be misread (float64 views as 2 x int32)
        raise TypeError(f"int_bits reads float32 exponents; got a {x.dtype} tensor")
    field = ops.bitwise_and(ops.right_shift(ops.view(x, "int32"), _MANTISSA_BITS), 0xFF)
    return ops.cast(field - (_BIAS - 1), "float32")

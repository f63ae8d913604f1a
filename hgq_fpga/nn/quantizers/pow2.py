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
#: one unit of the exponent field, ``2**23``, and the field's mask in a float32's bits
_FIELD_UNIT = float(2 ** _MANTISSA_BITS)
_EXPONENT_MASK = 0xFF << _MANTISSA_BITS


def pow2(t):
    """``2**t`` as float32, exactly, for integer values ``t`` in ``[-LIMIT, LIMIT]``.

    The biased exponent times ``2**23`` is computed in float32 (exact: at most 8 significant bits)
    and cast, rather than shifted into place: integer shifts are several times slower than float
    products on kernel-sized tensors in TensorFlow, and this runs on every weight at every step."""
    field = (ops.cast(t, "float32") + _BIAS) * _FIELD_UNIT
    return ops.view(ops.cast(field, "int32"), "float32")


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
    # the exponent field kept in place (sign and mantissa masked off) is a multiple of 2**23 with at
    # most 8 significant bits, so it converts to float32 exactly; no integer shift (see pow2)
    field = ops.cast(ops.bitwise_and(ops.view(x, "int32"), _EXPONENT_MASK), "float32")
    return field * (1.0 / _FIELD_UNIT) - (_BIAS - 1)

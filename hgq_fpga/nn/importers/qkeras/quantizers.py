"""QKeras 0.9 activation quantizers as exact fixed-point casts (numpy only; no TensorFlow).

Weights never need this module: the reader stores the values QKeras's weight quantizers produce,
so any weight quantizer (``quantized_bits`` with any ``alpha``, ``quantized_po2``, ``ternary``,
``binary``, ``stochastic_*`` at inference) is imported by value, and the builder only checks that
QKeras's float32 products with them are exact.

An *activation* quantizer acts on runtime values, so it must be a cast ``(k, i, f, round, overflow)``
that gives exactly what QKeras's float32 code gives. From the QKeras 0.9 source
(``qkeras/quantizers.py``):

* ``quantized_bits(bits, integer, symmetric, keep_negative, alpha=None|1)`` with
  ``u = bits - keep_negative > 0`` computes ``m_i * clip(round(x * 2^u / m_i), lo, 2^u - 1) / 2^u``
  with ``tf.round`` (half to even) and ``lo = -2^u + symmetric`` (``0`` without ``keep_negative``):
  ``ap_[u]fixed<bits, integer + keep_negative, AP_RND_CONV, AP_SAT / AP_SAT_SYM>``. It returns
  ``x + (xq - x)`` in float32, which equals ``xq`` while that difference is exact: see
  :func:`bits_float32_bound`.
* ``quantized_relu(bits, integer)`` (no sigmoid, no negative slope) clips ``x`` to the range
  first and returns ``x_u + (xq - x_u)``, always exact: ``ap_ufixed<bits, integer, AP_RND_CONV,
  AP_SAT>`` (negative inputs saturate to 0, as the ReLU gives).

``quantized_tanh``, ``quantized_sigmoid``, ``quantized_hswish``, ``binary``, ``ternary`` and
``quantized_po2`` become exact tables instead
(:mod:`~hgq_fpga.nn.importers.qkeras.tables`). Every other runtime use is refused with :class:`QKerasImportError`, naming the layer, the quantizer,
the reason and what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from hgq_fpga.fixed import FixedType


class QKerasImportError(ValueError):
    """A QKeras layer or quantizer that cannot be imported exactly; the message says why and what to do."""


@dataclass(frozen=True)
class QKerasCast:
    """A QKeras quantizer as an exact cast: the fixed-point ``type`` (with its rounding and overflow),
    how QKeras writes the quantizer (``text``, for messages), and ``float32_input_bound``, the
    largest ``|x|`` for which QKeras's float32 ``x + (xq - x)`` is exact whatever grid ``x`` is on
    (``None``: always exact)."""

    type: FixedType
    text: str
    float32_input_bound: float | None = None


def cast(k: int, i: int, f: int, round: str, overflow: str, text: str,
         float32_input_bound: float | None = None) -> QKerasCast:
    """A :class:`QKerasCast` of the type ``(k, i, f)`` with ``round`` and ``overflow``."""
    return QKerasCast(FixedType(k, i, f, round, overflow), text, float32_input_bound)


def refuse(layer: str, quantizer: str, why: str, fix: str) -> QKerasImportError:
    """The error for something that cannot be exact: layer, quantizer, why, what to change."""
    return QKerasImportError(f"layer {layer!r}: {quantizer}: {why}; {fix}")


def config_int(config: dict[str, Any], key: str, default: Any) -> int:
    value = config.get(key, default)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if float(value) != int(value):
        raise ValueError(f"{key}={value!r} is not an integer")
    return int(value)


def bits_float32_bound(f: int) -> float:
    """Largest ``|x|`` for which QKeras's ``x + (xq - x)`` is exact for every float32 ``x``.

    ``xq`` lies on the grid ``2^-f`` and ``|xq - x| <= |x|``. If ``ulp(x) <= 2^-f`` the
    difference is a multiple of ``ulp(x)`` below ``|x|``, so it has at most 24 significant bits;
    otherwise ``x`` itself is on the grid and the difference has ``log2(|x| 2^f)`` bits, at most
    24 while ``|x| <= 2^(24 - f)``. Beyond that bound a clipped value may come back rounded.
    """
    return 2.0 ** (24 - f)


def _refuse_noise(layer: str, text: str, c: dict[str, Any]) -> None:
    """Refuse the options that mix randomness or unquantized values into an activation."""
    if c.get("use_stochastic_rounding"):
        raise refuse(layer, text, "stochastic rounding of activations has no exact inference form",
                     "use use_stochastic_rounding=False")
    if float(c.get("qnoise_factor", 1.0)) != 1.0:
        raise refuse(layer, text, f"qnoise_factor={c.get('qnoise_factor')} mixes unquantized values in",
                     "use qnoise_factor=1")


def _quantized_bits(layer: str, q: dict[str, Any]) -> QKerasCast:
    c = q.get("config", {})
    text = q.get("text", "quantized_bits")
    bits, integer = config_int(c, "bits", 8), config_int(c, "integer", 0)
    keep_negative = bool(c.get("keep_negative", True))
    symmetric = bool(c.get("symmetric", False))
    alpha = c.get("alpha")
    if isinstance(alpha, str):
        raise refuse(layer, text, f"alpha={alpha!r} computes its scale from each batch of activations "
                     "at run time, so no fixed type exists", "use alpha=1 (or None) on activations")
    if alpha is not None and alpha != 1 and alpha != [1]:
        raise refuse(layer, text, f"alpha={alpha!r} scales the quantized activation after rounding",
                     "use alpha=1 (or None) on activations")
    _refuse_noise(layer, text, c)
    u = bits - int(keep_negative)
    if u <= 0:
        raise refuse(layer, text, "with no magnitude bits it returns the sign (+1 or -1), not a fixed-point "
                     "cast", "use quantized_bits with bits >= 2, or binary() as a weight quantizer")
    f = u - integer
    overflow = "SAT_SYM" if symmetric and keep_negative and bits > 1 else "SAT"
    return cast(int(keep_negative), integer, f, "RND_CONV", overflow, text, bits_float32_bound(f))


def _quantized_relu(layer: str, q: dict[str, Any]) -> QKerasCast:
    c = q.get("config", {})
    text = q.get("text", "quantized_relu")
    bits, integer = config_int(c, "bits", 8), config_int(c, "integer", 0)
    if c.get("use_sigmoid"):
        raise refuse(layer, text, "use_sigmoid=1 applies a sigmoid-shaped transfer before rounding",
                     "use use_sigmoid=0")
    if float(c.get("negative_slope", 0.0) or 0.0) != 0.0:
        raise refuse(layer, text, "a negative slope (leaky ReLU) is not supported by the importer yet",
                     "use negative_slope=0")
    _refuse_noise(layer, text, c)
    if not c.get("is_quantized_clip", True) and c.get("relu_upper_bound") is not None:
        raise refuse(layer, text, "relu_upper_bound with is_quantized_clip=False clips at a float bound",
                     "use is_quantized_clip=True")
    if not c.get("is_quantized_clip", True):
        raise refuse(layer, text, "is_quantized_clip=False returns x + (xq - x) for unclipped x, which "
                     "float32 may round", "use is_quantized_clip=True")
    return cast(0, integer, bits - integer, "RND_CONV", "SAT", text, None)


#: QKeras activation quantizer class -> its exact cast (or a refusal)
ACTIVATION_CASTS: dict[str, Callable[[str, dict[str, Any]], QKerasCast]] = {
    "quantized_bits": _quantized_bits,
    "quantized_relu": _quantized_relu,
}

#: quantizers accepted for weights only, with the reason they cannot quantize activations
WEIGHT_ONLY = {
    "quantized_relu_po2": "its exponent grid is not a fixed-point type",
    "stochastic_ternary": "it is random in training and data-dependent at inference",
    "stochastic_binary": "it is random in training and data-dependent at inference",
    "bernoulli": "it is random",
    "quantized_ulaw": "its mu-law curve is not a fixed-point cast",
}


def activation_cast(layer: str, q: dict[str, Any]) -> QKerasCast:
    """The exact cast for a QKeras activation quantizer described by the reader, or a refusal."""
    cls = q.get("class", "")
    if cls in ACTIVATION_CASTS:
        try:
            return ACTIVATION_CASTS[cls](layer, q)
        except (TypeError, ValueError) as err:
            if isinstance(err, QKerasImportError):
                raise
            raise refuse(layer, q.get("text", cls), f"unreadable configuration ({err})",
                         "check the quantizer's arguments") from None
    why = WEIGHT_ONLY.get(cls, "the importer does not know this quantizer")
    raise refuse(layer, q.get("text", cls), f"cannot quantize activations exactly: {why}",
                 "use quantized_bits(bits, integer, alpha=1) or quantized_relu(bits, integer) on activations, "
                 "or pass allow_float={layer: type} to quantize this layer's output with a type of yours "
                 "(then not QKeras-exact)")

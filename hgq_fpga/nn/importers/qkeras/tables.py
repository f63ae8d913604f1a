"""QKeras activation quantizers imported as exact lookup tables (numpy only; no TensorFlow, no Keras).

``quantized_tanh``, ``quantized_sigmoid``, ``quantized_hswish`` and, on activations, ``binary``,
``ternary`` (with a fixed ``alpha`` and threshold) and ``quantized_po2`` are not fixed-point casts: they apply a
float32 function (``tanh``, or QKeras's ``2 * hard_sigmoid(x) - 1``, ``sigmoid``, a hard swish, a
threshold and QKeras's ``x + (q - x)``) before or around rounding. No formula of ours could promise QKeras's float32 bits, so the importer
does not re-implement them. Their *input* is always on a finite grid, though (the type of the
previous layer's quantizer, or of the exact accumulator, which the builder derives), so QKeras's
own function is evaluated in the legacy subprocess on **every** input code of that type and the
outputs become a table (docs/method.md §5, lookup tables). The model then equals QKeras for every
input it can receive, by construction.

What this module decides, per quantizer class (:data:`TABLE_OUTPUTS`, a registry):

* the output type the table values must lie on (from the quantizer's configuration), so that
  the builder can derive the next layers' types before the table is evaluated, and checks the
  evaluated values against it (:func:`check_values`);
* the input domain (:func:`domain`): the union grid ``2^-F`` from the smallest to the largest
  code of the input type; more than :data:`MAX_TABLE_CODES` codes is refused.

The table itself travels in the neutral description: arrays ``<layer>/activation_table`` (the
float32 outputs, code ``lo`` first) and ``<layer>/activation_table_domain`` (``[F, lo, hi]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from hgq_fpga.ir.tensor import TensorType

from hgq_fpga.nn.importers.qkeras.quantizers import (QKerasCast, QKerasImportError, activation_cast, cast,
                                                      config_int, refuse)

#: most input codes a table of QKeras's function may have (2^16: a 64 Ki-entry table per layer)
MAX_TABLE_CODES = 1 << 16
TABLE_ROLE = "activation_table"
DOMAIN_ROLE = "activation_table_domain"


@dataclass(frozen=True)
class Domain:
    """Input codes ``lo..hi`` on the grid ``2^-f``: the values QKeras's function is evaluated on."""

    f: int
    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def values(self) -> np.ndarray:
        """The input values, float32 (exact: the codes have at most 17 bits)."""
        return np.ldexp(np.arange(self.lo, self.hi + 1, dtype=np.float64), -self.f).astype(np.float32)

    def as_array(self) -> np.ndarray:
        return np.array([self.f, self.lo, self.hi], np.float64)


@dataclass(frozen=True)
class TableSpec:
    """A table quantizer of one layer: its description from the reader and its output cast."""

    quantizer: dict[str, Any]
    out: QKerasCast

    @property
    def text(self) -> str:
        return self.quantizer.get("text", self.quantizer.get("class", "?"))


def _tanh(layer: str, q: dict[str, Any]) -> QKerasCast:
    """``quantized_tanh(bits)``: multiples of ``2^-(bits-1)`` in ``[-1, 1)``: ``ap_fixed<bits, 1>``."""
    bits = config_int(q.get("config", {}), "bits", 8)
    if bits < 1:
        raise refuse(layer, q.get("text", "quantized_tanh"), f"bits={bits}", "use bits >= 1")
    return cast(1, 0, bits - 1, "RND_CONV", "SAT", q.get("text", "quantized_tanh"))


def _sigmoid(layer: str, q: dict[str, Any]) -> QKerasCast:
    """``quantized_sigmoid(bits)``: multiples of ``2^-bits`` in ``[0, 1)``: ``ap_ufixed<bits, 0>``."""
    bits = config_int(q.get("config", {}), "bits", 8)
    if bits < 1:
        raise refuse(layer, q.get("text", "quantized_sigmoid"), f"bits={bits}", "use bits >= 1")
    return cast(0, 0, bits, "RND_CONV", "SAT", q.get("text", "quantized_sigmoid"))


def _hswish(layer: str, q: dict[str, Any]) -> QKerasCast:
    """``quantized_hswish``: a hard swish, then ``quantized_bits`` with the same configuration."""
    return activation_cast(layer, {**q, "class": "quantized_bits"})


def _scale(layer: str, q: dict[str, Any]) -> float:
    """The fixed scale of ``binary`` / ``ternary`` (``alpha``), refusing data-dependent forms."""
    c, text = q.get("config", {}), q.get("text", q.get("class", "?"))
    alpha = c.get("alpha")
    if isinstance(alpha, list) and len(alpha) == 1:
        alpha = alpha[0]
    if isinstance(alpha, str) or isinstance(alpha, list):
        raise refuse(layer, text, f"alpha={alpha!r} computes its scale from the data (or per channel)",
                     "use alpha=1 (or a number) on activations")
    if c.get("use_stochastic_rounding"):
        raise refuse(layer, text, "stochastic rounding of activations has no exact inference form",
                     "use use_stochastic_rounding=False")
    if isinstance(c.get("threshold"), str):
        raise refuse(layer, text, "threshold='auto' is computed from the data", "use a number")
    scale = 1.0 if alpha is None else float(alpha)
    if not np.isfinite(scale) or scale <= 0:
        raise refuse(layer, text, f"alpha={alpha!r}", "use a positive alpha")
    return scale


def _levels(layer: str, q: dict[str, Any], scale: float, signed: bool) -> QKerasCast:
    """The type of ``{-scale, 0, scale}`` (``signed``) or ``{0, scale}``."""
    f = 0
    while np.ldexp(scale, f) != np.round(np.ldexp(scale, f)):
        f += 1
        if f > 60:
            raise refuse(layer, q.get("text", "?"), f"its scale {scale!r} has no short binary expansion",
                         "use a power of two or a short binary fraction as alpha")
    m = int(np.ldexp(scale, f))
    return cast(int(signed), m.bit_length() - f, f, "RND_CONV", "SAT", q.get("text", q.get("class", "?")))


def _binary(layer: str, q: dict[str, Any]) -> QKerasCast:
    """``binary``: ``±alpha`` (``0 / alpha`` with ``use_01``); with ``alpha=None`` after a tanh."""
    return _levels(layer, q, _scale(layer, q), not q.get("config", {}).get("use_01", False))


def _ternary(layer: str, q: dict[str, Any]) -> QKerasCast:
    """``ternary``: ``-alpha, 0, alpha`` by a fixed threshold; with ``alpha=None`` after a tanh."""
    return _levels(layer, q, _scale(layer, q), True)


def _po2(layer: str, q: dict[str, Any]) -> QKerasCast:
    """``quantized_po2``: ``±2^e`` with ``e`` in the exponent range QKeras's constructor computed
    (recorded by the reader; doubled with ``quadratic_approximation``)."""
    c, text = q.get("config", {}), q.get("text", "quantized_po2")
    if "exponents" not in q:
        raise refuse(layer, text, "the description lacks its exponent range", "read the model file again")
    if c.get("use_stochastic_rounding") or float(c.get("qnoise_factor", 1.0)) != 1.0:
        raise refuse(layer, text, "stochastic rounding or qnoise_factor != 1 mixes randomness or "
                     "unquantized values in", "use use_stochastic_rounding=False, qnoise_factor=1")
    lo, hi = (int(e) * (2 if c.get("quadratic_approximation") else 1) for e in q["exponents"])
    return cast(1, hi + 1, max(0, -lo), "RND_CONV", "SAT", text)


#: QKeras activation quantizer class -> the output type of its table (or a refusal)
TABLE_OUTPUTS: dict[str, Callable[[str, dict[str, Any]], QKerasCast]] = {
    "quantized_tanh": _tanh,
    "quantized_sigmoid": _sigmoid,
    "quantized_hswish": _hswish,
    "binary": _binary,
    "ternary": _ternary,
    "quantized_po2": _po2,
}


def table_spec(layer: str, q: dict[str, Any] | None) -> TableSpec | None:
    """The table of a layer's activation quantizer ``q``, or ``None`` when it is not a table quantizer."""
    if not q or q.get("class") not in TABLE_OUTPUTS:
        return None
    try:
        out = TABLE_OUTPUTS[q["class"]](layer, q)
    except (TypeError, ValueError) as err:
        if isinstance(err, QKerasImportError):
            raise
        raise refuse(layer, q.get("text", q["class"]), f"unreadable configuration ({err})",
                     "check the quantizer's arguments") from None
    return TableSpec(q, out)


def domain(layer: str, spec: TableSpec, x: TensorType) -> Domain:
    """Every code the layer's input type ``x`` can hold, on one grid; refused beyond :data:`MAX_TABLE_CODES`."""
    live = x.width > 0
    f = int(x.f[live].max(initial=0))
    lo_e, hi_e = x.bounds()
    shift = (f - x.f).ravel().tolist()
    lo = min([int(c) << s for c, s in zip(lo_e.ravel().tolist(), shift)] + [0])
    hi = max([int(c) << s for c, s in zip(hi_e.ravel().tolist(), shift)] + [0])
    size = hi - lo + 1
    if size > MAX_TABLE_CODES:
        step = 2.0 ** -f
        raise refuse(layer, spec.text,
                     f"its input can take {size:,} values ({lo * step:g} to {hi * step:g} in steps of "
                     f"2^{-f}), more than the {MAX_TABLE_CODES:,} of an exact table of QKeras's function",
                     "quantize the input of this activation to fewer bits first (a QActivation("
                     "quantized_bits(bits, integer)) before it, or fewer bits in the weights and inputs "
                     "of the layer that feeds it)")
    return Domain(f, lo, hi)


def stored_table(arrays: dict[str, np.ndarray], layer_arrays: dict[str, str], want: Domain) -> np.ndarray | None:
    """The table stored in a description for domain ``want``, or ``None`` (absent or for another domain)."""
    if TABLE_ROLE not in layer_arrays or DOMAIN_ROLE not in layer_arrays:
        return None
    have = arrays[layer_arrays[DOMAIN_ROLE]]
    if not np.array_equal(np.asarray(have, np.float64), want.as_array()):
        return None
    return arrays[layer_arrays[TABLE_ROLE]]


def check_values(layer: str, spec: TableSpec, values: np.ndarray) -> np.ndarray:
    """QKeras's outputs as float64, after checking that each lies exactly on the output type."""
    v = np.asarray(values, np.float64)
    out = spec.out.type
    scaled = np.ldexp(v, out.f)
    lo = -(2.0 ** (out.i + out.f)) if out.k else 0.0
    hi = 2.0 ** (out.i + out.f) - 1
    bad = ~np.isfinite(v) | (scaled != np.round(scaled)) | (scaled < lo) | (scaled > hi)
    if bad.any():
        j = int(np.argmax(bad))
        raise refuse(layer, spec.text, f"QKeras's float32 output {float(v[j])!r} (entry {j} of its table) is "
                     f"not a value of {out.k, out.i, out.f} (k, i, f), so no fixed-point type holds it",
                     "report the quantizer configuration; meanwhile pass allow_float={layer: type}")
    return v

"""HEinsumDense: a contraction with a quantized constant kernel on any axes, as ``keras.layers.EinsumDense``.

It is the per-particle dense layer of a Deep Sets model (``"bnf,fh->bnh"``, also what
:class:`~hgq_fpga.nn.layers.HDense` does on a rank-3 input), the mixing across particles of an
MLP-Mixer or an interaction network (``"bnf,nm->bmf"``), the projections of an attention block
(``"btd,dhk->bthk"``) and, with the equation ``"...c,c->...c"``, a per-channel scale and shift (what
:class:`~hgq_fpga.nn.layers.HBatchNormalization` computes). The firmware op is
:class:`hgq_fpga.ir.EinsumDense`, whose exact type inference also proves, at calibration, that
the calibrated-mode float64 einsum is exact.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops
from keras.src.layers.core.einsum_dense import _analyze_einsum_string

from hgq_fpga.ir import ops as O
from hgq_fpga.ir.builder import weights_to_raw
from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.ir.types import FLOAT_EXACT, linear_alignment
from hgq_fpga.nn.layers.base import FLOAT64_BITS
from hgq_fpga.nn.layers.linear import HLinear

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


def explicit_terms(equation: str, ranks: tuple[int, ...], owner: str) -> tuple[list[str], str]:
    """The terms of a Keras einsum equation with ``...`` spelled out for operands of ``ranks``
    (batch axis included); a ValueError naming ``owner`` for anything unreadable."""
    equation = equation.replace(" ", "")
    if equation.count("->") != 1:
        raise ValueError(f"{owner}: einsum equation {equation!r} needs one '->'")
    left, out = equation.split("->")
    terms = left.split(",")
    if len(terms) != len(ranks):
        raise ValueError(f"{owner}: einsum equation {equation!r} has {len(terms)} operand(s), the "
                         f"layer takes {len(ranks)}")
    used = set(equation)
    spare = iter(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in used)
    elided = ""
    for n, (term, rank) in enumerate(zip(terms, ranks)):
        if "..." in term:
            count = rank - len(term.replace("...", ""))
            if count < 0 or (elided and len(elided) != count):
                raise ValueError(f"{owner}: einsum equation {equation!r} does not fit operands of "
                                 f"rank {ranks}")
            elided = elided or "".join(next(spare) for _ in range(count))
            terms[n] = term.replace("...", elided)
    return terms, out.replace("...", elided)


def per_sample(terms: list[str], out: str, owner: str, batched: tuple[bool, ...]) -> str:
    """The per-sample equation of a batched einsum: the batch letter (first of the output, and of
    every operand that ``batched`` marks) dropped; a ValueError naming ``owner`` otherwise."""
    batch = out[:1]
    if not batch or any(t[:1] != batch for t, b in zip(terms, batched) if b) \
            or any(batch in t for t, b in zip(terms, batched) if not b) \
            or any(batch in t[1:] for t in terms) or batch in out[1:]:
        raise ValueError(f"{owner}: the einsum equation {','.join(terms)}->{out} must name the batch "
                         "axis as the first letter of the output and of each input (and nowhere "
                         "else), e.g. 'bnf,fh->bnh'")
    strip = [t[1:] if b else t for t, b in zip(terms, batched)]
    return f"{','.join(strip)}->{out[1:]}"


@_register
class HEinsumDense(HLinear):
    """``y = q_out(act(einsum(equation, x, q_w(W)) + q_b(b)))`` with HGQ quantizers.

    The arguments are those of ``keras.layers.EinsumDense`` (equation, output_shape, activation,
    bias_axes, initializers) plus the quantizer options of
    :class:`~hgq_fpga.nn.layers.linear.HLinear`; the equation names the batch axis first
    (or covers it with ``...``). EBOPs count every multiplication: ``Σ ba(x) · bw(W)``.

    Args:
        equation: e.g. ``"bnf,fh->bnh"``, ``"bnf,nm->bmf"``, ``"...c,c->...c"``.
        output_shape: the output's shape without the batch axis (and the axes ``...`` covers).
        activation: ``None``/``"linear"`` or ``"relu"``.
        bias_axes: the output letters that carry a bias (``None``: no bias).
    """

    def __init__(self, equation: str, output_shape, activation: str | None = None,
                 bias_axes: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("use_bias", None)
        super().__init__(activation=activation, use_bias=bias_axes is not None, **kwargs)
        self.equation = str(equation)
        self.partial_output_shape = [output_shape] if isinstance(output_shape, int) else \
            (list(output_shape) if output_shape is not None else [])
        self.bias_axes = bias_axes

    def build(self, input_shape) -> None:
        try:
            kernel_shape, bias_shape, out_shape, _, _ = _analyze_einsum_string(
                self.equation, self.bias_axes, tuple(input_shape), self.partial_output_shape)
        except ValueError as e:
            raise ValueError(f"HEinsumDense {self.name!r}: {e}") from None
        self.sample_equation = self._sample_equation(len(input_shape))
        self.full_output_shape = self._known_shape(tuple(input_shape), tuple(out_shape))
        self._build_weights(tuple(kernel_shape), self.full_output_shape[1:],
                            tuple(bias_shape) if bias_shape is not None else None)

    def _sample_equation(self, rank: int) -> str:
        owner = f"HEinsumDense {self.name!r}"
        kernel_term = self.equation.replace(" ", "").split("->")[0].split(",")[-1]
        terms, out = explicit_terms(self.equation, (rank, len(kernel_term)), owner)
        if self.bias_axes is not None and out[:1] in self.bias_axes:
            raise ValueError(f"{owner}: bias_axes {self.bias_axes!r} names the batch axis")
        return per_sample(terms, out, owner, (True, False))

    def _known_shape(self, input_shape: tuple, out_shape: tuple) -> tuple:
        """``out_shape`` (batch first) with the sizes Keras leaves ``None`` taken from the input."""
        left, out_term = self.sample_equation.split("->")
        x_term = left.split(",")[0]
        size = dict(zip(x_term, input_shape[1:]))
        return (out_shape[0],) + tuple(size.get(c, n) if n is None else n
                                       for c, n in zip(out_term, out_shape[1:]))

    def apply_kernel(self, x, w):
        return ops.einsum(self.equation, x, w)

    def compute_output_spec(self, x):
        _, _, out_shape, _, _ = _analyze_einsum_string(self.equation, self.bias_axes, tuple(x.shape),
                                                       self.partial_output_shape)
        if getattr(self, "sample_equation", None):
            out_shape = self._known_shape(tuple(x.shape), tuple(out_shape))
        return keras.KerasTensor(tuple(out_shape), dtype=self.out_dtype())

    # ------------------------------------------------------------------ firmware
    def firmware_weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``(w_raw, w_f, b_raw, b_f)``: kernel codes, and the bias broadcast to one per output
        element (``None`` without bias), as the IR's ``EinsumDense`` takes them."""
        _, _, wf = self.kernel_types()
        w_raw = weights_to_raw(self.quantized_kernel(), wf)
        if not self.use_bias:
            return w_raw, np.asarray(wf, np.int64), None, None
        out_shape = self.full_output_shape[1:]
        bf = np.broadcast_to(self.bias_types()[2], out_shape)
        b_raw = weights_to_raw(np.broadcast_to(self.quantized_bias(), out_shape), bf)
        return w_raw, np.asarray(wf, np.int64), b_raw, np.asarray(bf, np.int64)

    def check_exact(self) -> None:
        """Refuse a calibration whose float64 einsum could round: a product wider than 53 bits, or
        partial sums beyond ``2^53`` on the accumulator's grid (from the IR's exact alignment)."""
        super(HLinear, self).check_exact()
        w_raw, w_f, b_raw, b_f = self.firmware_weights()
        out_shape = self.full_output_shape[1:]
        op = O.EinsumDense(self.name, ("x",), None, self.sample_equation, w_raw, w_f,
                           np.zeros(out_shape, np.int64) if b_raw is None else b_raw,
                           np.zeros(out_shape, np.int64) if b_f is None else b_f)
        plan, _, _ = linear_alignment(op, TensorType.of(*self.input_types()))
        if plan.product_width > FLOAT64_BITS or float(plan.magnitude.max(initial=0)) >= FLOAT_EXACT:
            raise ValueError(f"HEinsumDense {self.name!r}: a product or an accumulator needs more than "
                             f"the {FLOAT64_BITS} bits float64 holds exactly (widest product "
                             f"{plan.product_width} bits); calibrated-mode inference cannot be exact. "
                             "Reduce the bit widths (raise beta).")

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("use_bias", None)
        config.update(equation=self.equation, output_shape=self.partial_output_shape,
                      bias_axes=self.bias_axes)
        return config

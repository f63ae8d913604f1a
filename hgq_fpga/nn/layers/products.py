"""Products of two activations: :class:`HEinsum` (a contraction, e.g. attention scores or pair
products of particles) and :class:`HMultiply` (element-wise, with broadcasting).

Both are exact in firmware (:class:`hgq_fpga.ir.Einsum`): each product of two codes keeps every
bit, the products of one output element are summed exactly, and only the output quantizer rounds.
Calibrated mode computes the same in float64, which calibration proves exact from the IR's type
inference. The cost of a product of two variables is ``bits(a) · bits(b)`` EBOPs.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from hgq_fpga.ir.einsum import broadcast_shape, product_index
from hgq_fpga.ir.gathered import product_plan
from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.nn.layers.base import FLOAT64_BITS, HOutputQuantized
from hgq_fpga.nn.layers.einsum_dense import explicit_terms, per_sample

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


class _Product(HOutputQuantized):
    """Shared machinery: two inputs, an exact product (``_product``, batch first), an output
    quantizer, EBOPs. ``sample_equation`` (the per-sample einsum, set at build) is the firmware op."""

    has_ebops = True
    sample_equation = ""

    def _product(self, a, b):
        raise NotImplementedError

    def _out_shape(self, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
        """The per-sample output shape for per-sample input shapes (checks them)."""
        raise NotImplementedError

    def build(self, input_shape) -> None:
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__} {self.name!r} takes a list of two tensors, got "
                             f"{len(input_shape)}")
        shapes = [tuple(s[1:]) for s in input_shape]
        if any(d is None for s in shapes for d in s):
            raise ValueError(f"{type(self).__name__} {self.name!r} needs fully known input shapes, "
                             f"got {shapes}")
        self.oq.build(self._out_shape(shapes))

    def call(self, inputs, training=None):
        a, b = inputs
        if self._calibrated_for(training):
            return self.oq.exact_quantize(self._product(ops.cast(a, "float64"), ops.cast(b, "float64")))
        out, _ = self.oq.fake_quantize(self._product(ops.cast(a, "float32"), ops.cast(b, "float32")),
                                       training=training)
        if training:
            self._track_ebops(self.compute_ebops())
        return out

    def compute_output_spec(self, inputs):
        shape = self._out_shape([tuple(t.shape[1:]) for t in inputs])
        return keras.KerasTensor((inputs[0].shape[0],) + shape, dtype=self.out_dtype())

    def compute_ebops(self):
        """``Σ bits(a) · bits(b)`` over every product, from the current widths."""
        ba, bb = (ops.cast(self.input_bits(n), "float32")[None] for n in (0, 1))
        return ops.sum(self._product(ba, bb))

    def _plan(self):
        return product_plan(self.sample_equation, TensorType.of(*self.input_types(0)),
                            TensorType.of(*self.input_types(1)))

    def exact_ebops(self) -> int:
        return int(self._plan().term_bits.sum())

    def check_exact(self) -> None:
        """Refuse a product wider than float64 holds, or a sum beyond 53 bits (then calibrated-mode
        float64 would round where the firmware keeps every bit)."""
        super().check_exact()
        plan = self._plan()
        width = int(plan.out.width.max(initial=0))
        if plan.product_width > FLOAT64_BITS or width > FLOAT64_BITS:
            raise ValueError(f"{type(self).__name__} {self.name!r}: a product of its inputs is up to "
                             f"{plan.product_width} bits wide and their sum {width} bits, more than "
                             f"the {FLOAT64_BITS} that float64 holds exactly; calibrated-mode inference "
                             "cannot be exact. Lower the bit widths of its inputs")


@_register
class HEinsum(_Product):
    """A contraction of two activations, ``einsum(equation, a, b)``, then an output quantizer.

    For attention scores ``"bqd,bkd->bqk"``, pair products of particles ``"bnf,bmf->bnm"``, or an
    attention-weighted sum ``"bqk,bkd->bqd"``. The equation names the batch axis as the first
    letter of both inputs and of the output; a letter has one size in both inputs (use
    :class:`HMultiply` to broadcast). EBOPs: ``Σ bits(a) · bits(b)`` over every product.

    Args:
        equation: the einsum equation.
        output_quantizer: options for the output quantizer (a dict).
    """

    def __init__(self, equation: str, output_quantizer: dict | None = None, **kwargs: Any) -> None:
        super().__init__(output_quantizer=output_quantizer, **kwargs)
        self.equation = str(equation)

    def _out_shape(self, shapes):
        owner = f"HEinsum {self.name!r}"
        terms, out = explicit_terms(self.equation, tuple(len(s) + 1 for s in shapes), owner)
        self.sample_equation = per_sample(terms, out, owner, (True, True))
        try:
            return product_index(self.sample_equation, *shapes, broadcast=False).out_shape
        except ValueError as e:
            raise ValueError(f"{owner}: {e}") from None

    def _product(self, a, b):
        return ops.einsum(self.equation, a, b)

    def get_config(self) -> dict:
        config = super().get_config()
        config["equation"] = self.equation
        return config


@_register
class HMultiply(_Product):
    """The element-wise product of two activations, then an output quantizer.

    The inputs have equal rank; an axis of size 1 in one of them broadcasts, as in numpy (a
    per-particle weight times every feature, say). EBOPs: ``Σ bits(a) · bits(b)`` over the output.

    Args:
        output_quantizer: options for the output quantizer (a dict).
    """

    def _out_shape(self, shapes):
        try:
            out_shape = broadcast_shape(shapes)
        except ValueError as e:
            raise ValueError(f"HMultiply {self.name!r}: {e}") from None
        letters = "abcdefghijklmnopqrstuvwxyz"[:len(out_shape)]
        self.sample_equation = f"{letters},{letters}->{letters}"
        return out_shape

    def _product(self, a, b):
        return a * b

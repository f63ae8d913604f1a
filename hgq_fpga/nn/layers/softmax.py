"""HSoftmax: a softmax that is bit-exact in every implementation.

Along ``axis``, for each slice ``x``:

1. ``m = max(x)`` and ``d = x - m``, both exact (``d <= 0``);
2. ``d`` is cast to the exp table's input type (``exp_input_quantizer``, saturating by default);
3. ``e = exp(d)`` is looked up in a table of the exp table's output type (``exp_output_quantizer``);
4. ``s = Σ e``, exact, cast to the reciprocal table's input type (``sum_quantizer``);
5. ``r = 1/s`` is looked up in a table of its output type (``inverse_quantizer``);
6. ``y = e · r``, an exact product, is cast to the output type (``output_quantizer``).

Every width is learned like any HGQ activation's (§2 of ``docs/method.md``) and fixed by
calibration. The two tables hold *correctly rounded* codes of the true ``exp`` and ``1/x``
(:mod:`hgq_fpga.ir.functions`), computed once from the calibrated types: the firmware IR stores
them as ``Table`` ops, every backend copies those codes, and calibrated-mode Keras looks its
values up in the same arrays. No implementation ever evaluates ``exp`` itself, so eager, graph and
XLA Keras, the emulator, the C++ and the RTL agree bit for bit (the trap hls4ml #1523 fell into:
its C++ rebuilt HGQ2's tables with ``std::exp``).

In training the same steps run in float32 with a float ``exp`` and ``1/s`` and fake quantization.
The cost is the product ``e · r``: ``Σ bits(e) · bits(r)`` EBOPs (the tables are lookups).
:meth:`HSoftmax.error_bound` bounds the distance from the float softmax from the widths alone.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.ir.functions import EXP, RECIPROCAL
from hgq_fpga.ir.gathered import add_type, reduce_plan
from hgq_fpga.ir.tables import MAX_TABLE_INPUT_WIDTH
from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.nn.layers.base import FLOAT64_BITS, HOutputQuantized, check_width_float64_exact
from hgq_fpga.nn.keras_backend import outside_trace
from hgq_fpga.nn.layers.lookup import TableLookup
from hgq_fpga.nn.layers.reduction import sample_axes
from hgq_fpga.nn.quantizers.hgq import ACTIVATION_DEFAULTS, make_quantizer, serialize_quantizer

_register = keras.saving.register_keras_serializable(package="hgq_fpga")

#: defaults of the softmax's quantizers: rounding to nearest, saturation (a wrapped exp input or a
#: wrapped probability would be far off); each dict option of the layer overrides them
SOFTMAX_DEFAULTS = {**ACTIVATION_DEFAULTS, "round_mode": "RND", "overflow_mode": "SAT"}
#: the internal quantizers: (attribute, constructor option, initial fractional bits)
_INTERNAL = (("dq", "exp_input_quantizer", 3.0), ("eq", "exp_output_quantizer", 8.0),
             ("sq", "sum_quantizer", 4.0), ("rq", "inverse_quantizer", 8.0))


def _step_error(q) -> float:
    """The largest rounding error of a calibrated quantizer (inside its range): ``2^-f`` when it
    truncates, half that when it rounds to nearest."""
    k, i, f = q.fixed_types()
    live = (k + i + f) > 0
    if not live.any():
        return 0.0
    step = float(np.ldexp(1.0, -int(f[live].min())))
    return step if q.round_mode == "TRN" else step / 2


@_register
class HSoftmax(HOutputQuantized):
    """Softmax along ``axis`` with learned widths, bit-exact everywhere (see the module doc).

    Args:
        axis: the axis to normalise (Keras counting: the batch axis is 0; default the last).
        exp_input_quantizer, exp_output_quantizer: options (dicts) for the exp table's input
            ``x - max`` and output.
        sum_quantizer, inverse_quantizer: options for the reciprocal table's input (the sum) and
            output.
        output_quantizer: options for the probabilities.
        beta: EBOPs weight in the loss.
    """

    has_ebops = True

    def __init__(self, axis: int = -1, exp_input_quantizer: dict | None = None,
                 exp_output_quantizer: dict | None = None, sum_quantizer: dict | None = None,
                 inverse_quantizer: dict | None = None, output_quantizer: dict | None = None,
                 beta: float = 0.0, **kwargs: Any) -> None:
        given = {"exp_input_quantizer": exp_input_quantizer, "exp_output_quantizer": exp_output_quantizer,
                 "sum_quantizer": sum_quantizer, "inverse_quantizer": inverse_quantizer}
        super().__init__(output_quantizer=self._with_defaults(output_quantizer, 6.0), beta=beta,
                         **kwargs)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise ValueError(f"HSoftmax axis must be one integer, got {axis!r}")
        self.axis = int(axis)
        for attr, option, f_init in _INTERNAL:
            spec = given[option]
            spec = spec if (isinstance(spec, dict) and "class_name" in spec) else \
                self._with_defaults(spec, f_init)
            setattr(self, attr, make_quantizer(spec, SOFTMAX_DEFAULTS, option))
        self._exp = TableLookup(EXP)
        self._inverse = TableLookup(RECIPROCAL)

    @staticmethod
    def _with_defaults(spec, f_init: float):
        if isinstance(spec, dict) and "class_name" in spec:
            return spec
        return {"f_init": f_init, **SOFTMAX_DEFAULTS, **(spec or {})}

    def build(self, input_shape) -> None:
        shape = tuple(int(s) for s in input_shape[1:])
        (self.sample_axis,) = sample_axes(self.axis, len(shape), f"HSoftmax {self.name!r}")
        reduced = tuple(1 if n == self.sample_axis else s for n, s in enumerate(shape))
        for q, s in ((self.dq, shape), (self.eq, shape), (self.sq, reduced), (self.rq, reduced),
                     (self.oq, shape)):
            q.build(s)

    # ------------------------------------------------------------------ forward
    def call(self, x, training=None):
        if self._calibrated_for(training):
            return self._call_exact(x)
        x = ops.cast(x, "float32")
        d = x - ops.stop_gradient(ops.max(x, axis=self.axis, keepdims=True))
        dq, _ = self.dq.fake_quantize(d, training=training)
        e, _ = self.eq.fake_quantize(ops.exp(dq), training=training)
        s, _ = self.sq.fake_quantize(ops.sum(e, axis=self.axis, keepdims=True), training=training)
        r, _ = self.rq.fake_quantize(1.0 / ops.maximum(s, 2.0 ** -24), training=training)
        out, _ = self.oq.fake_quantize(e * r, training=training)
        if training:
            self._track_ebops(self.compute_ebops())
        return out

    def _call_exact(self, x):
        """Calibrated mode: exact float64 steps and the two tables (module doc)."""
        x = ops.cast(x, "float64")
        d = self.dq.exact_quantize(x - ops.max(x, axis=self.axis, keepdims=True))
        exp_lut, inverse_lut = outside_trace(self.tables)
        e = TableLookup.apply(d, exp_lut)
        s = self.sq.exact_quantize(ops.sum(e, axis=self.axis, keepdims=True))
        return self.oq.exact_quantize(e * TableLookup.apply(s, inverse_lut))

    def tables(self):
        """The calibrated exp and reciprocal tables as :class:`TableLookup` arrays; a ValueError
        naming the layer when one cannot be built."""
        try:
            return (self._exp.arrays(self.dq.fixed_types(), self.eq.fixed_types(), self.eq.round_mode,
                                     self.eq.overflow_mode),
                    self._inverse.arrays(self.sq.fixed_types(), self.rq.fixed_types(),
                                         self.rq.round_mode, self.rq.overflow_mode))
        except ValueError as e:
            raise ValueError(f"HSoftmax {self.name!r}: {e}") from None

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype=self.out_dtype())

    # ------------------------------------------------------------------ EBOPs
    def compute_ebops(self):
        return ops.sum(self.eq.activation_bits() * self.rq.activation_bits())

    def exact_ebops(self) -> int:
        e = sum(self.eq.fixed_types())
        r = sum(self.rq.fixed_types())
        return int(np.sum(e * r))

    # ------------------------------------------------------------ calibration
    def calibrate_types(self, margin: int = 0) -> None:
        for q in (self.dq, self.eq, self.sq, self.rq):
            q.calibrate_activation(margin)
        super().calibrate_types(margin)

    def check_exact(self) -> None:
        """Refuse what cannot be exact: a table input wider than a table allows, or a difference,
        sum or product wider than float64 holds (the message names the quantizer to narrow)."""
        super().check_exact()
        x = TensorType.of(*self.input_types())
        m = reduce_plan("max", x, (self.sample_axis,), True).out
        d = add_type([x, m], (1, -1))
        check_width_float64_exact(self, (d.k, d.i, d.f), "difference x - max(x)")
        for q, option in ((self.dq, "exp_input_quantizer"), (self.sq, "sum_quantizer")):
            width = int(sum(q.fixed_types()).max(initial=0))
            if width > MAX_TABLE_INPUT_WIDTH:
                raise ValueError(f"HSoftmax {self.name!r}: the input of a table ({option}) is up to "
                                 f"{width} bits wide; a table is indexed by at most "
                                 f"{MAX_TABLE_INPUT_WIDTH} bits, so the softmax cannot be exact. Lower "
                                 "its fractional bits or range")
        total = reduce_plan("sum", TensorType.of(*self.eq.fixed_types()), (self.sample_axis,), True).out
        check_width_float64_exact(self, (total.k, total.i, total.f), "sum of the exponentials")
        product = int((sum(self.eq.fixed_types()) + sum(self.rq.fixed_types())).max(initial=0))
        if product > FLOAT64_BITS:
            raise ValueError(f"HSoftmax {self.name!r}: the product exp · (1/sum) is up to {product} bits "
                             f"wide, more than the {FLOAT64_BITS} that float64 holds exactly. Lower the "
                             "bits of exp_output_quantizer or inverse_quantizer")
        self.tables()

    def error_bound(self) -> float:
        """A bound on ``|y - softmax(x)|`` for inputs whose every step stays inside the calibrated
        range (no value saturates), from the calibrated widths alone.

        With the rounding errors ``εd, εe, εs, εr, εo`` of the five quantizers (``2^-f``, or half
        of it when rounding to nearest) and ``n`` elements per slice: the exp table gives
        ``e_k = u_k·a_k + b_k`` with ``u_k = exp(x_k - m)``, ``a_k`` within ``e^±εd`` and
        ``|b_k| <= εe`` (the maximum's ``e`` is exactly 1, so ``A = Σ u_k a_k >= 1``). A ratio
        ``u_j a_j / A`` is within ``tanh(εd / 2)`` of ``p_j``; the ``b_k`` move ``e_j / S`` by at most
        ``ρ = εe (n + 1) / (1 - n εe)``; the sum's cast by ``(1 + tanh(εd/2) + ρ) εs / (1 - n εe - εs)``;
        the reciprocal's by ``(e^εd + εe) εr``; the output cast by ``εo``. The bound is their sum
        (``inf`` when ``n εe + εs >= 1``: too coarse for one).
        """
        n = int(self.dq.tensor_shape[self.sample_axis])
        ed, ee, es, er, eo = (_step_error(q) for q in (self.dq, self.eq, self.sq, self.rq, self.oq))
        if n * ee + es >= 1:
            return math.inf
        ratio = math.tanh(ed / 2) + ee * (n + 1) / (1 - n * ee)
        return ratio + (1 + ratio) * es / (1 - n * ee - es) + (math.exp(ed) + ee) * er + eo

    def get_config(self) -> dict:
        config = super().get_config()
        config["axis"] = self.axis
        for attr, option, _ in _INTERNAL:
            config[option] = serialize_quantizer(getattr(self, attr))
        return config

"""The public entry points of post-training quantization: :func:`quantize_float` (one model) and
:func:`quantize_float_budgets` (one model per EBOPs budget, from one greedy descent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import keras
import numpy as np

from hgq_fpga.fixed import FixedType
from hgq_fpga.nn.dtype_policy import float32_policy
from hgq_fpga.nn.ptq import arguments
from hgq_fpga.nn.ptq.arguments import MIXED_SAMPLES
from hgq_fpga.nn.ptq.mapping import Mapped, map_model
from hgq_fpga.nn.ptq.mixed import accuracy, search_mixed
from hgq_fpga.nn.ptq.search import Choice, State, run_search


@dataclass
class PTQResult:
    """A PTQ model and how it was made.

    Attributes:
        model: the HGQ model in calibrated mode (fixed types), ready for ``hgq_fpga.to_firmware``.
        ebops: its exact EBOPs.
        output_cosine: cosine similarity of its outputs with the float model's on the calibration data.
        layers: per HGQ layer: weight and activation widths, chosen types and the layer's cosine.
        state: the search state (values and choices), used by mixed precision.
        lowered: the mixed-precision log (one entry per bit taken away), empty without it.

    ``print(result)`` shows a table: per layer the weight width and integer bits, the activation
    type and the cosine with the float model, then the EBOPs and the mixed-precision steps.
    """

    model: keras.Model
    ebops: int
    output_cosine: float
    layers: dict[str, Choice] = field(repr=False)
    state: State = field(repr=False)
    lowered: list[dict] = field(repr=False)

    def __str__(self) -> str:
        rows = [("layer", "weight bits", "weight int. bits", "activation", "cosine")]
        for name, c in self.layers.items():
            integer = "–" if c.weight_i is None else _span(np.asarray(c.weight_i))
            rows.append((name, "–" if c.wbits is None else str(c.wbits), integer, _act_type(c.act), f"{c.cosine:.5f}"))
        widths = [max(len(r[n]) for r in rows) for n in range(len(rows[0]))]
        table = ["  " + "  ".join(cell.ljust(w) if n == 0 else cell.rjust(w) for n, (cell, w) in
                                  enumerate(zip(row, widths))).rstrip() for row in rows]
        lines = [f"PTQResult: {len(self.layers)} layers, {self.ebops:,} EBOPs, output cosine "
                 f"{self.output_cosine:.5f} (with the float model, on the calibration data)", *table]
        if self.lowered:
            first = self.lowered[0]
            lines.append(f"  mixed precision: {len(self.lowered)} bits taken away (.lowered), the first from "
                         f"{first['layer']} ({first['knob']}), down to {self.lowered[-1]['ebops']:,} EBOPs")
        return "\n".join(lines)


def _span(values: np.ndarray) -> str:
    low, high = int(values.min()), int(values.max())
    return str(low) if low == high else f"{low}..{high}"


def _act_type(act: tuple[int, int, int] | None) -> str:
    """An activation's ``(k, i, f)`` as its C++ type (``ap_ufixed<8,3>``)."""
    if act is None:
        return "–"
    kind = FixedType(*(int(v) for v in act))
    return kind.cpp if kind.width > 0 else "constant 0"


def finish(state: State, lowered: list[dict]) -> PTQResult:
    """Check float64 exactness of every layer, drop stale traced functions, and report."""
    model = state.mapped.model
    for step in state.mapped.steps:
        step.layer.check_exact()
    for attr in ("train_function", "test_function", "predict_function"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    layers = {s.layer.name: c for s, c in zip(state.mapped.steps, state.choices)}
    return PTQResult(model, state.ebops(), state.output_cosine(), layers, state, lowered)


def _mapped(model, granularity: str, drop_softmax: bool, act_bits: int) -> Mapped:
    """The model mapped onto HGQ layers, made in float32 whatever the global dtype policy."""
    with float32_policy():
        mapped = map_model(model, granularity, drop_softmax)
    arguments.check_tables(mapped.steps, act_bits)
    return mapped


def _mapper(model, granularity: str, drop_softmax: bool, act_bits: int) -> Callable[[], Mapped]:
    """A function that maps the model afresh at each call (mixed precision needs one per budget). The
    first mapping is made now, so that a layer that cannot be mapped is refused before any search."""
    first = [_mapped(model, granularity, drop_softmax, act_bits)]
    return lambda: first.pop() if first else _mapped(model, granularity, drop_softmax, act_bits)


def quantize_float_budgets(model: keras.Model, x_calib, budgets: list[int], weight_bits: int = 8, act_bits: int = 8,
                granularity: str = "per_channel", search: str = "easyquant", clip_steps: int = 3,
                rounds: int = 2, drop_softmax: bool = False, min_bits: int = 2,
                mixed_samples: int | None = MIXED_SAMPLES) -> list[PTQResult]:
    """Mixed-precision PTQ models for several EBOPs budgets from one greedy descent.

    The same models as ``quantize_float(..., ebops_budget=b)`` for each ``b`` (the greedy choices do not
    depend on the budget, see :mod:`.mixed`), for the cost of the descent to the smallest budget.
    """
    budgets = arguments.check_budgets(budgets)
    o = arguments.check_options(weight_bits, act_bits, granularity, search, clip_steps, rounds, drop_softmax,
                                min_bits=min_bits, mixed_samples=mixed_samples)
    arguments.check_model(model)
    xs = arguments.model_arrays(model, x_calib, "x_calib")
    found = search_mixed(_mapper(model, granularity, drop_softmax, o.act_bits), xs, o.weight_bits, o.act_bits,
                         search, o.clip_steps, o.rounds, o.mixed_samples, budgets, min_bits=o.min_bits)
    return [finish(state, lowered) for state, lowered in found]


def quantize_float(model: keras.Model, x_calib, weight_bits: int = 8, act_bits: int = 8,
                   granularity: str = "per_channel", search: str = "easyquant", clip_steps: int = 3,
                   rounds: int = 2, drop_softmax: bool = False, ebops_budget: int | None = None,
                   max_accuracy_loss: float | None = None, x_val=None, y_val=None, min_bits: int = 2,
                   metric=accuracy, mixed_samples: int | None = MIXED_SAMPLES) -> PTQResult:
    """A float Keras model as an hgq_fpga model with fixed types, without retraining.

    ``quantize_float(model, x).model`` is the model; the result also says how it was made.

    Args:
        model: a plain Keras 3 model (Sequential with an Input, or functional); see
            :mod:`hgq_fpga.nn.ptq.mapping` for the layers it maps.
        x_calib: calibration inputs (an array, or a list for several inputs); a few hundred to a
            few thousand representative samples.
        weight_bits: total width of every weight (sign included); 2..24.
        act_bits: total width of every activation (sign bit included where it can be negative);
            2..32, and at most 20 where an activation function (tanh, sigmoid, ...) follows, which
            the firmware computes as a lookup table over every code of its input.
        granularity: ``"per_channel"`` (one binary point per output channel of a kernel) or
            ``"per_tensor"``. Activations have one binary point per tensor.
        search: ``"easyquant"`` (cosine-similarity search over binary points and clipping) or
            ``"minmax"`` (the binary point that holds the largest value).
        clip_steps: how many integer bits below the min/max choice the search tries.
        rounds: alternations of weight and activation search per layer.
        drop_softmax: drop a softmax at a model output (the firmware gives logits) instead of mapping
            it to an exact :class:`~hgq_fpga.nn.layers.HSoftmax`.
        ebops_budget: mixed precision: lower widths per layer, greedily by sensitivity (output cosine
            lost per EBOP saved), until the model's EBOPs are at most this (see :mod:`.mixed`); a
            number of at least 1 (a fraction is rounded down: EBOPs are whole).
        max_accuracy_loss: mixed precision by accuracy: lower widths while the accuracy on
            ``(x_val, y_val)`` (integer labels, argmax of the first output) stays within this
            fraction (e.g. 0.01) of the float model's. ``x_val`` as ``x_calib``; ``y_val`` one label per
            sample (or, with your own ``metric(y_true, y_pred) -> float``, what it takes).
        min_bits: no width is lowered below this.
        mixed_samples: mixed precision scores its greedy trials on the first this many calibration
            inputs (``None``: all), then searches the binary points again on all of them at the
            chosen widths and settles the budget there (see :mod:`.mixed`).

    Returns:
        A :class:`PTQResult`; its ``model`` is in calibrated mode, ready for ``to_firmware``.
        ``hgq_fpga.nn.calibration.uncalibrate(result.model)`` hands it to HGQ training, starting
        from the found widths.

    The model's layers are made in float32 whatever Keras's global dtype policy (a mixed policy
    would break their exact arithmetic; see :mod:`hgq_fpga.nn.dtype_policy`).

    Raises:
        ArgumentError: a bad argument (a ValueError naming it), before any work starts.
        TypeError: ``model`` is not a Keras 3 model.
        UnmappableLayerError: naming the first layer that has no hgq_fpga equivalent.
    """
    o = arguments.check_options(weight_bits, act_bits, granularity, search, clip_steps, rounds, drop_softmax,
                                ebops_budget, max_accuracy_loss, min_bits, mixed_samples,
                                None if metric is accuracy else metric)
    arguments.check_model(model)
    xs = arguments.model_arrays(model, x_calib, "x_calib")
    xs_val, y_val = arguments.held_out(model, x_val, y_val, o.max_accuracy_loss, labels=metric is accuracy)
    new_mapped = _mapper(model, granularity, drop_softmax, o.act_bits)
    if o.ebops_budget is None and o.max_accuracy_loss is None:
        return finish(run_search(new_mapped(), xs, o.weight_bits, o.act_bits, search, o.clip_steps, o.rounds), [])
    [(state, lowered)] = search_mixed(new_mapped, xs, o.weight_bits, o.act_bits, search, o.clip_steps, o.rounds,
                                      o.mixed_samples, [o.ebops_budget], xs_val, y_val, o.max_accuracy_loss,
                                      o.min_bits, metric)
    return finish(state, lowered)

"""The public entry points of post-training quantization: :func:`quantize_float` (one model) and
:func:`quantize_float_budgets` (one model per EBOPs budget, from one greedy descent)."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from hgq_fpga.fixed import FixedType
from hgq_fpga.nn.ptq import grid
from hgq_fpga.nn.ptq.mapping import map_model
from hgq_fpga.nn.ptq.mixed import accuracy, search_mixed
from hgq_fpga.nn.ptq.search import SEARCHES, Choice, State, run_search

GRANULARITIES = ("per_channel", "per_tensor")
#: calibration inputs the greedy mixed-precision trials are scored on (see :mod:`.mixed`)
MIXED_SAMPLES = 500


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


def _arrays(model: keras.Model, x) -> list[np.ndarray]:
    """The calibration inputs as float32 arrays, one per model input; clear errors otherwise."""
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(arrays) != len(model.inputs):
        raise ValueError(f"model {model.name!r} has {len(model.inputs)} input(s), got {len(arrays)} "
                         "calibration array(s)")
    out = []
    for a, t in zip(arrays, model.inputs):
        a = np.asarray(a, np.float32)
        if a.ndim == 0 or a.shape[0] == 0:
            raise ValueError("quantize_float needs a non-empty calibration data set")
        if tuple(a.shape[1:]) != tuple(t.shape[1:]):
            raise ValueError(f"calibration data has shape {a.shape}; the model input {t.name!r} expects "
                             f"(samples, {', '.join(str(s) for s in t.shape[1:])})")
        if not np.all(np.isfinite(a)):
            raise ValueError("calibration data contains NaN or inf")
        out.append(a)
    if len({len(a) for a in out}) > 1:
        raise ValueError(f"calibration inputs have different sample counts: {[len(a) for a in out]}")
    return out


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


def _prepared(model, x_calib, weight_bits, act_bits, granularity, search, clip_steps, rounds):
    """Checked arguments: (weight_bits, act_bits, calibration arrays)."""
    weight_bits = grid.check_bits(weight_bits, "weight_bits")
    act_bits = grid.check_bits(act_bits, "act_bits", most=32)
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
    if int(clip_steps) < 0 or int(rounds) < 1:
        raise ValueError(f"need clip_steps >= 0 and rounds >= 1, got {clip_steps}, {rounds}")
    return weight_bits, act_bits, _arrays(model, x_calib)


def quantize_float_budgets(model: keras.Model, x_calib, budgets: list[int], weight_bits: int = 8, act_bits: int = 8,
                granularity: str = "per_channel", search: str = "easyquant", clip_steps: int = 3,
                rounds: int = 2, drop_softmax: bool = False, min_bits: int = 2,
                mixed_samples: int | None = MIXED_SAMPLES) -> list[PTQResult]:
    """Mixed-precision PTQ models for several EBOPs budgets from one greedy descent.

    The same models as ``quantize_float(..., ebops_budget=b)`` for each ``b`` (the greedy choices do not
    depend on the budget, see :mod:`.mixed`), for the cost of the descent to the smallest budget.
    """
    if not budgets:
        raise ValueError("quantize_float_budgets needs at least one EBOPs budget")
    weight_bits, act_bits, xs = _prepared(model, x_calib, weight_bits, act_bits, granularity, search,
                                          clip_steps, rounds)
    found = search_mixed(lambda: map_model(model, granularity, drop_softmax), xs, weight_bits, act_bits,
                         search, clip_steps, rounds, mixed_samples, [int(b) for b in budgets],
                         min_bits=min_bits)
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
        act_bits: total width of every activation (sign bit included where it can be negative).
        granularity: ``"per_channel"`` (one binary point per output channel of a kernel) or
            ``"per_tensor"``. Activations have one binary point per tensor.
        search: ``"easyquant"`` (cosine-similarity search over binary points and clipping) or
            ``"minmax"`` (the binary point that holds the largest value).
        clip_steps: how many integer bits below the min/max choice the search tries.
        rounds: alternations of weight and activation search per layer.
        drop_softmax: drop a softmax at a model output (the firmware gives logits) instead of refusing.
        ebops_budget: mixed precision: lower widths per layer, greedily by sensitivity (output cosine
            lost per EBOP saved), until the model's EBOPs are at most this (see :mod:`.mixed`).
        max_accuracy_loss: mixed precision by accuracy: lower widths while the accuracy on
            ``(x_val, y_val)`` (integer labels, argmax of the first output) stays within this
            fraction (e.g. 0.01) of the float model's.
        min_bits: no width is lowered below this.
        mixed_samples: mixed precision scores its greedy trials on the first this many calibration
            inputs (``None``: all), then searches the binary points again on all of them at the
            chosen widths and settles the budget there (see :mod:`.mixed`).

    Returns:
        A :class:`PTQResult`; its ``model`` is in calibrated mode, ready for ``to_firmware``.
        ``hgq_fpga.nn.calibration.uncalibrate(result.model)`` hands it to HGQ training, starting
        from the found widths.

    Raises:
        UnmappableLayerError: naming the first layer that has no hgq_fpga equivalent.
    """
    weight_bits, act_bits, xs = _prepared(model, x_calib, weight_bits, act_bits, granularity, search,
                                          clip_steps, rounds)
    if ebops_budget is None and max_accuracy_loss is None:
        mapped = map_model(model, granularity, drop_softmax)
        return finish(run_search(mapped, xs, weight_bits, act_bits, search, clip_steps, rounds), [])
    [(state, lowered)] = search_mixed(lambda: map_model(model, granularity, drop_softmax), xs,
                                      weight_bits, act_bits, search, clip_steps, rounds, mixed_samples,
                                      [ebops_budget], x_val, y_val, max_accuracy_loss, min_bits, metric)
    return finish(state, lowered)

"""The checks of every argument of :func:`~hgq_fpga.nn.ptq.quantize_float` and
:func:`~hgq_fpga.nn.ptq.quantize_float_budgets`, made before any work starts.

A bad argument is refused with an :class:`ArgumentError`: one line that starts with the argument as
the caller wrote it (``act_bits=22: ...``, or ``y_val: ...`` for an array) and says what it must be.
The command line (``hgq-fpga convert --from float``) runs :func:`check_options` before it loads
TensorFlow, and says its flags instead (``--act-bits 22: ...``). This module imports no Keras at
import time, so that the command line can do that cheaply.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from hgq_fpga.fixed import exact_float64, plain
from hgq_fpga.ir.tables import MAX_TABLE_INPUT_WIDTH

#: the widest weight: a float32 Keras variable holds 24 significant bits exactly (weights are stored quantized)
MAX_WEIGHT_BITS = 24
MAX_ACT_BITS = 32
GRANULARITIES = ("per_channel", "per_tensor")
SEARCHES = ("easyquant", "minmax")
#: calibration inputs the greedy mixed-precision trials are scored on (see :mod:`.mixed`)
MIXED_SAMPLES = 500
#: activations that an HActivation computes without a lookup table
_NO_TABLE = ("linear", "relu")


class ArgumentError(ValueError):
    """A bad argument of a PTQ entry point: ``name=value: what it must be`` in one line."""

    def __init__(self, name: str, value: Any, problem: str, show_value: bool = True) -> None:
        self.name, self.value, self.problem = name, value, problem
        head = f"{name}={plain(value)!r}" if show_value else name
        super().__init__(f"{head}: {problem}")


def whole_number(value: Any, name: str, least: int, most: int | None = None) -> int:
    """``value`` as an int in ``least..most``: a Python or numpy integer, not a bool or a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        range_ = f"from {least} to {most}" if most is not None else f"at least {least}"
        raise ArgumentError(name, value, f"must be a whole number {range_}")
    if value < least or (most is not None and value > most):
        raise ArgumentError(name, value, f"must be from {least} to {most}" if most is not None
                            else f"must be at least {least}")
    return int(value)


def ebops_budget_value(value: Any, name: str = "ebops_budget") -> int:
    """An EBOPs budget as an int: any real number of at least 1, rounded down (EBOPs are whole)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number)):
        raise ArgumentError(name, value, "must be a number of EBOPs (at least 1)")
    if not math.isfinite(float(value)) or float(value) < 1:
        raise ArgumentError(name, value, "must be at least 1 (a finite number of EBOPs)")
    return int(math.floor(float(value)))


@dataclass(frozen=True)
class Options:
    """The checked scalar arguments."""

    weight_bits: int
    act_bits: int
    clip_steps: int
    rounds: int
    min_bits: int
    mixed_samples: int | None
    ebops_budget: int | None
    max_accuracy_loss: float | None


def check_options(weight_bits: Any = 8, act_bits: Any = 8, granularity: Any = "per_channel",
                  search: Any = "easyquant", clip_steps: Any = 3, rounds: Any = 2, drop_softmax: Any = False,
                  ebops_budget: Any = None, max_accuracy_loss: Any = None, min_bits: Any = 2,
                  mixed_samples: Any = MIXED_SAMPLES, metric: Any = None) -> Options:
    """Every scalar argument of ``quantize_float`` checked; the first bad one raises :class:`ArgumentError`.

    ``metric=None`` is the default accuracy (a loss is then a fraction from 0 to 1).
    """
    weight_bits = whole_number(weight_bits, "weight_bits", 2, MAX_WEIGHT_BITS)
    act_bits = whole_number(act_bits, "act_bits", 2, MAX_ACT_BITS)
    if granularity not in GRANULARITIES:
        raise ArgumentError("granularity", granularity, f"must be one of {', '.join(map(repr, GRANULARITIES))}")
    if search not in SEARCHES:
        raise ArgumentError("search", search, f"must be one of {', '.join(map(repr, SEARCHES))}")
    clip_steps = whole_number(clip_steps, "clip_steps", 0)
    rounds = whole_number(rounds, "rounds", 1)
    if not isinstance(drop_softmax, (bool, np.bool_)):
        raise ArgumentError("drop_softmax", drop_softmax, "must be True or False")
    budget = None if ebops_budget is None else ebops_budget_value(ebops_budget)
    min_bits = whole_number(min_bits, "min_bits", 1)
    if min_bits > max(weight_bits, act_bits):
        raise ArgumentError("min_bits", min_bits, f"is above weight_bits={weight_bits} and act_bits={act_bits}: "
                            "no width could be lowered")
    if mixed_samples is not None:
        mixed_samples = whole_number(mixed_samples, "mixed_samples", 1)
    if max_accuracy_loss is not None:
        loss, most = max_accuracy_loss, (1.0 if metric is None else math.inf)
        if (isinstance(loss, (bool, np.bool_)) or not isinstance(loss, (numbers.Real, np.number))
                or not 0 <= float(loss) <= most):
            raise ArgumentError("max_accuracy_loss", loss, "must be a fraction from 0 to 1 (e.g. 0.01)"
                                if metric is None else "must be a finite number of at least 0")
        max_accuracy_loss = float(loss)
    if metric is not None and not callable(metric):
        raise ArgumentError("metric", metric, "must be callable: metric(y_true, y_pred) -> float")
    return Options(weight_bits, act_bits, clip_steps, rounds, min_bits, mixed_samples, budget, max_accuracy_loss)


def check_budgets(budgets: Any) -> list[int]:
    """The EBOPs budgets of ``quantize_float_budgets``: a non-empty list of numbers of at least 1."""
    if isinstance(budgets, (str, bytes)) or not hasattr(budgets, "__iter__"):
        raise ArgumentError("budgets", budgets, "must be a list of EBOPs budgets")
    budgets = list(budgets)
    if not budgets:
        raise ArgumentError("budgets", budgets, "needs at least one EBOPs budget")
    for b in budgets:
        if b is None:
            raise ArgumentError("budgets", budgets, "holds None; every entry must be a number of EBOPs")
        try:
            ebops_budget_value(b)
        except ArgumentError as err:
            raise ArgumentError("budgets", budgets, f"entry {plain(b)!r} {err.problem}") from None
    return [ebops_budget_value(b) for b in budgets]


def check_model(model: Any) -> None:
    """Refuse anything but a Keras 3 model with a layer graph (a TypeError or UnmappableLayerError)."""
    import keras

    from hgq_fpga.nn.graph import functional_graph
    from hgq_fpga.nn.ptq.mapping import UnmappableLayerError

    if not isinstance(model, keras.Model):
        package = type(model).__module__.split(".")[0]
        what = type(model).__name__ + ("" if package in ("builtins", "keras") else f" from {package}")
        raise TypeError(f"model: must be a Keras 3 model (keras.Model), got a {what}; load a saved model "
                        "with keras.models.load_model(path)")
    try:
        graph = functional_graph(model)
        graph.inputs  # noqa: B018 - a Sequential model without an Input has none
    except (ValueError, AttributeError):
        raise UnmappableLayerError(f"model {model.name!r} has no layer graph: build it as a Sequential model "
                                   "that starts with keras.Input(shape) or as a functional model") from None
    for t in graph.inputs:
        shape = tuple(t.shape[1:])
        if any(s is None for s in shape):
            raise UnmappableLayerError(
                f"model input {t._keras_history.operation.name!r} has shape {shape}: a dimension that is not "
                "fixed (None), but the firmware needs fixed shapes; build the model with a fixed shape (e.g. "
                f"keras.Input({tuple(16 if s is None else s for s in shape)})) and copy the weights with "
                "set_weights")
    calls: dict[int, int] = {}
    for nodes in graph._nodes_by_depth.values():
        for node in nodes:
            calls[id(node.operation)] = calls.get(id(node.operation), 0) + 1
    for layer in graph.layers:
        if calls.get(id(layer), 0) > 1:
            raise UnmappableLayerError(f"layer {layer.name!r} is called {calls[id(layer)]} times in the model; "
                                       "PTQ maps each layer once: give every call its own layer (copy the "
                                       "weights with set_weights)")


def model_arrays(model, x: Any, name: str) -> list[np.ndarray]:
    """``x`` (calibration or held-out inputs) as float32 arrays, one per model input, checked."""
    arrays = list(x) if isinstance(x, (list, tuple)) else [x]
    if len(arrays) != len(model.inputs):
        raise ArgumentError(name, None, f"model {model.name!r} has {len(model.inputs)} input(s), got "
                            f"{len(arrays)} array(s)", show_value=False)
    out = []
    for a, t in zip(arrays, model.inputs):
        try:
            a = exact_float64(a, name)
        except ValueError as err:
            raise ArgumentError(name, None, str(err).removeprefix(f"{name} "), show_value=False) from None
        want = tuple(t.shape[1:])
        if a.ndim == 0 or a.shape[0] == 0:
            raise ArgumentError(name, None, "needs at least one sample", show_value=False)
        if tuple(a.shape[1:]) != want:
            raise ArgumentError(name, None, f"has shape {a.shape}; the model input "
                                f"{t._keras_history.operation.name!r} expects "
                                f"(samples, {', '.join(str(s) for s in want)})", show_value=False)
        if not np.all(np.isfinite(a)):
            raise ArgumentError(name, None, "contains NaN or inf", show_value=False)
        out.append(a.astype(np.float32))
    if len({len(a) for a in out}) > 1:
        raise ArgumentError(name, None, f"the inputs have different sample counts: {[len(a) for a in out]}",
                            show_value=False)
    return out


def held_out(model, x_val: Any, y_val: Any, max_accuracy_loss: float | None,
             labels: bool) -> tuple[list[np.ndarray] | None, np.ndarray | None]:
    """The held-out split of ``max_accuracy_loss``, checked: inputs as :func:`model_arrays`; with the
    default accuracy metric (``labels``) ``y_val`` must be one integer class label per sample."""
    if max_accuracy_loss is None:
        if x_val is not None or y_val is not None:
            raise ArgumentError("x_val" if x_val is not None else "y_val", None, "is used only with "
                                "max_accuracy_loss (mixed precision by accuracy); pass both or neither",
                                show_value=False)
        return None, None
    if x_val is None or y_val is None:
        raise ArgumentError("max_accuracy_loss", max_accuracy_loss, "needs a held-out split: x_val and y_val")
    xs = model_arrays(model, x_val, "x_val")
    y = np.asarray(y_val)
    if len(y) != len(xs[0]):
        raise ArgumentError("y_val", None, f"has {len(y)} labels for {len(xs[0])} samples of x_val",
                            show_value=False)
    if not labels:
        return xs, y
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ArgumentError("y_val", None, f"has shape {y.shape}; the accuracy needs one integer class label per "
                            "sample: for one-hot rows pass y_val.argmax(axis=1)", show_value=False)
    try:
        values = exact_float64(y, "y_val")
    except ValueError as err:
        raise ArgumentError("y_val", None, str(err).removeprefix("y_val "), show_value=False) from None
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0)
    if bad.any():
        j = int(np.argmax(bad))
        raise ArgumentError("y_val", None, f"must hold integer class labels 0, 1, 2, ...; sample {j} holds "
                            f"{plain(values[j])!r}", show_value=False)
    classes = model.outputs[0].shape[-1]
    if classes is not None and values.max(initial=0) >= classes:
        j = int(np.argmax(values >= classes))
        raise ArgumentError("y_val", None, f"sample {j} has label {int(values[j])}, but the model's first output "
                            f"has {classes} classes (labels 0 to {classes - 1})", show_value=False)
    return xs, values.astype(np.int64)


def check_tables(steps: list, act_bits: int) -> None:
    """Refuse an ``act_bits`` wider than a lookup table's input where an activation becomes a table."""
    if act_bits <= MAX_TABLE_INPUT_WIDTH:
        return
    from hgq_fpga.nn.layers import HActivation

    for step in steps:
        activation = getattr(step.layer, "activation", None)
        if isinstance(step.layer, HActivation) and activation not in _NO_TABLE:
            raise ArgumentError("act_bits", act_bits, f"layer {step.layer.name!r} applies {activation}, which the "
                                "firmware computes as a lookup table over every code of its input, and a table "
                                f"input has at most {MAX_TABLE_INPUT_WIDTH} bits; use act_bits <= "
                                f"{MAX_TABLE_INPUT_WIDTH}")


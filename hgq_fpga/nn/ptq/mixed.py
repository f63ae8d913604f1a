"""Mixed precision without training: lower widths layer by layer, greedily, by sensitivity.

Starting from a uniform PTQ model, each round tries lowering by one bit every *knob* (the weight
width of a kernel layer, the width of an activation tensor), re-searching that tensor's binary
point at the new width, and measures

    sensitivity = (cosine similarity of the model's outputs lost) / (EBOPs saved)

on the calibration data. The knob with the smallest sensitivity is lowered for good. This stops
when the EBOPs budget is met, or, with a held-out split, before the accuracy loss against the
float model would exceed ``max_accuracy_loss``. Knobs that save no EBOPs (activations that feed
no multiplication) are left alone.

Every trial re-searches one tensor and recomputes only the steps after it, but on a CNN even that
is a convolution pass over the calibration set per knob per round. :func:`search_mixed` therefore
scores the greedy trials on the first ``samples`` calibration inputs only, then searches every
binary point again at the widths it chose on *all* calibration inputs, and settles on those: more
lowering if the EBOPs ended above the budget, or the last steps undone if the held-out accuracy
ended below the allowed loss. Which widths are chosen is the only thing the subset decides; the
returned model's types come from the full calibration set (and its firmware is exact regardless).
"""

from __future__ import annotations

import copy
import warnings
from typing import Callable, Sequence

import numpy as np
from keras import ops

from hgq_fpga.nn.ptq.arguments import ArgumentError
from hgq_fpga.nn.ptq.mapping import Mapped
from hgq_fpga.nn.ptq.search import State, apply_choice, run_search


def _knobs(state: State, min_bits: int) -> list[tuple[int, str]]:
    out = []
    for index, choice in enumerate(state.choices):
        if choice.wbits is not None and choice.wbits > min_bits:
            out.append((index, "wbits"))
        if choice.abits is not None and choice.abits > min_bits:
            out.append((index, "abits"))
    return out


def _lower(state: State, index: int, which: str, by: int = 1) -> None:
    choice = state.choices[index]
    setattr(choice, which, getattr(choice, which) - by)
    state.redo(index)
    state.forward(index)


def _snapshot(state: State, index: int):
    return copy.deepcopy(state.choices[index]), dict(state.quant)


def _restore(state: State, index: int, snap) -> None:
    choice, quant = snap
    state.choices[index] = choice
    state.quant = quant
    apply_choice(state.mapped.steps[index], choice)


def _try(state: State, index: int, which: str, ebops: int, cos: float) -> float | None:
    """Sensitivity of lowering one knob (None when it saves no EBOPs); the state is left unchanged."""
    snap = _snapshot(state, index)
    try:
        _lower(state, index, which)
        saved = ebops - state.ebops()
        loss = cos - state.output_cosine()
    finally:
        _restore(state, index, snap)
    return loss / saved if saved > 0 else None


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of samples whose argmax over the last axis equals the integer label."""
    return float(np.mean(np.argmax(y_pred, axis=-1) == np.asarray(y_true).reshape(-1)))


def _predict(model, x) -> np.ndarray:
    """The first output, by eager inference (a traced ``predict`` would keep lookup tables of earlier
    widths); ``x`` an array or a list of one per model input."""
    xs = [ops.convert_to_tensor(np.asarray(a, np.float32)) for a in (x if isinstance(x, (list, tuple)) else [x])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = model(xs if len(xs) > 1 else xs[0], training=False)
    y = y[0] if isinstance(y, (list, tuple)) else y
    return np.asarray(ops.convert_to_numpy(y), np.float64)


def _check(ebops_budget, x_val, y_val, max_accuracy_loss, min_bits) -> None:
    if ebops_budget is None and max_accuracy_loss is None:
        raise ValueError("mixed precision needs ebops_budget or max_accuracy_loss (with x_val, y_val)")
    if max_accuracy_loss is not None and (x_val is None or y_val is None):
        raise ValueError("max_accuracy_loss needs a held-out split: x_val and y_val")
    if int(min_bits) < 1:
        raise ValueError(f"min_bits must be at least 1, got {min_bits}")


def _entry(state: State, index: int, which: str) -> dict:
    return {"step": index, "layer": state.mapped.steps[index].layer.name, "knob": which,
            "bits": getattr(state.choices[index], which), "ebops": state.ebops(),
            "output_cosine": state.output_cosine(), "samples": len(state.ref[state.mapped.inputs[0]])}


def widths(state: State) -> list[tuple[int | None, int | None]]:
    """Every step's ``(wbits, abits)``."""
    return [(c.wbits, c.abits) for c in state.choices]


def lower_bits(state: State, ebops_budget: int | None = None, x_val=None, y_val=None,
               max_accuracy_loss: float | None = None, min_bits: int = 2,
               metric: Callable[[np.ndarray, np.ndarray], float] = accuracy,
               marks: dict | None = None) -> list[dict]:
    """Lower widths greedily (see the module doc); returns the log of accepted steps.

    ``marks`` (budget -> None) receives, for each budget, the widths and the log at the first step
    whose EBOPs are within it: the greedy choices do not depend on the budget, so one descent to
    the smallest budget gives every larger one on the way.

    Raises ValueError if the budget cannot be met with every knob at ``min_bits``.
    """
    _check(ebops_budget, x_val, y_val, max_accuracy_loss, min_bits)
    reference = None
    if max_accuracy_loss is not None:
        reference = metric(y_val, _predict(state.mapped.source, x_val))
    log: list[dict] = []
    ebops, cos = state.ebops(), state.output_cosine()

    def mark() -> None:
        for budget in [b for b, v in (marks or {}).items() if v is None and ebops <= b]:
            marks[budget] = (widths(state), list(log))

    mark()
    while ebops_budget is None or ebops > ebops_budget:
        scored = [(s, k) for k in _knobs(state, min_bits)
                  if (s := _try(state, *k, ebops, cos)) is not None]
        if not scored:
            if ebops_budget is not None:
                raise ArgumentError("ebops_budget", ebops_budget, f"cannot be met: {ebops} EBOPs with every "
                                    f"width at min_bits={min_bits} or saving nothing")
            break
        _, (index, which) = min(scored, key=lambda t: t[0])
        snap = _snapshot(state, index)
        _lower(state, index, which)
        entry = _entry(state, index, which)
        if reference is not None:
            entry["metric"] = metric(y_val, _predict(state.mapped.model, x_val))
            if reference - entry["metric"] > max_accuracy_loss:
                _restore(state, index, snap)
                break
        ebops, cos = entry["ebops"], entry["output_cosine"]
        log.append(entry)
        mark()
    return log


def _undo_while_too_lossy(state: State, log: list[dict], x_val, y_val, max_accuracy_loss: float,
                          metric) -> list[dict]:
    """Give back the last lowered bits, newest first, until the held-out loss is allowed again."""
    reference = metric(y_val, _predict(state.mapped.source, x_val))
    undone = []
    for entry in reversed(log):
        if reference - metric(y_val, _predict(state.mapped.model, x_val)) <= max_accuracy_loss:
            break
        _lower(state, entry["step"], entry["knob"], by=-1)
        undone.append({**_entry(state, entry["step"], entry["knob"]), "undo": True,
                       "metric": metric(y_val, _predict(state.mapped.model, x_val))})
    return undone


def search_mixed(new_mapped: Callable[[], Mapped], xs: list[np.ndarray], weight_bits: int, act_bits: int,
                 search: str, clip_steps: int, rounds: int, samples: int | None = None,
                 budgets: Sequence[int | None] = (None,), x_val=None, y_val=None,
                 max_accuracy_loss: float | None = None, min_bits: int = 2,
                 metric: Callable[[np.ndarray, np.ndarray], float] = accuracy) -> list[tuple[State, list[dict]]]:
    """Mixed precision for each of ``budgets`` (``None``: by ``max_accuracy_loss`` only).

    One greedy descent, scored on the first ``samples`` calibration inputs (all if None), to the
    smallest budget; then per budget a fresh mapped model (``new_mapped()``; the first reuses the
    descent's) searched on all of ``xs`` at the widths the descent had when it first met that
    budget, and settled there (see the module doc). Returns one ``(state, log)`` per budget: the
    log holds the greedy steps up to that budget, then any settling steps on all inputs.
    """
    numeric = [int(b) for b in budgets if b is not None]
    _check(min(numeric) if numeric else None, x_val, y_val, max_accuracy_loss, min_bits)
    if samples is not None and int(samples) < 1:
        raise ValueError(f"mixed_samples must be at least 1, got {samples}")
    if any(b is None for b in budgets) and max_accuracy_loss is None:
        raise ValueError("a budget of None needs max_accuracy_loss (with x_val, y_val)")
    n = len(xs[0])
    part = xs if samples is None or int(samples) >= n else [a[:int(samples)] for a in xs]
    mapped = new_mapped()
    descent = run_search(mapped, part, weight_bits, act_bits, search, clip_steps, rounds)
    marks = {b: None for b in numeric}
    log = lower_bits(descent, min(numeric) if numeric else None, x_val, y_val, max_accuracy_loss,
                     min_bits, metric, marks)
    out = []
    for count, budget in enumerate(budgets):
        # a budget the accuracy limit stopped short of: where the descent ended
        chosen, steps = (widths(descent), log) if budget is None or marks[budget] is None else marks[budget]
        state = run_search(mapped if count == 0 else new_mapped(), xs, weight_bits, act_bits, search,
                           clip_steps, rounds, widths=chosen)
        steps = list(steps)
        if budget is not None and state.ebops() > budget:
            steps += lower_bits(state, budget, min_bits=min_bits)
        if max_accuracy_loss is not None:
            steps += _undo_while_too_lossy(state, steps, x_val, y_val, max_accuracy_loss, metric)
        out.append((state, steps))
    return out

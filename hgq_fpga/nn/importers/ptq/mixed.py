"""Mixed precision without training: lower widths layer by layer, greedily, by sensitivity.

Starting from a uniform PTQ model, each round tries lowering by one bit every *knob* (the weight
width of a kernel layer, the width of an activation tensor), re-searching that tensor's binary
point at the new width, and measures

    sensitivity = (cosine similarity of the model's outputs lost) / (EBOPs saved)

on the calibration data. The knob with the smallest sensitivity is lowered for good. This stops
when the EBOPs budget is met, or, with a held-out split, before the accuracy loss against the
float model would exceed ``max_accuracy_loss``. Knobs that save no EBOPs (activations that feed
no multiplication) are left alone.
"""

from __future__ import annotations

import copy
import warnings
from typing import Callable

import numpy as np
from keras import ops

from .search import State, apply_choice


def _knobs(state: State, min_bits: int) -> list[tuple[int, str]]:
    out = []
    for index, choice in enumerate(state.choices):
        if choice.wbits is not None and choice.wbits > min_bits:
            out.append((index, "wbits"))
        if choice.abits is not None and choice.abits > min_bits:
            out.append((index, "abits"))
    return out


def _lower(state: State, index: int, which: str) -> None:
    choice = state.choices[index]
    setattr(choice, which, getattr(choice, which) - 1)
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
    """Eager inference (a traced ``predict`` would keep lookup tables of earlier widths)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = model(ops.convert_to_tensor(np.asarray(x, np.float32)), training=False)
    y = y[0] if isinstance(y, (list, tuple)) else y
    return np.asarray(ops.convert_to_numpy(y), np.float64)


def lower_bits(state: State, ebops_budget: int | None = None, x_val=None, y_val=None,
               max_accuracy_loss: float | None = None, min_bits: int = 2,
               metric: Callable[[np.ndarray, np.ndarray], float] = accuracy) -> list[dict]:
    """Lower widths greedily (see the module doc); returns the log of accepted steps.

    Raises ValueError if the budget cannot be met with every knob at ``min_bits``.
    """
    if ebops_budget is None and max_accuracy_loss is None:
        raise ValueError("mixed precision needs ebops_budget or max_accuracy_loss (with x_val, y_val)")
    if max_accuracy_loss is not None and (x_val is None or y_val is None):
        raise ValueError("max_accuracy_loss needs a held-out split: x_val and y_val")
    if int(min_bits) < 1:
        raise ValueError(f"min_bits must be at least 1, got {min_bits}")
    reference = None
    if max_accuracy_loss is not None:
        reference = metric(y_val, _predict(state.mapped.source, x_val))
    log: list[dict] = []
    ebops, cos = state.ebops(), state.output_cosine()
    while ebops_budget is None or ebops > ebops_budget:
        scored = [(s, k) for k in _knobs(state, min_bits)
                  if (s := _try(state, *k, ebops, cos)) is not None]
        if not scored:
            if ebops_budget is not None:
                raise ValueError(f"EBOPs budget {ebops_budget} cannot be met: {ebops} EBOPs with every "
                                 f"width at min_bits={min_bits} or saving nothing")
            break
        _, (index, which) = min(scored, key=lambda t: t[0])
        snap = _snapshot(state, index)
        _lower(state, index, which)
        entry = {"layer": state.mapped.steps[index].layer.name, "knob": which,
                 "bits": getattr(state.choices[index], which), "ebops": state.ebops(),
                 "output_cosine": state.output_cosine()}
        if reference is not None:
            entry["metric"] = metric(y_val, _predict(state.mapped.model, x_val))
            if reference - entry["metric"] > max_accuracy_loss:
                _restore(state, index, snap)
                break
        ebops, cos = entry["ebops"], entry["output_cosine"]
        log.append(entry)
    return log

"""EBOPs per II: the training cost of a model that will be built at an initiation interval > 1
(``docs/method.md`` §3, "EBOPs per II").

At II = ``n`` the RTL backend folds each Dense and Conv layer over ``n`` clock cycles, by bit-serial
distributed arithmetic where that is cheapest (:mod:`hgq_fpga.backends.rtl.fold`): every input is
cut into slices of ``k = ⌈w_max / n⌉`` bits (``w_max``: the layer's widest input), and one slice
of every input goes through the layer's constant multipliers per cycle. The logic built is that
of one cycle, so a product of a ``bw``-bit weight and a ``ba``-bit input costs ``bw · min(ba, k)``
instead of ``bw · ba``::

    EBOPs per II = Σ over multiplications  bw · min(ba, k),    k = max(max(ba) / n, 1)

This is the cost :func:`set_ii` puts in the loss (``β ·`` it, in place of ``β · EBOPs``) of the
layers the RTL folds; every other multiplying layer (``HEinsumDense``, products of activations,
the softmax) stays fully parallel at any II and keeps its full EBOPs. Three choices and why:

* ``k = max(ba) / n``, not ``⌈max(ba) / n⌉``: a ceiling is flat, so no gradient would reach the
  input widths through ``k``; the quotient is continuous, equals the RTL's ``k`` whenever ``n``
  divides ``w_max``, and its gradient (through ``max``) goes to the widest inputs, the ones whose
  bits set the slice width of the whole layer. An input narrower than ``k`` is not cut, and its
  bits cost what they cost at II = 1.
* ``k`` is at least 1: a slice is a whole bit, so once ``w_max <= n`` the RTL's slices stay one bit
  wide (only their count falls) and narrowing the widest input saves no logic; the cost then
  charges each live product its weight's bits, and ``k`` passes no gradient.
* ``max``, not a soft maximum: its value is the width the RTL uses (a soft maximum over-counts by
  up to ``τ·log N``), and where several inputs share the widest width the gradient is split among
  them, as all of them must narrow before the slices do.

Left out, as they do not depend on the widths that training moves: the shift-accumulator per
output and the lane multiplexers of the folded layer, and the choice of input-serial folding,
which the RTL makes instead where it needs fewer LUTs (few-bit inputs). At ``n = 1`` the formula
is EBOPs exactly. The logged ``ebops`` and :func:`hgq_fpga.nn.ebops.ebops` stay EBOPs (the exact
count after calibration is unchanged); ``ebops(model, ii=n)`` reports this cost.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.layers.base import hgq_layers


def ebops_per_ii(layer: Any, ba, bw, ii: int):
    """``Σ bw · min(ba, k)``, ``k = max(max(ba) / ii, 1)``, over the multiplications of kernel layer
    ``layer``.

    ``ba``: per-element input widths (no batch axis); ``bw``: per-weight widths, as for EBOPs.
    """
    ba = ops.cast(ba, bw.dtype)
    return layer._ebops(ops.minimum(ba, ops.maximum(ops.max(ba) / ii, 1.0)), bw)


def layer_ebops_per_ii(layer: Any, ii: int) -> float:
    """:func:`ebops_per_ii` of a kernel layer now: from the training-mode widths, or from the fixed
    types once the layer is calibrated (then a sum of integers and ``k``: exact in float64)."""
    return float(ops.convert_to_numpy(ebops_per_ii(layer, *layer.operand_widths(layer.calibrated), ii)))


def foldable_layers(model: keras.Model) -> list:
    """The layers of ``model`` that the RTL folds at II > 1 (HDense, HConv1D/2D and their batch-norm
    variants: those that freeze to IR ``dense`` / ``conv`` ops)."""
    return [layer for layer in hgq_layers(model) if getattr(layer, "foldable", False)]


def _whole(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a whole number of clock cycles >= 1, got {value!r}")
    return int(value)


def layer_iis(model: keras.Model, ii: int | dict[str, int] | None) -> dict[str, int]:
    """``{layer name: cycles}`` for every foldable layer of ``model`` under ``ii`` (1 = parallel).

    ``ii`` reads as ``write_project``'s: a number for every Dense/Conv, or ``{layer name: number}``
    (the other layers parallel), or ``None`` (all parallel). A ValueError names ``ii`` (or
    ``ii[name]``) when a number is not >= 1 or a name is no Dense/Conv of the model.
    """
    names = [layer.name for layer in foldable_layers(model)]
    if ii is None:
        return dict.fromkeys(names, 1)
    if isinstance(ii, dict):
        for key in ii:
            if key not in names:
                raise ValueError(f"ii names layer {key!r}, which is not a Dense or Conv of the model "
                                 f"(those are: {', '.join(names) or 'none'})")
        return {name: _whole(ii[name], f"ii[{name!r}]") if name in ii else 1 for name in names}
    n = _whole(ii, "ii")
    return dict.fromkeys(names, n)


def set_ii(model: keras.Model, ii: int | dict[str, int] | None) -> None:
    """Train ``model`` for the initiation interval ``ii``: the loss of each folded layer becomes
    ``β ·`` :func:`ebops_per_ii` instead of ``β ·`` EBOPs.

    ``ii`` as for ``write_project``: one number for every Dense/Conv, ``{layer name: number}``, or
    ``None`` for today's cost (EBOPs, bit for bit). Call it before ``model.compile`` (a compiled
    training step keeps the cost it was traced with; this also drops a traced one). A training
    setting of the model in memory: ``.keras`` files do not keep it.
    """
    folds = layer_iis(model, ii)
    for layer in foldable_layers(model):
        layer.ii = folds[layer.name]
    if hasattr(model, "train_function"):
        model.train_function = None

"""EBOPs, the FPGA resource estimate of ``docs/method.md`` §3: sum of (input bits × weight bits)."""

from __future__ import annotations

import warnings

import keras
import numpy as np

from hgq_fpga.nn.ii_cost import layer_ebops_per_ii, layer_iis
from hgq_fpga.nn.layers.base import hgq_layers


def ebops(model: keras.Model, per_layer: bool = False,
          ii: int | dict[str, int] | None = None) -> float | dict[str, float]:
    """Current EBOPs of ``model``.

    Before calibration this is the training-mode estimate from the current ``f`` variables and the
    recorded activation ranges (call the model in training mode, or fit, first). After
    :func:`hgq_fpga.calibrate` it is the exact integer count from the fixed types.

    Args:
        per_layer: return ``{layer name: EBOPs}`` for every multiplying layer instead of the total.
        ii: the cost at this initiation interval instead (``write_project``'s ``ii``: a number, or
            ``{layer name: number}``): EBOPs per II (:mod:`hgq_fpga.nn.ii_cost`) of the Dense and Conv
            layers, which the RTL folds, and EBOPs of the others; ``None``: EBOPs.
    """
    folds = {} if ii is None else layer_iis(model, ii)
    layers = hgq_layers(model)
    if not any(layer.calibrated for layer in layers) and _no_range_seen(layers):
        warnings.warn("ebops: the model has not seen data yet (no activation range recorded), so every "
                      "activation counts 0 bits and EBOPs are 0; run model.fit (or calibrate) first",
                      stacklevel=2)
    out: dict[str, float] = {}
    for layer in layers:
        if not layer.has_ebops:
            continue
        if layer.name in folds:
            out[layer.name] = layer_ebops_per_ii(layer, folds[layer.name])
        elif layer.calibrated:
            out[layer.name] = layer.exact_ebops()
        else:
            out[layer.name] = float(np.asarray(keras.ops.convert_to_numpy(layer.compute_ebops())))
    if per_layer:
        return out
    return sum(out.values()) if out else 0.0


def _no_range_seen(layers) -> bool:
    """True when no activation quantizer has recorded a range (the model never ran in training mode)."""
    quantizers = [q for layer in layers for q in layer.quantizers()
                  if q.kind == "activation" and q.built]
    return bool(quantizers) and all(
        not np.any(keras.ops.convert_to_numpy(q.vmin) <= keras.ops.convert_to_numpy(q.vmax))
        for q in quantizers)


def set_beta(model: keras.Model, beta: float) -> None:
    """Set the EBOPs weight ``beta`` of every multiplying HGQ layer of ``model``."""
    for layer in hgq_layers(model):
        if layer.has_ebops:
            layer.beta.assign(float(beta))

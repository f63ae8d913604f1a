"""Post-training ternarization: a trained HGQ model → the same model with FGQ ternary kernels
(``docs/method.md`` §8).
"""

from __future__ import annotations

from typing import Any

import keras

from hgq_fpga.nn.layers.base import hgq_layers
from hgq_fpga.nn.quantizers.hgq import serialize_quantizer
from hgq_fpga.nn.quantizers.ternary import TernaryQuantizer


def ternarize(model: keras.Model, group_size: int, **options: Any) -> keras.Model:
    """A new model whose kernel quantizers are :class:`TernaryQuantizer` (``group_size``, ``options``).

    Every other variable (float kernels, biases, their quantizers, activations, batch-norm
    statistics) is copied; the new model is uncalibrated: run :func:`hgq_fpga.calibrate` on it
    (post-training), or fine-tune it first (the ternary quantizer is straight-through).
    ``model`` is left unchanged.
    """
    config = model.get_config()
    changed = 0
    for layer in config["layers"]:
        if layer["config"].get("kernel_quantizer") is not None:
            q = TernaryQuantizer(group_size=group_size, name="kernel_quantizer", **options)
            layer["config"]["kernel_quantizer"] = serialize_quantizer(q)
            changed += 1
    if not changed:
        raise ValueError("ternarize: the model has no kernel layer (HDense, HConv1D/2D or a batch-norm variant)")
    new = type(model).from_config(config)
    old_vars = {v.path: v for v in model.variables}
    for v in new.variables:
        source = old_vars.get(v.path)
        if source is not None and "kernel_quantizer" not in v.path and tuple(source.shape) == tuple(v.shape):
            v.assign(source)
    for layer in hgq_layers(new):
        layer.uncalibrate()
    return new

"""Hand an imported model to HGQ training: its fixed bit widths become trainable starting points.

An imported model (:func:`~hgq_fpga.nn.importers.from_qkeras`) is made of
:class:`~hgq_fpga.nn.quantizers.fixed.FixedQuantizer` types, which never train. :func:`retrainable`
returns the same architecture with trainable :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer`s,
the imported weights, and each quantizer's fractional bits ``f`` started at the imported ones, so
``model.fit`` with :class:`~hgq_fpga.nn.callbacks.BetaScheduler` fine-tunes from QKeras's widths
and trades bits for EBOPs (docs/method.md §3). Rounding becomes HGQ's (``RND_CONV`` trains as
``RND``, ``SAT_SYM`` as ``SAT``), so the result is no longer QKeras-exact; calibrate it before
converting, as any HGQ model.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from hgq_fpga.nn.layers import CodeTable, HActivation
from hgq_fpga.nn.layers.base import hgq_layers
from hgq_fpga.nn.quantizers.fixed import FixedQuantizer

_ROUND = {"RND_CONV": "RND"}
_OVERFLOW = {"SAT_SYM": "SAT"}


def _trainable_config(config: Any) -> Any:
    """A layer config with every FixedQuantizer config replaced by an HQuantizer's."""
    if isinstance(config, dict):
        if config.get("class_name") == "FixedQuantizer":
            inner = config["config"]
            return {"kind": inner.get("kind", "activation"),
                    "round_mode": _ROUND.get(inner["round_mode"], inner["round_mode"]),
                    "overflow_mode": _OVERFLOW.get(inner["overflow_mode"], inner["overflow_mode"]),
                    "name": inner.get("name")}
        return {k: _trainable_config(v) for k, v in config.items()}
    return config


def retrainable(model: keras.Model) -> keras.Model:
    """A trainable copy of an imported model (weights and widths as imported; see the module docstring).

    Raises:
        ValueError: the model has a table activation (``quantized_tanh``, ...): a table of QKeras's
            outputs has no gradient to train through.
    """
    for layer in hgq_layers(model):
        if isinstance(layer, HActivation) and isinstance(layer.fn, CodeTable):
            raise ValueError(f"layer {layer.name!r} is a table of QKeras's {layer.fn.__name__}, which has no "
                             "gradient; rebuild that activation with HActivation('tanh'/'sigmoid') to retrain")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config(_trainable_config(layer.get_config()))

    new = keras.models.clone_model(model, clone_function=clone)
    for old_layer, new_layer in zip(model.layers, new.layers):
        for attr in ("kernel", "bias"):
            if getattr(old_layer, attr, None) is not None and getattr(new_layer, attr, None) is not None:
                getattr(new_layer, attr).assign(getattr(old_layer, attr))
        old_qs = old_layer.quantizers() if hasattr(old_layer, "quantizers") else []
        new_qs = new_layer.quantizers() if hasattr(new_layer, "quantizers") else []
        for old_q, new_q in zip(old_qs, new_qs):
            if isinstance(old_q, FixedQuantizer):
                f = np.clip(old_q.fixed_types()[2], new_q.f_min, new_q.f_max)
                new_q.f.assign(np.broadcast_to(f, new_q.f.shape).astype(np.float32))
    return new

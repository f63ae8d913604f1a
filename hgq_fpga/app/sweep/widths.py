"""Initial bit widths of a freshly built HGQ model (the spec's ``init_widths``).

HGQ training moves every width from where it starts, and the start matters for short ramps
(docs/method.md). A sweep can therefore vary it without touching the model code:

* ``weight_bits``: every kernel starts with about this many significant bits per weight (the
  quantizer's own ``init_bits`` rule, applied to the kernel's current values);
* ``weight_f``: every kernel and bias starts with this many fractional bits per weight (the
  default start's kind, :mod:`hgq_fpga.nn.quantizers.starts`);
* ``activation_f``: every activation quantizer starts with this many fractional bits.

Without them a model starts where its layers put it (the library's start, or the model's own options).
"""

from __future__ import annotations

import keras
import numpy as np

from hgq_fpga.nn.layers import hgq_layers


def set_initial_widths(model: keras.Model, weight_bits: int | None = None,
                       activation_f: float | None = None, weight_f: float | None = None) -> int:
    """Set the starting widths of every HGQ quantizer of ``model``; return how many were set.

    Raises:
        ValueError: if a width is asked for and the model has no quantizer of that kind.
    """
    n_weight = n_act = 0
    for layer in hgq_layers(model):
        kq, kernel = getattr(layer, "kq", None), getattr(layer, "kernel", None)
        if weight_bits is not None and kq is not None and kernel is not None:
            kq.init_bits = int(weight_bits)
            kq.init_from_values(kernel)
            n_weight += 1
        if weight_f is not None and kq is not None and kernel is not None:
            for q in (kq, getattr(layer, "bq", None)):
                if q is not None:
                    q.init_bits = None
                    q.f.assign(np.full(q.f.shape, float(np.clip(weight_f, q.f_min, q.f_max)), np.float32))
            n_weight += 1
        if activation_f is not None:
            for q in layer.quantizers():
                if q.kind == "activation":
                    f = float(np.clip(activation_f, q.f_min, q.f_max))
                    q.f.assign(np.full(q.f.shape, f, np.float32))
                    n_act += 1
    for key, value in (("weight_bits", weight_bits), ("weight_f", weight_f)):
        if value is not None and n_weight == 0:
            raise ValueError(f"init_widths.{key}: model {model.name!r} has no HGQ kernel quantizer")
    if activation_f is not None and n_act == 0:
        raise ValueError(f"init_widths.activation_f: model {model.name!r} has no HGQ activation quantizer")
    return n_weight + n_act

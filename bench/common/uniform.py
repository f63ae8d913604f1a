"""Uniform quantization with hgq_fpga's own quantizer: the baseline of the resource study.

"Uniform B bits" means every weight tensor and every activation tensor is a ``B``-bit fixed-point
type with one binary point per tensor, as a hand-tuned QKeras/hls4ml model would have. It is
realised with the same :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` that HGQ trains, so both sides of
the comparison share rounding, overflow, calibration and the exact EBOPs counter:

* every quantizer has ``granularity="per_tensor"``: one ``f`` for the whole tensor;
* ``f`` is made non-trainable (:func:`freeze_f`) and ``beta`` stays 0, so neither the task loss nor
  the EBOPs term can change a width;
* :class:`UniformBits` sets ``f`` before every epoch so that the tensor's largest element has
  exactly ``B`` bits: ``f = B - 1 - i_max`` for a signed weight tensor, ``f = B - k - i_max`` for
  an activation tensor (``k``, ``i_max`` from the range seen in the previous epoch).

Calibration then fixes per-element types as for HGQ, and EBOPs count the bits each element really
uses (a small weight needs fewer than ``B``). The baseline is therefore measured with the same
counter as HGQ and is, if anything, flattered by it.
"""

from __future__ import annotations

import sys

import keras
import numpy as np

from hgq_fpga.nn.layers import hgq_layers
from hgq_fpga.nn.quantizers.hgq import HQuantizer


def freeze_f(model: keras.Model) -> None:
    """Make every quantizer's ``f`` variable non-trainable (the optimiser then never touches it)."""
    for layer in hgq_layers(model):
        for q in layer.quantizers():
            q.f.trainable = False


def _int_bits(magnitude: float) -> int:
    """``floor(log2 m) + 1``: the integer bits (no sign) that hold ``m > 0``; the quantizer's rule."""
    return int(np.floor(np.log2(magnitude))) + 1


def _weight_f(values: np.ndarray, bits: int) -> float | None:
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    if peak <= 0:
        return None
    return float(bits - 1 - _int_bits(peak))


def _activation_f(q: HQuantizer, bits: int) -> float | None:
    lo = keras.ops.convert_to_numpy(q.vmin).astype(np.float64)
    hi = keras.ops.convert_to_numpy(q.vmax).astype(np.float64)
    seen = lo <= hi
    if not np.any(seen):
        return None
    lo_t, hi_t = float(np.min(lo[seen])), float(np.max(hi[seen]))
    peak = max(hi_t, -lo_t)
    if peak <= 0:
        return None
    k = 1 if lo_t < 0 else 0
    return float(bits - k - _int_bits(peak))


def _weight_tensors(layer) -> list[tuple[HQuantizer, np.ndarray]]:
    pairs = []
    kq, bq = getattr(layer, "kq", None), getattr(layer, "bq", None)
    if kq is not None:
        pairs.append((kq, keras.ops.convert_to_numpy(layer.kernel)))
    if bq is not None:
        pairs.append((bq, keras.ops.convert_to_numpy(layer.bias)))
    return pairs


def set_uniform_bits(model: keras.Model, bits: int) -> None:
    """Set every quantizer's per-tensor ``f`` so that each tensor's widest element has ``bits`` bits.

    Weights use their current values; activations use the range recorded so far (a tensor whose
    range is still unknown keeps its ``f``).
    """
    for layer in hgq_layers(model):
        targets = [(q, _weight_f(w, bits)) for q, w in _weight_tensors(layer)]
        oq = getattr(layer, "oq", None)
        if oq is not None:
            targets.append((oq, _activation_f(oq, bits)))
        for q, f in targets:
            if f is not None:
                f = float(np.clip(f, q.f_min, q.f_max))
                q.f.assign(np.full(q.f.shape, f, np.float32))


def record_ranges(model: keras.Model, x: np.ndarray) -> None:
    """Run ``x`` through ``model`` (inference) while recording every activation range."""
    layers = hgq_layers(model)
    for layer in layers:
        layer.set_recording(True)
    try:
        model(x, training=False)
    finally:
        for layer in layers:
            layer.set_recording(False)


class UniformBits(keras.callbacks.Callback):
    """Hold every tensor of a :func:`freeze_f`-ed model at ``bits`` total bits during ``fit``.

    Args:
        bits: the uniform width ``B``.
        x_probe: a batch used before the first epoch to learn the activation ranges.
    """

    def __init__(self, bits: int, x_probe: np.ndarray) -> None:
        super().__init__()
        if bits < 1:
            raise ValueError(f"uniform width must be >= 1 bit, got {bits}")
        self.bits = int(bits)
        self.x_probe = x_probe

    def on_train_begin(self, logs=None) -> None:
        set_uniform_bits(self.model, self.bits)
        record_ranges(self.model, self.x_probe)
        set_uniform_bits(self.model, self.bits)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        set_uniform_bits(self.model, self.bits)

    def on_train_end(self, logs=None) -> None:
        set_uniform_bits(self.model, self.bits)


class KeepBestEpoch(keras.callbacks.EarlyStopping):
    """Keras's ``EarlyStopping`` that never stops: it only restores, when ``fit`` ends, the
    weights of the epoch with the best ``monitor`` value (``best_epoch``, counted from 0).

    The uniform baseline is selected on validation accuracy this way, as HGQ's Pareto checkpoints
    are: a baseline taken at its last epoch would be penalised for over-fitting that a user
    would never ship.  A missing ``monitor`` is an error here, not Keras's warning.
    """

    def __init__(self, monitor: str = "val_accuracy") -> None:
        super().__init__(monitor=monitor, mode="max", patience=sys.maxsize, restore_best_weights=True)

    def get_monitor_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise ValueError(f"KeepBestEpoch: fit reported no {self.monitor!r}; pass validation_data")
        return value

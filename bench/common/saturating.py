"""The strong uniform baseline, as QKeras users train it: ``quantized_bits(bits, integer)`` with
saturation.

Every weight and activation tensor is a ``B``-bit fixed-point type with one binary point per tensor
(as in :mod:`bench.common.uniform`), but unlike there the integer bits are *fixed* after a warm-up and
values are *clipped* to the type's range during training, so ranges cannot grow and steps cannot
coarsen while the model trains:

* :class:`SaturatingQuantizer` is an :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` whose training-mode
  quantization first clips its input to ``[lo, hi]`` (non-trainable per-tensor bounds;
  ``+-inf`` = no clipping). The clip passes the gradient inside the range and none outside, as a
  saturating quantizer does. Deployment (after calibration) is the parent's, unchanged.
* :class:`SaturatingUniformBits` runs ``warmup_epochs`` epochs like
  :class:`bench.common.uniform.UniformBits` (ranges free, ``f`` following them), then fixes every
  activation tensor's ``f`` and its bounds ``[-2^(B-1-f), 2^(B-1-f) - 2^-f]`` (signed) or
  ``[0, 2^(B-f) - 2^-f]`` (unsigned) for the rest of training. Weights (kernel, bias) keep
  following their largest value each epoch, as QKeras's power-of-two auto scale does, and saturate
  at the matching signed bounds; at the end the float weights are clipped to those bounds, so the
  calibrated weights are the ones trained.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.layers import hgq_layers
from hgq_fpga.nn.quantizers.hgq import HQuantizer

from .uniform import _weight_f, record_ranges, set_uniform_bits


@keras.saving.register_keras_serializable(package="hgq_bench")
class SaturatingQuantizer(HQuantizer):
    """An :class:`HQuantizer` that clips to ``[lo, hi]`` before its training-mode rounding."""

    def build(self, shape) -> None:
        if self.tensor_shape is not None:
            return
        super().build(shape)
        self.built = False  # let add_weight below run in the layer's build
        self.lo = self.add_weight(name="lo", shape=(), initializer=keras.initializers.Constant(-np.inf),
                                  trainable=False, dtype="float32")
        self.hi = self.add_weight(name="hi", shape=(), initializer=keras.initializers.Constant(np.inf),
                                  trainable=False, dtype="float32")
        self.built = True

    def fake_quantize(self, x, training: bool = False):
        return super().fake_quantize(ops.clip(x, self.lo, self.hi), training)

    def set_bounds(self, bits: int, signed: bool) -> tuple[float, float]:
        """Fix the bounds of a ``bits``-bit type with this quantizer's (per-tensor) ``f``."""
        f = float(np.round(np.clip(keras.ops.convert_to_numpy(self.f).max(), self.f_min, self.f_max)))
        step = 2.0 ** -f
        if signed:
            lo, hi = -(2.0 ** (bits - 1 - f)), 2.0 ** (bits - 1 - f) - step
        else:
            lo, hi = 0.0, 2.0 ** (bits - f) - step
        self.lo.assign(lo)
        self.hi.assign(hi)
        return lo, hi


def saturating_quantizers() -> dict[str, HQuantizer | dict]:
    """Fresh per-tensor saturating quantizers for one layer (``kernel_quantizer`` etc. arguments),
    with the rounding and overflow of :mod:`bench.common.models`."""
    return {"kernel_quantizer": SaturatingQuantizer(kind="weight", granularity="per_tensor", round_mode="RND"),
            "bias_quantizer": SaturatingQuantizer(kind="weight", granularity="per_tensor", round_mode="RND"),
            "output_quantizer": SaturatingQuantizer(kind="activation", granularity="per_tensor",
                                                    round_mode="RND", overflow_mode="SAT")}


def _weights(layer) -> list[tuple[HQuantizer, keras.Variable]]:
    pairs = []
    for qname, wname in (("kq", "kernel"), ("bq", "bias")):
        q, w = getattr(layer, qname, None), getattr(layer, wname, None)
        if q is not None and w is not None:
            pairs.append((q, w))
    return pairs


class SaturatingUniformBits(keras.callbacks.Callback):
    """Hold every tensor at ``bits`` bits; after ``warmup_epochs`` fix the integer bits and saturate.

    Args:
        bits: the uniform width ``B``.
        x_probe: a batch that gives the activation ranges before the first epoch.
        warmup_epochs: epochs with free ranges before the integer bits are fixed (0: fixed from
            ``x_probe``'s ranges before training).
    """

    def __init__(self, bits: int, x_probe: np.ndarray, warmup_epochs: int = 1) -> None:
        super().__init__()
        if bits < 2:
            raise ValueError(f"a saturating uniform width needs >= 2 bits, got {bits}")
        if warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be >= 0, got {warmup_epochs}")
        self.bits, self.x_probe, self.warmup_epochs = int(bits), x_probe, int(warmup_epochs)
        self.fixed = False

    def _quantizers(self) -> list[SaturatingQuantizer]:
        qs = [q for layer in hgq_layers(self.model) for q in layer.quantizers()]
        bad = [q.name for q in qs if not isinstance(q, SaturatingQuantizer)]
        if bad:
            raise TypeError(f"SaturatingUniformBits needs SaturatingQuantizer everywhere; {bad[0]} is not one")
        return qs

    def _fix(self) -> None:
        set_uniform_bits(self.model, self.bits)
        for q in self._quantizers():
            if q.kind == "activation":
                lo = keras.ops.convert_to_numpy(q.vmin)
                seen = lo <= keras.ops.convert_to_numpy(q.vmax)
                q.set_bounds(self.bits, signed=bool(np.any(seen) and np.min(lo[seen]) < 0))
        self._follow_weights()
        self.fixed = True

    def _follow_weights(self) -> None:
        """Weights' integer bits follow their largest value (a zero-initialised bias would
        otherwise be stuck at its warm-up range), and they saturate at the matching bounds."""
        for layer in hgq_layers(self.model):
            for q, w in _weights(layer):
                f = _weight_f(keras.ops.convert_to_numpy(w), self.bits)
                if f is not None:
                    q.f.assign(np.full(q.f.shape, np.clip(f, q.f_min, q.f_max), np.float32))
                q.set_bounds(self.bits, signed=True)

    def on_train_begin(self, logs=None) -> None:
        self._quantizers()
        set_uniform_bits(self.model, self.bits)
        record_ranges(self.model, self.x_probe)
        set_uniform_bits(self.model, self.bits)
        if self.warmup_epochs == 0:
            self._fix()

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if self.fixed:
            self._follow_weights()
        else:
            set_uniform_bits(self.model, self.bits)
            if epoch >= self.warmup_epochs:
                self._fix()

    def on_train_end(self, logs=None) -> None:
        for layer in hgq_layers(self.model):
            for q, w in _weights(layer):
                w.assign(ops.clip(w, q.lo, q.hi))

"""The adder count as a training cost, alongside EBOPs (``docs/method.md`` §8, "Adder cost").

A kernel layer built with ``adder_gamma=γ`` (a float; ``None``, the default, builds nothing and
costs nothing) adds ``γ · A`` to the loss in training, where ``A`` is a surrogate of the exact
adder count of :mod:`hgq_fpga.ir.adders`. That count is, per Dense/Conv, with ``d(m)`` the
nonzero digits of the weight code ``m`` in canonical signed-digit (CSD) form, a product *live*
when its weight code and its input width are nonzero, and ``t`` the live terms of an output
(plus one for a nonzero bias)::

    adders = Σ_live (d(m) - 1) + Σ_outputs max(t - 1, 0)
           = Σ_products live_in · d(m) + Σ_outputs [bias ≠ 0] - Σ_outputs [t > 0]

(the two ``- 1`` per live product and ``+ 1`` per tree input cancel). So every nonzero signed
digit of a weight costs one adder per position where its input is live, and the last two sums
hardly move. The surrogate keeps exactly this **value**: ``A`` equals the exact count of the
current training-mode codes (the firmware's count once the codes are the calibrated ones), and
its two last sums carry no gradient. Only ``d(m)`` needs a gradient, and it is a step function of
both the weight ``w`` and its fractional bits ``F``. Two straight-through estimates, each the
slope of a move that removes one digit:

* **to the weight** ``∂d/∂w = 2**F / δ``, where ``δ = ±2**t`` is the lowest nonzero CSD digit of
  ``m``. Deleting that digit gives the code ``m - δ``, which has exactly ``d - 1`` digits and lies
  ``|δ|`` codes away: the slope is the digit count interpolated linearly between ``m`` and
  ``m - δ``. A one-digit weight is pulled toward 0 (pruning saves its tree adder), a weight like
  ``7 = 8 - 1`` toward 8. The pull is strongest on digits near the LSB, which cost as much as any
  other digit but are the cheapest to move.
* **to the fractional bits** ``∂d/∂f = d(m_F) - d(m_{F-1})``, where ``m_{F-1}`` is the code the
  same quantizer gives one bit coarser: the digits actually saved by dropping the LSB, an exact
  finite difference in place of HGQ's error surrogate (§2); it flows through the same
  straight-through ``F = round(f)``.

Input liveness is a constant here (its gradient is the EBOPs cost's business). A quantizer
whose ``f`` is not trainable (ternary) gets the weight term only. Codes are read as int32 and
clipped below ``2**29`` (float32 training codes are far smaller).
"""

from __future__ import annotations

import keras
from keras import ops

from hgq_fpga.nn.layers.base import hgq_layers

_CLIP = 2 ** 29 - 1


def csd_digits(m):
    """Nonzero CSD digits of each integer-valued ``m`` (float32 tensor, no gradient).

    ``popcount((3a ^ a) >> 1)`` for ``a = |m|``, as :func:`hgq_fpga.ir.adders.csd_digits`.
    """
    a = ops.cast(ops.minimum(ops.abs(ops.stop_gradient(m)), float(_CLIP)), "int32")
    x = ops.right_shift(ops.bitwise_xor(3 * a, a), 1)
    x = x - ops.bitwise_and(ops.right_shift(x, 1), 0x55555555)
    x = ops.bitwise_and(x, 0x33333333) + ops.bitwise_and(ops.right_shift(x, 2), 0x33333333)
    x = ops.bitwise_and(x + ops.right_shift(x, 4), 0x0F0F0F0F)
    x = x + ops.right_shift(x, 8)
    x = ops.bitwise_and(x + ops.right_shift(x, 16), 0x3F)
    return ops.cast(x, "float32")


def lowest_digit(m):
    """The lowest nonzero CSD digit ``δ = ±2**t`` of each integer-valued ``m`` (0 where ``m == 0``)."""
    m = ops.stop_gradient(m)
    a = ops.cast(ops.minimum(ops.abs(m), float(_CLIP)), "int32")
    low = ops.bitwise_and(a, -a)                              # lowest set bit = lowest NAF digit
    up = ops.equal(ops.bitwise_and(a, 2 * low), 0)            # a / low ≡ 1 (mod 4): digit +1
    mag = ops.cast(low, "float32")
    return ops.where(m < 0, -1.0, 1.0) * ops.where(up, mag, -mag)


def weight_digits(quantizer, w, wq, F):
    """Per-weight surrogate ``d(m)`` with the module doc's gradients to ``w`` and to ``f``.

    ``w``: the float kernel; ``wq, F``: what ``quantizer.fake_quantize(w)`` returned.
    """
    Fs = ops.stop_gradient(F)
    scale = ops.power(2.0, Fs)
    m = ops.round(ops.stop_gradient(wq) * scale)
    d = csd_digits(m)
    delta = lowest_digit(m)
    g_w = ops.where(delta == 0, 0.0, scale / ops.where(delta == 0, 1.0, delta))
    out = d + (w - ops.stop_gradient(w)) * ops.stop_gradient(g_w)
    if getattr(quantizer.f, "trainable", False):
        coarse = quantizer.round_scaled(ops.stop_gradient(w) * (scale * 0.5))
        g_f = d - csd_digits(coarse)
        out = out + (F - Fs) * ops.stop_gradient(g_f)
    return out


def layer_adders(layer, w, wq, F, bq):
    """Surrogate adder count of one kernel layer in training mode (scalar float32 tensor).

    ``bq``: the layer's quantized bias, or ``None``.
    """
    live = ops.stop_gradient(ops.cast(layer.input_bits() > 0, "float32"))[None]
    per_product = ops.sum(layer.apply_kernel(live, weight_digits(layer.kq, w, wq, F)))
    nz = ops.cast(ops.not_equal(ops.stop_gradient(wq), 0.0), "float32")
    terms = layer.apply_kernel(live, nz)
    bias = 0.0 if bq is None else ops.cast(ops.not_equal(ops.stop_gradient(bq), 0.0), "float32")
    terms = terms + bias
    fixed = ops.sum(ops.ones_like(terms) * bias) - ops.sum(ops.cast(terms > 0, "float32"))
    return per_product + ops.stop_gradient(fixed)


def make_gamma(layer, gamma: float | None):
    """``(gamma variable, last surrogate value variable)`` of ``layer``, or ``(None, None)``."""
    if gamma is None:
        return None, None
    if float(gamma) < 0:
        raise ValueError(f"adder_gamma must be >= 0 (or None), got {gamma}")
    g = layer.add_weight(name="adder_gamma", shape=(), trainable=False, dtype="float32",
                         initializer=keras.initializers.Constant(float(gamma)))
    a = layer.add_weight(name="adders", shape=(), initializer="zeros", trainable=False, dtype="float32")
    return g, a


def track(layer, w, wq, F, bq) -> None:
    """Add ``adder_gamma · A`` to the loss of ``layer`` and remember ``A`` (training step hook)."""
    a = layer_adders(layer, w, wq, F, bq)
    layer.add_loss(layer.adder_gamma * a)
    layer.adders_var.assign(ops.stop_gradient(a))


def gamma_config(layer) -> float | None:
    """The current ``adder_gamma`` of ``layer`` for its config (``None`` when not built)."""
    g = getattr(layer, "adder_gamma", None)
    return None if g is None else float(ops.convert_to_numpy(g))


def _cost_layers(model: keras.Model) -> list:
    return [layer for layer in hgq_layers(model) if getattr(layer, "adder_gamma", None) is not None]


def set_adder_gamma(model: keras.Model, gamma: float) -> None:
    """Set ``adder_gamma`` of every layer of ``model`` built with one (raises if none was)."""
    layers = _cost_layers(model)
    if not layers:
        raise ValueError("set_adder_gamma: no layer of the model was built with adder_gamma "
                         "(pass adder_gamma=0.0 to the kernel layers to enable the cost)")
    if float(gamma) < 0:
        raise ValueError(f"adder_gamma must be >= 0, got {gamma}")
    for layer in layers:
        layer.adder_gamma.assign(float(gamma))


def surrogate_adders(model: keras.Model, per_layer: bool = False) -> float | dict[str, float]:
    """The surrogate ``A`` of every kernel layer from the current variables (training-mode codes).

    Its value is the exact adder count of those codes (the module doc); after calibration compare
    with ``hgq_fpga.to_firmware(model).resources().adders``. Needs the recorded activation ranges
    (run the model in training mode first), as training-mode EBOPs do.
    """
    out = {}
    for layer in hgq_layers(model):
        if not hasattr(layer, "apply_kernel"):
            continue
        kernel, bias = layer.float_weights()
        wq, F = layer.kq.fake_quantize(kernel)
        bq = layer.bq.fake_quantize(bias)[0] if layer.use_bias else None
        out[layer.name] = float(ops.convert_to_numpy(layer_adders(layer, kernel, wq, F, bq)))
    return out if per_layer else sum(out.values())

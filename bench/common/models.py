"""The two architectures of the resource study, built from hgq_fpga layers in either of two flavours.

* ``"hgq"``: per-element quantizers whose fractional bits ``f`` are trained against EBOPs;
* ``"uniform"``: per-tensor quantizers whose ``f`` is not trainable; :class:`bench.common.uniform.UniformBits`
  sets it so that every weight and activation tensor uses the same total width;
* ``"saturating"``: the same with clipping during training (:mod:`bench.common.saturating`), as QKeras's
  ``quantized_bits(bits, integer)``.

Both flavours share every other choice (layers, rounding ``RND``, saturating activations,
initialisers), so the resource study compares the bit-width assignment and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import keras

from hgq_fpga.nn.layers import HConv2D, HDense, HFlatten, HMaxPooling2D, HQuantize

FLAVOURS = ("hgq", "uniform", "saturating")
#: rounding and overflow shared by both flavours (saturation keeps test images outside the
#: calibrated range from wrapping around)
_WEIGHT = {"round_mode": "RND"}
_ACTIVATION = {"round_mode": "RND", "overflow_mode": "SAT"}


@dataclass(frozen=True)
class Architecture:
    """Layer sizes. ``kind`` is ``"mlp"`` (``hidden`` dense widths) or ``"cnn"`` (``filters`` of
    the conv+maxpool blocks, then ``hidden`` dense widths); both end in ``classes`` logits."""

    name: str
    kind: str
    hidden: tuple[int, ...] = ()
    filters: tuple[int, ...] = ()
    kernel_size: int = 3
    classes: int = 10

    def describe(self, image_shape: tuple[int, ...]) -> str:
        """A short human label, e.g. ``784-64-32-32-10`` or ``conv3x3x8-pool-conv3x3x16-pool-10``."""
        if self.kind == "mlp":
            n_in = 1
            for s in image_shape:
                n_in *= int(s)
            return "-".join(str(n) for n in (n_in, *self.hidden, self.classes))
        k = self.kernel_size
        blocks = [f"conv{k}x{k}x{c}-pool" for c in self.filters]
        return "-".join([*blocks, *(str(h) for h in self.hidden), str(self.classes)])


#: the architectures of the issue: MLP 784-64-32-32-10 and a small CNN
MLP = Architecture("mlp", "mlp", hidden=(64, 32, 32))
CNN = Architecture("cnn", "cnn", filters=(8, 16))


def _quantizers(flavour: str, init_bits: int | None, f_init: float, weight_f: float | None = None) -> dict:
    """The quantizer arguments of one layer (fresh objects for the ``"saturating"`` flavour)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
    if flavour == "saturating":
        from .saturating import saturating_quantizers
        return saturating_quantizers()
    if flavour == "uniform":  # the starting widths are overwritten by UniformBits
        weight = {**_WEIGHT, "granularity": "per_tensor"}
        activation = {**_ACTIVATION, "granularity": "per_tensor"}
    else:
        # with init_bits, the biases start with 6 fractional bits, as they always did in the bench,
        # whatever the library's start (hgq_fpga.nn.quantizers.starts)
        weight = {**_WEIGHT, "init_bits": None if init_bits is None else int(init_bits),
                  "f_init": 6.0 if weight_f is None else float(weight_f)}
        activation = {**_ACTIVATION, "f_init": float(f_init)}
    return {"kernel_quantizer": weight, "bias_quantizer": weight, "output_quantizer": activation}


def build(arch: Architecture, image_shape: tuple[int, ...], flavour: str, seed: int = 0,
          init_bits: int | None = 6, f_init: float = 6.0, weight_f: float | None = None,
          kernel_quantizer: Callable[[], Any] | None = None,
          adder_gamma: float | None = None) -> keras.Model:
    """A fresh, uncompiled model of ``arch`` for images of ``image_shape`` (channels last).

    ``init_bits`` (significant bits of each weight; or, when None, ``weight_f`` fractional bits
    for every weight) and ``f_init`` (fractional bits of each activation) are HGQ's starting
    point; training moves them.

    For ``"uniform"`` every ``f`` variable is made non-trainable here; the widths are then set by
    :class:`bench.common.uniform.UniformBits` during training.

    ``kernel_quantizer``, if given, makes a fresh kernel quantizer object for each kernel layer
    (e.g. ``lambda: nhot(2)``; :mod:`bench.studies.multiplier_free.run`). ``adder_gamma``, if given,
    builds every kernel layer with the adder-count cost (:mod:`hgq_fpga.nn.adder_cost`).
    """
    keras.utils.set_random_seed(seed)

    def q() -> dict:
        base = _quantizers(flavour, init_bits, f_init, weight_f)
        return base if kernel_quantizer is None else {**base, "kernel_quantizer": kernel_quantizer()}

    def kq() -> dict:
        return q() if adder_gamma is None else {**q(), "adder_gamma": adder_gamma}

    inp = keras.Input(tuple(image_shape))
    x = HQuantize(output_quantizer=q()["output_quantizer"])(inp)
    if arch.kind == "cnn":
        for c in arch.filters:
            x = HConv2D(c, arch.kernel_size, activation="relu", **kq())(x)
            x = HMaxPooling2D(2)(x)
    elif arch.kind != "mlp":
        raise ValueError(f"unknown architecture kind {arch.kind!r} (expected 'mlp' or 'cnn')")
    x = HFlatten()(x)
    for h in arch.hidden:
        x = HDense(h, activation="relu", **kq())(x)
    out = HDense(arch.classes, **kq())(x)
    model = keras.Model(inp, out, name=f"{arch.name}_{flavour}")
    if flavour in ("uniform", "saturating"):
        from .uniform import freeze_f
        freeze_f(model)
    return model


def compile_for_training(model: keras.Model, learning_rate) -> None:
    """Adam on sparse categorical cross-entropy of the logits, reporting accuracy; ``learning_rate``
    a number or a Keras schedule."""
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

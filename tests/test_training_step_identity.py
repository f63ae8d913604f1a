"""Speeding up the training step must not change a single bit of training.

:class:`ReferenceQuantizer` is ``HQuantizer`` with the training-mode quantization as it was before
the step-time work of issue 34 (``2**-F`` from its own exponent bits, a product by it, and the
gradient to ``f`` always reshaped); the same small HGQ MLP, built from one seed once with each,
trains a few ``fit`` steps in graph mode and with XLA, and every variable must be equal (``==``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import keras
from keras import ops

from hgq_fpga.nn.keras_backend import read
from hgq_fpga.nn.quantizers.hgq import HQuantizer, _broadcast_axes
from hgq_fpga.nn.quantizers.pow2 import int_bits, pow2_pair


class ReferenceQuantizer(HQuantizer):
    """The training-mode quantization of the code before issue 34's step-time changes: also the
    activation widths of the next layer's EBOPs with ``F`` computed anew and the unseen elements of
    the range masked by ``where``."""

    def activation_bits(self, F=None):
        if self.calibrated:
            return super().activation_bits(F)
        F = self._F() if F is None else F
        lo = ops.stop_gradient(ops.convert_to_tensor(self.vmin))
        hi = ops.stop_gradient(ops.convert_to_tensor(self.vmax))
        seen = lo <= hi
        lo = ops.where(seen, lo, 0.0)
        hi = ops.where(seen, hi, 0.0)
        k = ops.cast(lo < 0, "float32")
        return ops.relu(k + int_bits(ops.maximum(hi, -lo)) + F)

    def fake_quantize(self, x, training: bool = False):
        F = self._F()
        x, F = read(x), read(F)
        round_scaled = self.round_scaled

        @ops.custom_gradient
        def quantize(x, F):
            scale, inverse = pow2_pair(ops.stop_gradient(F))
            xq = round_scaled(x * scale) * inverse

            def grad(*args, upstream=None):
                if upstream is None:
                    (upstream,) = args
                dF = upstream * (math.log(2.0) * (x - xq))
                axes, f_shape = _broadcast_axes(dF.shape, F.shape)
                if axes:
                    dF = ops.sum(dF, axis=axes)
                return upstream, ops.reshape(dF, f_shape)

            return xq, grad

        xq = quantize(x, F)
        if self.kind == "activation" and (training or self.recording):
            self._record(ops.stop_gradient(xq))
        return xq, F


def _mlp(quantizer: type[HQuantizer]) -> keras.Model:
    from hgq_fpga.nn.layers import HDense, HQuantize

    def q(kind: str, **options) -> HQuantizer:
        defaults = {"kind": "weight", "init_bits": 6} if kind == "weight" else {"kind": "activation", "f_init": 6.0}
        return quantizer(**{**defaults, **options})

    keras.utils.set_random_seed(11)
    inp = keras.Input((20,))
    x = HQuantize(output_quantizer=q("activation", round_mode="RND"))(inp)
    for units, granularity in ((16, "per_element"), (8, "per_channel")):
        x = HDense(units, activation="relu", beta=1e-4,
                   kernel_quantizer=q("weight", granularity=granularity, round_mode="RND"),
                   bias_quantizer=q("weight"), output_quantizer=q("activation", granularity=granularity))(x)
    return keras.Model(inp, HDense(4, beta=1e-4, kernel_quantizer=q("weight"), bias_quantizer=q("weight"),
                                   output_quantizer=q("activation", granularity="per_tensor"))(x))


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_training_steps_are_bit_identical_to_the_reference(jit):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, (256, 20)).astype(np.float32)
    y = rng.integers(0, 4, 256)
    weights = []
    for quantizer in (HQuantizer, ReferenceQuantizer):
        model = _mlp(quantizer)
        assert all(type(q) is quantizer for layer in model.layers[1:] for q in layer.quantizers())
        model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        start = [np.array(v) for v in model.weights]
        model.fit(x, y, batch_size=32, epochs=2, verbose=0, shuffle=False)
        weights.append([np.array(v) for v in model.weights])
        assert any(not np.array_equal(a, b) for a, b in zip(start, weights[-1]))   # it trained
    new, reference = weights
    assert len(new) == len(reference)
    for n, (a, b) in enumerate(zip(new, reference)):
        assert np.array_equal(a, b), f"variable {n}: {np.sum(a != b)} of {a.size} values differ"

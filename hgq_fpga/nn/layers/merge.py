"""HGQ merging layers: HAdd, HConcatenate."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.ir.einsum import broadcast_shape
from hgq_fpga.ir.gathered import add_type
from hgq_fpga.nn.layers.base import HLayer, HOutputQuantized, check_width_float64_exact

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


def _broadcast(layer, shapes) -> tuple:
    """The broadcast of batched input shapes (batch first); a ValueError naming ``layer``."""
    try:
        return (shapes[0][0],) + broadcast_shape([tuple(s[1:]) for s in shapes])
    except ValueError as e:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: {e}") from None


@_register
class HAdd(HOutputQuantized):
    """Element-wise sum of several HGQ tensors, then a per-activation quantizer.

    The inputs have equal rank; an axis of size 1 broadcasts, as in numpy (a per-event quantity
    added to every particle, say). The sum itself is exact (float64 in calibrated mode); only the
    output cast rounds.

    Args:
        output_quantizer: options for the output quantizer (a dict).
    """

    def build(self, input_shape) -> None:
        self.oq.build(_broadcast(self, [tuple(s) for s in input_shape])[1:])

    def call(self, inputs, training=None):
        dtype = self.out_dtype()
        total = ops.cast(inputs[0], dtype)
        for t in inputs[1:]:
            total = total + ops.cast(t, dtype)
        if self._calibrated_for(training):
            return self.oq.exact_quantize(total)
        return self.oq.fake_quantize(total, training=training)[0]

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(_broadcast(self, [tuple(t.shape) for t in inputs]), dtype=self.out_dtype())

    def check_exact(self) -> None:
        """Refuse inputs whose exact aligned sum is wider than float64 holds (and a wide output)."""
        super().check_exact()
        types = [TensorType.of(*self.input_types(j)) for j in range(self.num_inputs())]
        total = add_type(types)
        check_width_float64_exact(self, (total.k, total.i, total.f), "aligned sum of the inputs")


@_register
class HConcatenate(HLayer):
    """Concatenate HGQ tensors along ``axis``; widths and types are concatenated alike."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _sample_axis(self, ndim_with_batch: int) -> int:
        axis = self.axis if self.axis >= 0 else ndim_with_batch + self.axis
        if axis == 0:
            raise ValueError("HConcatenate cannot concatenate along the batch axis")
        return axis - 1

    def call(self, inputs):
        wide = any(str(t.dtype) in ("float64", "<dtype: 'float64'>") for t in inputs)
        dtype = "float64" if wide else "float32"
        return ops.concatenate([ops.cast(t, dtype) for t in inputs], axis=self.axis)

    def compute_output_spec(self, inputs):
        shape = list(inputs[0].shape)
        axis = self._sample_axis(len(shape)) + 1
        shape[axis] = sum(t.shape[axis] for t in inputs)
        return keras.KerasTensor(tuple(shape), dtype=inputs[0].dtype)

    def output_bits(self):
        bits = [self.input_bits(j) for j in range(self.num_inputs())]
        return ops.concatenate([ops.cast(b, "float32") for b in bits],
                               axis=self._sample_axis(len(bits[0].shape) + 1))

    def output_types(self):
        types = [self.input_types(j) for j in range(self.num_inputs())]
        axis = self._sample_axis(types[0][0].ndim + 1)
        return tuple(np.concatenate([t[n] for t in types], axis=axis) for n in range(3))

    def output_modes(self):
        return self._hgq_producer(0).output_modes()

    def get_config(self) -> dict:
        config = super().get_config()
        config["axis"] = self.axis
        return config

"""HGQ merging and pooling layers: HAdd, HConcatenate, HMaxPooling1D/2D."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from ..quantizer import make_quantizer
from .base import HLayer
from .core import _ACT_DEFAULT, _serialize

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


@_register
class HAdd(HLayer):
    """Element-wise sum of several HGQ tensors, then a per-activation quantizer.

    The sum itself is exact (float64 in deployment mode); only the output cast rounds.
    """

    def __init__(self, output_quantizer: dict | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oq = make_quantizer(output_quantizer, _ACT_DEFAULT, "output_quantizer")

    def build(self, input_shape) -> None:
        self.oq.build(tuple(input_shape[0][1:]))

    def call(self, inputs, training=None):
        if self.oq.deployed:
            total = ops.cast(inputs[0], "float64")
            for t in inputs[1:]:
                total = total + ops.cast(t, "float64")
            return self.oq.exact_quantize(total)
        total = ops.cast(inputs[0], "float32")
        for t in inputs[1:]:
            total = total + ops.cast(t, "float32")
        return self.oq.fake_quantize(total, training=training)[0]

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs[0].shape, dtype="float64" if self.oq.deployed else "float32")

    def output_bits(self):
        return self.oq.activation_bits()

    def output_types(self):
        return self.oq.fixed_types()

    def output_modes(self):
        return self.oq.round_mode, self.oq.overflow_mode

    def freeze(self, margin: int = 0) -> None:
        self.oq.freeze_activation(margin)

    def get_config(self) -> dict:
        config = super().get_config()
        config["output_quantizer"] = _serialize(self.oq)
        return config


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
        dtype = "float64" if any(str(t.dtype) in ("float64", "<dtype: 'float64'>") for t in inputs) else "float32"
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


class _HMaxPooling(HLayer):
    """Max pooling (exact in any precision). Output widths/types: the union over each window."""

    rank = 2

    def __init__(self, pool_size: int | tuple = 2, strides: int | tuple | None = None,
                 padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if padding != "valid":
            raise ValueError("HGQ max pooling supports padding='valid' only")
        as_t = lambda v: tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * self.rank
        self.pool_size = as_t(pool_size)
        self.strides = as_t(strides if strides is not None else pool_size)
        self.padding = padding

    def _pool(self, x):
        return ops.max_pool(x, self.pool_size, self.strides, self.padding, data_format="channels_last")

    def call(self, x):
        return self._pool(x)

    def output_bits(self):
        return self._pool(ops.cast(self.input_bits(), "float32")[None])[0]

    def output_types(self):
        k, i, f = self.input_types()
        live = (k + i + f) > 0
        out = []
        for t in (k, np.where(live, i, -10**4), np.where(live, f, -10**4)):
            out.append(ops.convert_to_numpy(self._pool(ops.convert_to_tensor(t[None].astype(np.float64))))[0])
        k2, i2, f2 = (np.asarray(a).astype(np.int64) for a in out)
        dead = (i2 <= -10**4) | (f2 <= -10**4)
        return np.where(dead, 0, k2), np.where(dead, 0, i2), np.where(dead, 0, f2)

    def output_modes(self):
        return self._hgq_producer(0).output_modes()

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding)
        return config


@_register
class HMaxPooling1D(_HMaxPooling):
    """1-D max pooling over ``(batch, length, channels)``."""

    rank = 1


@_register
class HMaxPooling2D(_HMaxPooling):
    """2-D max pooling over ``(batch, height, width, channels)``."""

    rank = 2

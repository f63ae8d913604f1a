"""HGQ convolutions: per-weight quantized kernels, per-activation quantized outputs."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops
from keras.src.ops.operation_utils import compute_conv_output_shape

from ..quantizer import HQuantizer, _bit_length, make_quantizer
from .base import HLayer
from .core import _ACT_DEFAULT, _WEIGHT_DEFAULT, _serialize

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


class HConv(HLayer):
    """N-D convolution (channels last) with HGQ quantizers; see :class:`HConv1D`, :class:`HConv2D`.

    EBOPs count every multiplication of a fully unrolled (``io_parallel``) implementation: for each
    output position, each kernel tap and each input channel, ``ba(input element) * bw(weight)``.
    Positions that read zero padding cost nothing. Deployment mode computes in float64, exactly.
    """

    has_ebops = True
    rank = 2

    def __init__(self, filters: int, kernel_size: int | tuple, strides: int | tuple = 1,
                 padding: str = "valid", activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_quantizer: dict | None = None, bias_quantizer: dict | None = None,
                 output_quantizer: dict | None = None, beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(beta=beta, **kwargs)
        if activation not in (None, "linear", "relu"):
            raise ValueError(f"{type(self).__name__} supports activation None, 'linear' or 'relu', got "
                             f"{activation!r}; use an HActivation layer after it for other functions")
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = self._tuple(kernel_size)
        self.strides = self._tuple(strides)
        self.padding = padding
        self.activation = activation or "linear"
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kq = make_quantizer(kernel_quantizer, _WEIGHT_DEFAULT, "kernel_quantizer")
        self.bq = make_quantizer(bias_quantizer, _WEIGHT_DEFAULT, "bias_quantizer") if use_bias else None
        self.oq = make_quantizer(output_quantizer, _ACT_DEFAULT, "output_quantizer")

    def _tuple(self, v) -> tuple[int, ...]:
        return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * self.rank

    def build(self, input_shape) -> None:
        cin = int(input_shape[-1])
        kshape = self.kernel_size + (cin, self.filters)
        self.kernel = self.add_weight(name="kernel", shape=kshape,
                                      initializer=self.kernel_initializer, dtype="float32")
        self.kq.build(kshape)
        self.kq.init_from_values(self.kernel)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,),
                                        initializer=self.bias_initializer, dtype="float32")
            self.bq.build((self.filters,))
        self.oq.build(self._out_shape(input_shape)[1:])

    def _out_shape(self, input_shape) -> tuple:
        return tuple(compute_conv_output_shape(tuple(input_shape), self.filters, self.kernel_size,
                                               self.strides, self.padding, "channels_last"))

    def _conv(self, x, w):
        return ops.conv(x, w, strides=self.strides, padding=self.padding, data_format="channels_last")

    def call(self, x, training=None):
        if self.oq.deployed:
            y = self._conv(ops.cast(x, "float64"), self.kq.exact_quantize(self.kernel))
            if self.use_bias:
                y = y + self.bq.exact_quantize(self.bias)
            if self.activation == "relu":
                y = ops.relu(y)
            return self.oq.exact_quantize(y)
        x = ops.cast(x, "float32")
        wq, Fw = self.kq.fake_quantize(self.kernel)
        y = self._conv(x, wq)
        if self.use_bias:
            y = y + self.bq.fake_quantize(self.bias)[0]
        if self.activation == "relu":
            y = ops.relu(y)
        out, _ = self.oq.fake_quantize(y, training=training)
        if training:
            self._track_ebops(self._ebops(self.input_bits(), HQuantizer.weight_bits(wq, Fw)))
        return out

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._out_shape(x.shape),
                                 dtype="float64" if self.oq.deployed else "float32")

    def _ebops(self, ba, bw):
        return ops.sum(self._conv(ops.cast(ba, bw.dtype)[None], bw))

    def compute_ebops(self):
        wq, Fw = self.kq.fake_quantize(self.kernel)
        return self._ebops(self.input_bits(), HQuantizer.weight_bits(wq, Fw))

    # same information interface as HDense
    def quantized_kernel(self) -> np.ndarray:
        """The kernel as exact float64 values, shape ``kernel_size + (in_channels, filters)``."""
        q = self.kq.exact_quantize(self.kernel) if self.kq.deployed else self.kq.fake_quantize(self.kernel)[0]
        return ops.convert_to_numpy(q).astype(np.float64)

    def quantized_bias(self) -> np.ndarray:
        if not self.use_bias:
            return np.zeros((self.filters,), np.float64)
        q = self.bq.exact_quantize(self.bias) if self.bq.deployed else self.bq.fake_quantize(self.bias)[0]
        return ops.convert_to_numpy(q).astype(np.float64)

    def kernel_types(self):
        return self.kq.fixed_types()

    def bias_types(self):
        return self.bq.fixed_types() if self.use_bias else tuple(np.zeros((3, self.filters), np.int64))

    def weight_bit_widths(self) -> np.ndarray:
        wq = self.quantized_kernel()
        F = self.kq.fixed_types()[2] if self.kq.deployed else self.kq.rounded_f()
        return _bit_length(np.abs(np.ldexp(wq, F)).astype(np.int64))

    def output_bits(self):
        return self.oq.activation_bits()

    def output_types(self):
        return self.oq.fixed_types()

    def output_modes(self):
        return self.oq.round_mode, self.oq.overflow_mode

    def freeze(self, margin: int = 0) -> None:
        self.kq.freeze_weight(ops.convert_to_numpy(self.kernel))
        if self.use_bias:
            self.bq.freeze_weight(ops.convert_to_numpy(self.bias))
        self.oq.freeze_activation(margin)

    def exact_ebops(self) -> int:
        k, i, f = self.input_types()
        ba = (k + i + f).astype(np.float64)
        total = self._conv(ops.convert_to_tensor(ba[None]), ops.convert_to_tensor(
            self.weight_bit_widths().astype(np.float64)))
        return int(np.sum(ops.convert_to_numpy(total)))

    def check_exact(self) -> None:
        cin = self.kernel.shape[-2]
        k, i, f = (t.reshape(-1, cin) for t in self.input_types())
        live = (k + i + f) > 0
        amax = np.max(np.where(live, np.ldexp(1.0, i), 0.0), axis=0)          # per input channel
        fin = np.max(np.where(live, f, -10**6), axis=0)
        wq = self.quantized_kernel().reshape(-1, cin, self.filters)
        fw = self.kq.fixed_types()[2].reshape(-1, cin, self.filters)
        bound = np.einsum("c,tco->o", amax, np.abs(wq))
        lsb = np.where((wq != 0) & (amax[None, :, None] > 0), fin[None, :, None] + fw, -10**6).max(axis=(0, 1))
        if self.use_bias:
            bq = self.quantized_bias()
            bound = bound + np.abs(bq)
            lsb = np.maximum(lsb, np.where(bq != 0, self.bq.fixed_types()[2], -10**6))
        with np.errstate(divide="ignore"):
            bits = np.where(bound > 0, np.log2(np.where(bound > 0, bound, 1.0)) + lsb, 0.0)
        if np.any(bits > 53 - 1e-9):
            j = int(np.argmax(bits))
            raise ValueError(f"{type(self).__name__} {self.name!r}: the accumulator of filter {j} needs "
                             f"about {math.ceil(bits[j])} bits, more than the 53 that float64 holds "
                             "exactly; deployment-mode inference cannot be exact")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size),
                      strides=list(self.strides), padding=self.padding, activation=self.activation,
                      use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer),
                      kernel_quantizer=_serialize(self.kq),
                      bias_quantizer=_serialize(self.bq) if self.use_bias else None,
                      output_quantizer=_serialize(self.oq))
        return config


@_register
class HConv1D(HConv):
    """1-D convolution over ``(batch, length, channels)`` with HGQ quantizers."""

    rank = 1


@_register
class HConv2D(HConv):
    """2-D convolution over ``(batch, height, width, channels)`` with HGQ quantizers."""

    rank = 2

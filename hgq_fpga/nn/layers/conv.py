"""HGQ convolutions: per-weight quantized kernels, per-activation quantized outputs."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops
from keras.src.ops.operation_utils import compute_conv_output_shape

from hgq_fpga.nn.layers.base import int_tuple
from hgq_fpga.nn.layers.linear import HLinear

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


class HConv(HLinear):
    """N-D convolution (channels last) with HGQ quantizers; see :class:`HConv1D`, :class:`HConv2D`.

    EBOPs count every multiplication of a fully unrolled (``io_parallel``) implementation: for each
    output position, each kernel tap and each input channel, ``ba(input element) * bw(weight)``.
    Positions that read zero padding cost nothing. Calibrated mode computes in float64, exactly.
    See :class:`~hgq_fpga.nn.layers.linear.HLinear` for the other arguments.

    Args:
        filters: number of output channels.
        kernel_size: an int or one int per spatial axis.
        strides: an int or one int per spatial axis.
        padding: ``"valid"`` or ``"same"`` (zeros, as in Keras).
    """

    rank = 2
    foldable = True

    def __init__(self, filters: int, kernel_size: int | tuple, strides: int | tuple = 1,
                 padding: str = "valid", activation: str | None = None, **kwargs: Any) -> None:
        super().__init__(activation=activation, **kwargs)
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = int_tuple(kernel_size, self.rank, "kernel_size", type(self).__name__)
        self.strides = int_tuple(strides, self.rank, "strides", type(self).__name__)
        self.padding = padding

    def build(self, input_shape) -> None:
        kshape = self.kernel_size + (int(input_shape[-1]), self.filters)
        self._build_weights(kshape, self._out_shape(input_shape)[1:])

    def _out_shape(self, input_shape) -> tuple:
        return tuple(compute_conv_output_shape(tuple(input_shape), self.filters, self.kernel_size,
                                               self.strides, self.padding, "channels_last"))

    def apply_kernel(self, x, w):
        return ops.conv(x, w, strides=self.strides, padding=self.padding, data_format="channels_last")

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._out_shape(x.shape), dtype=self.out_dtype())

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size),
                      strides=list(self.strides), padding=self.padding)
        return config


@_register
class HConv1D(HConv):
    """1-D convolution over ``(batch, length, channels)`` with HGQ quantizers."""

    rank = 1


@_register
class HConv2D(HConv):
    """2-D convolution over ``(batch, height, width, channels)`` with HGQ quantizers."""

    rank = 2

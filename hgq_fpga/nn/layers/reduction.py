"""Reductions over axes: :class:`HSum` (the sum over particles of a Deep Sets model) and the global
poolings :class:`HGlobalAveragePooling1D`/``2D`` and :class:`HGlobalMaxPooling1D`/``2D``.

Sums and maxima are exact (firmware ops :class:`hgq_fpga.ir.Sum` and :class:`hgq_fpga.ir.Max`, whose
type inference is the one these layers report); an average is the exact sum times the constant
``c ≈ 1/count`` of :class:`~hgq_fpga.nn.layers.pooling.HAveragePooling` (firmware: an ``AvgPool``
over the whole extent), then a cast. None of them multiplies by a weight: no EBOPs of their own.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.ir.gathered import reduce_plan
from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.ir.types import product_range_type
from hgq_fpga.nn.layers.base import HLayer, HOutputQuantized, check_width_float64_exact
from hgq_fpga.nn.layers.pooling import DEFAULT_C_F

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


def sample_axes(axis, rank: int, owner: str) -> tuple[int, ...]:
    """Keras axes (the batch axis is 0) as sorted per-sample axes; the batch axis is refused."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        full = a + rank + 1 if a < 0 else a
        if not 1 <= full <= rank:
            raise ValueError(f"{owner}: axis {a} is not a sample axis of a rank-{rank + 1} tensor "
                             "(the batch axis 0 cannot be reduced)")
        out.append(full - 1)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"{owner}: axis {axis!r} must name distinct sample axes")
    return tuple(sorted(out))


class _Reduction:
    """Mixin: the reduced per-sample ``axes`` (set at build) and the output shape."""

    keepdims = False
    axes: tuple[int, ...] = ()

    def _reduced_shape(self, shape: tuple) -> tuple:
        """The output shape (batch first) for an input ``shape`` (batch first)."""
        rank = len(shape) - 1
        self.axes = self._sample_axes(rank)
        sample = shape[1:]
        kept = tuple(1 if n in self.axes else s for n, s in enumerate(sample)) if self.keepdims \
            else tuple(s for n, s in enumerate(sample) if n not in self.axes)
        return (shape[0],) + kept

    def _sample_axes(self, rank: int) -> tuple[int, ...]:
        raise NotImplementedError

    def _keras_axes(self) -> tuple[int, ...]:
        return tuple(a + 1 for a in self.axes)


@_register
class HSum(_Reduction, HOutputQuantized):
    """Sum over ``axis`` (exact), then a per-activation output quantizer.

    Args:
        axis: an axis or axes to sum over, counted as Keras does (the batch axis is 0).
        keepdims: keep the summed axes with size 1.
        output_quantizer: options for the output quantizer (a dict).
    """

    def __init__(self, axis: int | tuple[int, ...] = 1, keepdims: bool = False,
                 output_quantizer: dict | None = None, **kwargs: Any) -> None:
        super().__init__(output_quantizer=output_quantizer, **kwargs)
        self.axis = axis if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axis)
        self.keepdims = bool(keepdims)

    def _sample_axes(self, rank: int) -> tuple[int, ...]:
        return sample_axes(self.axis, rank, f"HSum {self.name!r}")

    def build(self, input_shape) -> None:
        self.oq.build(self._reduced_shape(tuple(input_shape))[1:])

    def call(self, x, training=None):
        total = ops.sum(ops.cast(x, self.out_dtype()), axis=self._keras_axes(), keepdims=self.keepdims)
        if self._calibrated_for(training):
            return self.oq.exact_quantize(total)
        return self.oq.fake_quantize(total, training=training)[0]

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._reduced_shape(tuple(x.shape)), dtype=self.out_dtype())

    def check_exact(self) -> None:
        """Refuse a sum wider than float64 holds exactly (and a wide output)."""
        super().check_exact()
        total = reduce_plan("sum", TensorType.of(*self.input_types()), self.axes, self.keepdims).out
        check_width_float64_exact(self, (total.k, total.i, total.f), "exact sum")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(axis=self.axis if isinstance(self.axis, int) else list(self.axis),
                      keepdims=self.keepdims)
        return config


class _GlobalPooling(_Reduction):
    """Mixin of the global poolings: every spatial axis of ``(batch, *spatial, channels)``."""

    rank = 1

    def __init__(self, keepdims: bool = False, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__} supports data_format='channels_last' only, got "
                             f"{data_format!r}")
        self.keepdims = bool(keepdims)

    def _sample_axes(self, rank: int) -> tuple[int, ...]:
        if rank != self.rank + 1:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs input (batch, {self.rank} "
                             f"spatial axes, channels), got rank {rank + 1}")
        return tuple(range(self.rank))

    def get_config(self) -> dict:
        config = super().get_config()
        config["keepdims"] = self.keepdims
        return config


class HGlobalAveragePooling(_GlobalPooling, HOutputQuantized):
    """The mean over every spatial position as the firmware computes it: the exact sum times
    ``c = round(2^c_f / count) · 2^-c_f``, then the output quantizer (base of the 1D/2D layers).

    Args:
        keepdims: keep the spatial axes with size 1.
        c_f: fractional bits of the constant ``c`` (default 18; 0 to 52).
        output_quantizer: options for the output quantizer (a dict).
    """

    def __init__(self, keepdims: bool = False, c_f: int = DEFAULT_C_F, data_format: str | None = None,
                 output_quantizer: dict | None = None, **kwargs: Any) -> None:
        super().__init__(keepdims=keepdims, data_format=data_format, output_quantizer=output_quantizer,
                         **kwargs)
        if isinstance(c_f, bool) or not isinstance(c_f, (int, np.integer)) or not 0 <= c_f <= 52:
            raise ValueError(f"{type(self).__name__} c_f must be an integer in 0..52 (fractional bits "
                             f"of the constant 1/count), got {c_f!r}")
        self.c_f = int(c_f)

    def build(self, input_shape) -> None:
        out = self._reduced_shape(tuple(input_shape))
        count = int(np.prod([input_shape[1 + a] for a in self.axes]))
        #: integer code of the constant c (value c_raw * 2**-c_f), as the AvgPool op computes it
        self.c_raw = int(((1 << (self.c_f + 1)) // count + 1) // 2)
        self.oq.build(out[1:])

    def call(self, x, training=None):
        dtype = self.out_dtype()
        total = ops.sum(ops.cast(x, dtype), axis=self._keras_axes(), keepdims=self.keepdims)
        mean = total * float(np.ldexp(float(self.c_raw), -self.c_f))      # exact: a dyadic constant
        if self._calibrated_for(training):
            return self.oq.exact_quantize(mean)
        return self.oq.fake_quantize(mean, training=training)[0]

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._reduced_shape(tuple(x.shape)), dtype=self.out_dtype())

    def check_exact(self) -> None:
        """Refuse a sum times ``c_raw`` that could exceed float64's 53 bits."""
        super().check_exact()
        total = reduce_plan("sum", TensorType.of(*self.input_types()), self.axes, self.keepdims).out
        prod = product_range_type(total, np.full(total.shape, self.c_raw), np.full(total.shape, self.c_f))
        check_width_float64_exact(self, (prod.k, prod.i, prod.f),
                                  f"sum times the constant 1/count (c_f={self.c_f})")

    def get_config(self) -> dict:
        config = super().get_config()
        config["c_f"] = self.c_f
        return config


@_register
class HGlobalAveragePooling1D(HGlobalAveragePooling):
    """Mean over the length of ``(batch, length, channels)``; see :class:`HGlobalAveragePooling`."""

    rank = 1


@_register
class HGlobalAveragePooling2D(HGlobalAveragePooling):
    """Mean over height and width of ``(batch, height, width, channels)``; see
    :class:`HGlobalAveragePooling`."""

    rank = 2


class HGlobalMaxPooling(_GlobalPooling, HLayer):
    """The maximum over every spatial position (exact): output widths and types are those of the
    maximum, as the firmware's ``Max`` op derives them (base of the 1D/2D layers)."""

    def build(self, input_shape) -> None:
        self._reduced_shape(tuple(input_shape))

    def call(self, x):
        return ops.max(x, axis=self._keras_axes(), keepdims=self.keepdims)

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._reduced_shape(tuple(x.shape)), dtype=x.dtype)

    def output_bits(self):
        return ops.max(ops.cast(self.input_bits(), "float32"), axis=self.axes, keepdims=self.keepdims)

    def output_types(self):
        out = reduce_plan("max", TensorType.of(*self.input_types()), self.axes, self.keepdims).out
        return out.k, out.i, out.f

    def output_modes(self):
        return self._hgq_producer(0).output_modes()


@_register
class HGlobalMaxPooling1D(HGlobalMaxPooling):
    """Maximum over the length of ``(batch, length, channels)``."""

    rank = 1


@_register
class HGlobalMaxPooling2D(HGlobalMaxPooling):
    """Maximum over height and width of ``(batch, height, width, channels)``."""

    rank = 2

"""HGQ pooling layers: max pooling (exact as is) and average pooling (exact sum times a constant).

Window geometry (output size, ``same`` padding split, which window positions are padding) follows
Keras and comes from :mod:`hgq_fpga.ir.windows`, the same tables the firmware emulator uses.
"""

from __future__ import annotations

import itertools
from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.fixed import plain
from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.ir.types import maxpool_plan
from hgq_fpga.ir.windows import out_size, window_index, with_channels
from hgq_fpga.nn.layers.base import HLayer, HOutputQuantized, check_float64_exact, int_tuple

_register = keras.saving.register_keras_serializable(package="hgq_fpga")

#: default fractional bits of the average pooling constant ``1/count``
DEFAULT_C_F = 18


class PoolingWindow:
    """Mixin for pooling layers: ``pool_size``, ``strides``, ``padding`` and the window geometry.

    Args:
        pool_size: an int or one int per spatial axis.
        strides: an int or one int per spatial axis; defaults to ``pool_size``.
        padding: ``"valid"`` or ``"same"`` (padding positions take no part in a window, as in Keras).
    """

    rank = 2

    def __init__(self, pool_size: int | tuple = 2, strides: int | tuple | None = None,
                 padding: str = "valid", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if padding not in ("valid", "same"):
            raise ValueError(f"{owner} padding must be 'valid' or 'same', got {padding!r}")
        self.pool_size = int_tuple(pool_size, self.rank, "pool_size", owner)
        self.strides = int_tuple(pool_size if strides is None else strides, self.rank, "strides", owner)
        self.padding = padding

    def _spatial(self, shape) -> tuple[int, ...]:
        """The spatial axes of a batched ``(batch, *spatial, channels)`` shape."""
        spatial = tuple(shape[1:-1])
        if len(spatial) != self.rank or any(s is None for s in spatial):
            raise ValueError(f"{type(self).__name__} {getattr(self, 'name', '')!r} needs input "
                             f"(batch, {self.rank} known spatial axes, channels), got {tuple(shape)}")
        return tuple(int(s) for s in spatial)

    def _out_shape(self, shape) -> tuple:
        """Output shape (batch axis kept) for input ``shape``."""
        spatial = self._spatial(shape)
        outs = tuple(out_size(n, k, s, self.padding)[0]
                     for n, k, s in zip(spatial, self.pool_size, self.strides))
        return (shape[0],) + outs + (shape[-1],)

    @property
    def pool(self) -> tuple[int, ...]:
        """The window size, under the name the IR's window geometry uses."""
        return self.pool_size

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding)
        return config


class _HMaxPooling(PoolingWindow, HLayer):
    """Max pooling (exact in any precision). Output widths/types: the union over each window."""

    def _pool(self, x):
        return ops.max_pool(x, self.pool_size, self.strides, self.padding, data_format="channels_last")

    def call(self, x):
        return self._pool(x)

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._out_shape(x.shape), dtype=x.dtype)

    def output_bits(self):
        return self._pool(ops.cast(self.input_bits(), "float32")[None])[0]

    def output_types(self):
        """Tight type of each window's maximum, exactly as the firmware IR derives it.

        Taking the maxima of ``k``, ``i`` and ``f`` separately would over-count: the maximum of a
        window that holds an unsigned element is never negative, so it needs no sign bit.
        """
        out = maxpool_plan(self, TensorType.of(*self.input_types()))[-1]
        return out.k, out.i, out.f

    def output_modes(self):
        return self._hgq_producer(0).output_modes()


@_register
class HMaxPooling1D(_HMaxPooling):
    """1-D max pooling over ``(batch, length, channels)``."""

    rank = 1


@_register
class HMaxPooling2D(_HMaxPooling):
    """2-D max pooling over ``(batch, height, width, channels)``."""

    rank = 2


class HAveragePooling(PoolingWindow, HOutputQuantized):
    """Average pooling as the firmware computes it, then an output quantizer (base of the 1D/2D layers).

    ``y = q_out(S * c)``, where ``S`` is the exact sum over the window's real elements (padding
    excluded) and ``c = c_raw * 2^-c_f`` with ``c_raw = round_half_up(2^c_f / count)``, ``count`` the
    number of real elements in the window. This is the firmware IR's ``AvgPool`` op
    (:meth:`hgq_fpga.ir.FirmwareBuilder.avgpool`), so calibrated-mode Keras and the firmware agree
    bit for bit. ``c`` is ``1/count`` exactly when ``count`` is a power of two (and ``c_f`` is large
    enough); otherwise it is ``1/count`` to ``c_f`` fractional bits.

    In calibrated mode the sum and the product are computed in float64, which
    :meth:`check_exact` (run by calibration) proves exact. Training mode computes the same in
    float32 with fake quantization of the output.

    The layer has no weights, so it has no EBOPs of its own (its additions are not multiplications);
    its output widths flow to the next layer's EBOPs through ``output_bits``.

    Args:
        pool_size, strides, padding: see :class:`PoolingWindow`.
        c_f: fractional bits of the constant ``c`` (default 18; 0 to 52). More bits make ``c``
            closer to ``1/count`` and the multiplier wider.
        output_quantizer: options for the output quantizer (a dict).
    """

    def __init__(self, pool_size: int | tuple = 2, strides: int | tuple | None = None,
                 padding: str = "valid", c_f: int = DEFAULT_C_F, output_quantizer: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(pool_size=pool_size, strides=strides, padding=padding,
                         output_quantizer=output_quantizer, **kwargs)
        if isinstance(c_f, bool) or not isinstance(c_f, (int, np.integer)) or not 0 <= c_f <= 52:
            raise ValueError(f"{type(self).__name__} c_f must be an integer in 0..52 (fractional bits of "
                             f"the constant 1/count), got {plain(c_f)!r}")
        self.c_f = int(c_f)

    def build(self, input_shape) -> None:
        spatial = self._spatial(input_shape)
        out_spatial, idx = window_index(spatial, self.pool_size, self.strides, self.padding)
        counts = (idx >= 0).sum(axis=1).reshape(out_spatial)
        #: per output position: integer code of the constant c (value c_raw * 2**-c_f)
        self.c_raw = ((np.int64(1) << (self.c_f + 1)) // counts + 1) // 2
        pads = []
        for n, k, s, o in zip(spatial, self.pool_size, self.strides, out_spatial):
            before = out_size(n, k, s, self.padding)[1]
            pads.append((before, max((o - 1) * s + k - n - before, 0)))
        self._pads = tuple(pads)
        self._out_spatial = tuple(out_spatial)
        self.oq.build(tuple(out_spatial) + (int(input_shape[-1]),))

    def _window_sum(self, x):
        """Sum over each window as a sum of strided slices: only additions, so exact in float64."""
        if any(b or a for b, a in self._pads):
            x = ops.pad(x, [(0, 0)] + [list(p) for p in self._pads] + [(0, 0)])
        total = None
        for offset in itertools.product(*(range(k) for k in self.pool_size)):
            index = (slice(None),) + tuple(slice(o, o + s * (n - 1) + 1, s) for o, s, n in
                                           zip(offset, self.strides, self._out_spatial)) + (slice(None),)
            total = x[index] if total is None else total + x[index]
        return total

    def call(self, x, training=None):
        dtype = self.out_dtype()
        c = np.ldexp(self.c_raw.astype(np.float64), -self.c_f)[..., None]
        mean = self._window_sum(ops.cast(x, dtype)) * ops.convert_to_tensor(c, dtype=dtype)
        if self._calibrated_for(training):
            return self.oq.exact_quantize(mean)
        return self.oq.fake_quantize(mean, training=training)[0]

    def compute_output_spec(self, x):
        return keras.KerasTensor(self._out_shape(x.shape), dtype=self.out_dtype())

    def check_exact(self) -> None:
        """Refuse a calibration where the window sum times ``c_raw`` could exceed float64's 53 bits.

        Per output element: ``sum over the window of 2^i_in`` bounds ``|S|``, the finest input lsb
        ``2^-f`` sets the grid, so ``|S| * 2^f * c_raw`` must stay within ``2^53``.
        """
        super().check_exact()
        k, i, f = self.input_types()
        live = ((k + i + f) > 0).reshape(-1)
        channels = k.shape[-1]
        _, idx = window_index(k.shape[:-1], self.pool_size, self.strides, self.padding)
        full = with_channels(idx, channels, per_channel=True)                  # (P, K, C)
        real = full >= 0
        safe = np.where(real, full, 0)
        use = real & live[safe]
        bound = np.where(use, np.ldexp(1.0, i.reshape(-1)[safe]), 0.0).sum(axis=1)   # (P, C)
        fmax = np.where(use, f.reshape(-1)[safe], -10**6).max(axis=1)
        c_raw = np.maximum(self.c_raw.reshape(-1, 1), 1).astype(np.float64)
        what = f"the window sum of output element {{j}} times the constant 1/count (c_f={self.c_f})"
        check_float64_exact(self, bound * c_raw, fmax, what, "Lower c_f or the input's bit widths.")

    def get_config(self) -> dict:
        config = super().get_config()
        config["c_f"] = self.c_f
        return config


@_register
class HAveragePooling1D(HAveragePooling):
    """1-D average pooling over ``(batch, length, channels)``; see :class:`HAveragePooling`."""

    rank = 1


@_register
class HAveragePooling2D(HAveragePooling):
    """2-D average pooling over ``(batch, height, width, channels)``; see :class:`HAveragePooling`."""

    rank = 2

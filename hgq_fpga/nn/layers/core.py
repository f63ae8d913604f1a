"""HGQ core layers: the input quantizer, element-wise activations, shape-only pass-through layers.

The kernel layers are in :mod:`~hgq_fpga.nn.layers.dense` and :mod:`~hgq_fpga.nn.layers.conv`.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.keras_backend import outside_trace
from hgq_fpga.nn.layers.base import HLayer, HOutputQuantized
from hgq_fpga.nn.layers.lookup import TableLookup

_register = keras.saving.register_keras_serializable(package="hgq_fpga")

#: element-wise activations that HActivation accepts by name (each becomes a lookup table)
UNARY_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "softsign",
                     "elu", "selu", "gelu", "silu", "swish", "exponential", "relu6", "leaky_relu",
                     "mish", "hard_silu", "hard_swish", "log_sigmoid", "hard_tanh")


#: an input quantizer saturates unless told otherwise: for a trigger, an input beyond the calibrated
#: range must clip, not flip sign (``output_quantizer={"overflow_mode": "WRAP"}`` wraps)
INPUT_DEFAULTS = {"overflow_mode": "SAT"}


@_register
class HQuantize(HOutputQuantized):
    """Quantize the model's input with learned per-element bit widths (the first HGQ layer).

    Args:
        output_quantizer: options for the :class:`~hgq_fpga.nn.quantizers.hgq.HQuantizer` (a dict), e.g.
            ``{"overflow_mode": "WRAP", "granularity": "per_channel"}``. Unlike other layers' outputs,
            an input saturates by default (``"SAT"``): a value beyond the calibrated range clips.
    """

    def __init__(self, output_quantizer: dict | None = None, **kwargs) -> None:
        if output_quantizer is None or isinstance(output_quantizer, dict):
            output_quantizer = {**INPUT_DEFAULTS, **(output_quantizer or {})}
        super().__init__(output_quantizer=output_quantizer, **kwargs)

    def build(self, input_shape) -> None:
        self.oq.build(tuple(input_shape[1:]))

    def call(self, x, training=None):
        if self._calibrated_for(training):
            return self.oq.exact_quantize(x)
        xq, _ = self.oq.fake_quantize(ops.cast(x, "float32"), training=training)
        return xq

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype=self.out_dtype())


def get_unary(activation: str | Callable) -> Callable:
    """Resolve an element-wise activation by name or callable; raise on anything else."""
    if callable(activation):
        return activation
    if not isinstance(activation, str) or activation not in UNARY_ACTIVATIONS:
        raise ValueError(f"unsupported activation {activation!r} for HActivation; expected a callable "
                         f"or one of {', '.join(UNARY_ACTIVATIONS)} (softmax is not element-wise)")
    return keras.activations.get(activation)


@_register
class HActivation(HOutputQuantized):
    """An element-wise function followed by a per-activation quantizer.

    ``relu`` and ``linear`` are exact arithmetic; any other unary function (tanh, sigmoid, a
    registered custom function) becomes a lookup table in firmware, indexed by the raw bits of the
    input. Use :meth:`table` to evaluate the calibrated layer on given input values: that is the table.

    In calibrated mode the layer is that table too: the function is evaluated eagerly, once, on
    every code of each input type, and the outputs are quantized and looked up by the input's raw
    code. The values then do not depend on how ``model.predict`` is compiled (XLA's ``tanh`` is not
    the eager ``tanh``, and saturates to 1.0 earlier), and equal the firmware's table.

    Args:
        activation: a name from :data:`UNARY_ACTIVATIONS` or an element-wise callable.
        output_quantizer: options for the output quantizer (a dict).
    """

    def __init__(self, activation: str | Callable = "relu", output_quantizer: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(output_quantizer=output_quantizer, **kwargs)
        self.fn = get_unary(activation)
        self.activation = activation
        self._lookup = TableLookup(self._eval)

    def build(self, input_shape) -> None:
        self.oq.build(tuple(input_shape[1:]))

    @property
    def is_table(self) -> bool:
        """Whether the firmware implements this layer as a lookup table (not relu or linear)."""
        return not (isinstance(self.activation, str) and self.activation in ("linear", "relu"))

    def call(self, x, training=None):
        if self._calibrated_for(training):
            lut = outside_trace(self._calibrated_lut) if self.is_table else None
            if lut is None:
                return self.oq.exact_quantize(self.fn(ops.cast(x, "float64")))
            return TableLookup.apply(x, lut)
        out, _ = self.oq.fake_quantize(self.fn(ops.cast(x, "float32")), training=training)
        return out

    def _eval(self, values: np.ndarray) -> np.ndarray:
        """The float64 function on ``values``, by the backend's eager kernel (as the converter)."""
        t = ops.convert_to_tensor(np.asarray(values, np.float64), dtype="float64")
        return np.asarray(ops.convert_to_numpy(self.fn(t)), np.float64)

    def _calibrated_lut(self):
        """``(base, scale, values)`` of the calibrated table (:class:`TableLookup`), or ``None``.

        The very table the firmware gets (:func:`hgq_fpga.ir.tables.build_table`). ``None`` when an
        input is wider than a firmware table allows or the function is not finite on the grid;
        the layer then evaluates the function directly.
        """
        try:
            return self._lookup.arrays(self.input_types(), self.oq.fixed_types(), self.oq.round_mode,
                                       self.oq.overflow_mode)
        except ValueError:                # too wide for a table, or not finite on the grid
            return None

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype=self.out_dtype())

    def table(self, x) -> np.ndarray:
        """Calibrated-mode outputs for inputs ``x`` (batch first), as float64: the lookup table.

        The function is evaluated at ``x`` and quantized to the output types, so ``x`` may be any
        values, not only the input type's codes.
        """
        if not self.oq.calibrated:
            raise ValueError(f"HActivation {self.name!r} is not calibrated; run hgq_fpga.calibrate first")
        y = self.fn(ops.convert_to_tensor(np.asarray(x, np.float64), dtype="float64"))
        return ops.convert_to_numpy(self.oq.exact_quantize(y)).astype(np.float64)

    def get_config(self) -> dict:
        config = super().get_config()
        act = self.activation
        config["activation"] = act if isinstance(act, str) else keras.saving.serialize_keras_object(act)
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        if isinstance(config.get("activation"), dict):
            config["activation"] = keras.saving.deserialize_keras_object(config["activation"])
        return cls(**config)


class _PassThrough(HLayer):
    """A layer that moves values without arithmetic: widths and types flow through it."""

    def _map(self, t):
        raise NotImplementedError

    def output_bits(self):
        return self._map(self.input_bits())

    def output_types(self):
        return tuple(np.asarray(self._map(np.asarray(t)), np.int64) for t in self.input_types())

    def output_modes(self):
        return self._hgq_producer(0).output_modes()

    def compute_output_spec(self, x):
        shape = (x.shape[0],) + tuple(self._map(np.zeros([1 if s is None else s for s in x.shape[1:]])).shape)
        return keras.KerasTensor(shape, dtype=x.dtype)


@_register
class HFlatten(_PassThrough):
    """Flatten all but the batch axis; per-element widths are flattened alike."""

    def _map(self, t):
        return ops.reshape(t, (-1,)) if not isinstance(t, np.ndarray) else t.reshape(-1)

    def call(self, x):
        return ops.reshape(x, (ops.shape(x)[0], -1))


@_register
class HReshape(_PassThrough):
    """Reshape all but the batch axis to ``target_shape``; widths are reshaped alike."""

    def __init__(self, target_shape: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)

    def _map(self, t):
        if isinstance(t, np.ndarray):
            return t.reshape(self.target_shape)
        return ops.reshape(t, self.target_shape)

    def call(self, x):
        return ops.reshape(x, (ops.shape(x)[0],) + self.target_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


@_register
class HPermute(_PassThrough):
    """Permute the axes of each sample, as ``keras.layers.Permute``; widths are permuted alike.

    Args:
        dims: the permutation of the per-sample axes, counted from 1 (the batch axis stays first),
            e.g. ``(2, 1)`` swaps particles and features.
    """

    def __init__(self, dims: tuple[int, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"HPermute dims must be a permutation of 1..{len(self.dims)} (the batch "
                             f"axis is not counted), got {dims!r}")

    @property
    def perm(self) -> tuple[int, ...]:
        """The permutation of the per-sample axes, counted from 0."""
        return tuple(d - 1 for d in self.dims)

    def _map(self, t):
        if isinstance(t, np.ndarray):
            return np.transpose(t, self.perm)
        return ops.transpose(t, self.perm)

    def call(self, x):
        return ops.transpose(x, (0,) + self.dims)

    def get_config(self) -> dict:
        config = super().get_config()
        config["dims"] = list(self.dims)
        return config

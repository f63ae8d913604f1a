"""HGQ core layers: input quantizer, dense, activation, and shape-only pass-through layers."""

from __future__ import annotations

import math
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from ..quantizer import HQuantizer, _bit_length, make_quantizer
from .base import HLayer

_register = keras.saving.register_keras_serializable(package="hgq_fpga")

#: element-wise activations that HActivation accepts by name (each becomes a lookup table)
UNARY_ACTIVATIONS = ("linear", "relu", "tanh", "sigmoid", "hard_sigmoid", "softplus", "softsign",
                     "elu", "selu", "gelu", "silu", "swish", "exponential", "relu6", "leaky_relu",
                     "mish", "hard_silu", "hard_swish", "log_sigmoid", "hard_tanh")

_ACT_DEFAULT = {"kind": "activation", "f_init": 6.0}
_WEIGHT_DEFAULT = {"kind": "weight", "init_bits": 6}


def _serialize(q: HQuantizer) -> dict:
    config = keras.saving.serialize_keras_object(q)
    config.pop("build_config", None)  # the owning layer builds it
    return config


def _cast_in(x, deployed: bool):
    return ops.cast(x, "float64" if deployed else "float32")


@_register
class HQuantize(HLayer):
    """Quantize the model's input with learned per-element bit widths (the first HGQ layer).

    Args:
        output_quantizer: options for the :class:`~hgq_fpga.quantizer.HQuantizer` (a dict), e.g.
            ``{"overflow_mode": "SAT", "granularity": "per_channel"}``.
    """

    def __init__(self, output_quantizer: dict | None = None, beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(beta=beta, **kwargs)
        self.oq = make_quantizer(output_quantizer, _ACT_DEFAULT, "output_quantizer")

    def build(self, input_shape) -> None:
        self.oq.build(tuple(input_shape[1:]))

    def call(self, x, training=None):
        if self.oq.deployed:
            return self.oq.exact_quantize(x)
        xq, _ = self.oq.fake_quantize(ops.cast(x, "float32"), training=training)
        return xq

    def compute_output_spec(self, x):
        dtype = "float64" if self.oq.deployed else "float32"
        return keras.KerasTensor(x.shape, dtype=dtype)

    def output_bits(self):
        return self.oq.activation_bits()

    def output_types(self):
        return self.oq.fixed_types()

    def output_modes(self) -> tuple[str, str]:
        return self.oq.round_mode, self.oq.overflow_mode

    def freeze(self, margin: int = 0) -> None:
        self.oq.freeze_activation(margin)

    def get_config(self) -> dict:
        config = super().get_config()
        config["output_quantizer"] = _serialize(self.oq)
        return config


@_register
class HDense(HLayer):
    """Dense layer with a per-weight quantized kernel and bias and a per-activation quantized output.

    ``y = q_out(act(x @ q_w(W) + q_b(b)))``. The cost ``EBOPs = sum_ij ba(x_i) * bw(W_ij)`` uses
    the widths of the input (read from the producing HGQ layer) and is added to the loss as
    ``beta * EBOPs`` in training.

    In deployment mode the layer computes in float64: products and sums of the calibrated values
    are then exact (calibration checks that no accumulator needs more than 53 bits).

    Args:
        units: output size.
        activation: ``None``/``"linear"`` or ``"relu"``; use :class:`HActivation` for others.
        kernel_quantizer, bias_quantizer, output_quantizer: option dicts for the quantizers.
        beta: EBOPs weight in the loss.
    """

    has_ebops = True

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_quantizer: dict | None = None, bias_quantizer: dict | None = None,
                 output_quantizer: dict | None = None, beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(beta=beta, **kwargs)
        if activation not in (None, "linear", "relu"):
            raise ValueError(f"HDense supports activation None, 'linear' or 'relu', got {activation!r}; "
                             "use an HActivation layer after it for other functions")
        self.units = int(units)
        self.activation = activation or "linear"
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kq = make_quantizer(kernel_quantizer, _WEIGHT_DEFAULT, "kernel_quantizer")
        self.bq = make_quantizer(bias_quantizer, _WEIGHT_DEFAULT, "bias_quantizer") if use_bias else None
        self.oq = make_quantizer(output_quantizer, _ACT_DEFAULT, "output_quantizer")

    def build(self, input_shape) -> None:
        n_in = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(n_in, self.units),
                                      initializer=self.kernel_initializer, dtype="float32")
        self.kq.build((n_in, self.units))
        self.kq.init_from_values(self.kernel)
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,),
                                        initializer=self.bias_initializer, dtype="float32")
            self.bq.build((self.units,))
        self.oq.build(tuple(input_shape[1:-1]) + (self.units,))

    # ----------------------------------------------------------------- forward
    def call(self, x, training=None):
        if self.oq.deployed:
            return self._call_exact(x)
        x = ops.cast(x, "float32")
        kernel, bias = self.float_weights(x, training)
        wq, Fw = self.kq.fake_quantize(kernel)
        y = ops.matmul(x, wq)
        if self.use_bias:
            y = y + self.bq.fake_quantize(bias)[0]
        if self.activation == "relu":
            y = ops.relu(y)
        out, _ = self.oq.fake_quantize(y, training=training)
        if training:
            self._track_ebops(self._ebops(self.input_bits(), HQuantizer.weight_bits(wq, Fw)))
        return out

    def float_weights(self, x=None, training=None):
        """The float kernel and bias before quantization (a fused layer folds its batch norm in)."""
        return self.kernel, (self.bias if self.use_bias else None)

    def _call_exact(self, x):
        kernel, bias = self.float_weights()
        y = ops.matmul(ops.cast(x, "float64"), self.kq.exact_quantize(kernel))
        if self.use_bias:
            y = y + self.bq.exact_quantize(bias)
        if self.activation == "relu":
            y = ops.relu(y)
        return self.oq.exact_quantize(y)

    def compute_output_spec(self, x):
        dtype = "float64" if self.oq.deployed else "float32"
        return keras.KerasTensor(tuple(x.shape[:-1]) + (self.units,), dtype=dtype)

    def _ebops(self, ba, bw):
        ba = ops.reshape(ops.cast(ba, "float32"), (-1, bw.shape[0]))
        return ops.sum(ops.matmul(ba, bw))

    # ----------------------------------------------------------- information
    def compute_ebops(self):
        wq, Fw = self.kq.fake_quantize(self.float_weights()[0])
        return self._ebops(self.input_bits(), HQuantizer.weight_bits(wq, Fw))

    def quantized_kernel(self) -> np.ndarray:
        """The kernel as the firmware multiplies by it: exact float64 values (after calibration)."""
        kernel = self.float_weights()[0]
        if self.kq.deployed:
            return ops.convert_to_numpy(self.kq.exact_quantize(kernel)).astype(np.float64)
        return ops.convert_to_numpy(self.kq.fake_quantize(kernel)[0]).astype(np.float64)

    def quantized_bias(self) -> np.ndarray:
        """The bias as exact float64 values (zeros when ``use_bias=False``)."""
        if not self.use_bias:
            return np.zeros((self.units,), np.float64)
        bias = self.float_weights()[1]
        if self.bq.deployed:
            return ops.convert_to_numpy(self.bq.exact_quantize(bias)).astype(np.float64)
        return ops.convert_to_numpy(self.bq.fake_quantize(bias)[0]).astype(np.float64)

    def kernel_types(self):
        """Calibrated per-weight ``(k, i, f)``; ``W = 0`` marks a pruned weight."""
        return self.kq.fixed_types()

    def bias_types(self):
        return self.bq.fixed_types() if self.use_bias else tuple(np.zeros((3, self.units), np.int64))

    def output_bits(self):
        return self.oq.activation_bits()

    def output_types(self):
        return self.oq.fixed_types()

    def output_modes(self) -> tuple[str, str]:
        return self.oq.round_mode, self.oq.overflow_mode

    def weight_bit_widths(self) -> np.ndarray:
        """Per-weight width ``bw`` (magnitude bits) as int64: the multiplier size; 0 = pruned."""
        wq = self.quantized_kernel()
        F = self.kq.fixed_types()[2] if self.kq.deployed else self.kq.rounded_f()
        return _bit_length(np.abs(np.ldexp(wq, F)).astype(np.int64))

    # ------------------------------------------------------------ calibration
    def freeze(self, margin: int = 0) -> None:
        kernel, bias = self.float_weights()
        self.kq.freeze_weight(ops.convert_to_numpy(kernel))
        if self.use_bias:
            self.bq.freeze_weight(ops.convert_to_numpy(bias))
        self.oq.freeze_activation(margin)

    def exact_ebops(self) -> int:
        k, i, f = self.input_types()
        ba = (k + i + f).reshape(-1, self.kernel.shape[0])
        return int(np.sum(ba @ self.weight_bit_widths()))

    def check_exact(self) -> None:
        n_in = self.kernel.shape[0]
        k, i, f = (t.reshape(-1, n_in) for t in self.input_types())
        live = (k + i + f) > 0
        amax = np.max(np.where(live, np.ldexp(1.0, i), 0.0), axis=0)
        fin = np.max(np.where(live, f, -10**6), axis=0)
        wq = self.quantized_kernel()
        fw = self.kq.fixed_types()[2]
        bound = amax @ np.abs(wq)
        lsb = np.where((wq != 0) & (amax[:, None] > 0), fin[:, None] + fw, -10**6).max(axis=0)
        if self.use_bias:
            bq = self.quantized_bias()
            bound = bound + np.abs(bq)
            lsb = np.maximum(lsb, np.where(bq != 0, self.bq.fixed_types()[2], -10**6))
        with np.errstate(divide="ignore"):
            bits = np.where(bound > 0, np.log2(np.where(bound > 0, bound, 1.0)) + lsb, 0.0)
        if np.any(bits > 53 - 1e-9):
            j = int(np.argmax(bits))
            raise ValueError(f"HDense {self.name!r}: the accumulator of output {j} needs about "
                             f"{math.ceil(bits[j])} bits, more than the 53 that float64 holds exactly; "
                             "deployment-mode inference cannot be exact. Reduce the bit widths (raise beta).")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(units=self.units, activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer),
                      kernel_quantizer=_serialize(self.kq),
                      bias_quantizer=_serialize(self.bq) if self.use_bias else None,
                      output_quantizer=_serialize(self.oq))
        return config


def get_unary(activation: str | Callable) -> Callable:
    """Resolve an element-wise activation by name or callable; raise on anything else."""
    if callable(activation):
        return activation
    if not isinstance(activation, str) or activation not in UNARY_ACTIVATIONS:
        raise ValueError(f"unsupported activation {activation!r} for HActivation; expected a callable "
                         f"or one of {', '.join(UNARY_ACTIVATIONS)} (softmax is not element-wise)")
    return keras.activations.get(activation)


@_register
class HActivation(HLayer):
    """An element-wise function followed by a per-activation quantizer.

    ``relu`` and ``linear`` are exact arithmetic; any other unary function (tanh, sigmoid, a
    registered custom function) becomes a lookup table in firmware, indexed by the raw bits of the
    input. Use :meth:`table` to evaluate the deployed layer on given input values: that is the table.
    """

    def __init__(self, activation: str | Callable = "relu", output_quantizer: dict | None = None,
                 beta: float = 0.0, **kwargs: Any) -> None:
        super().__init__(beta=beta, **kwargs)
        self.fn = get_unary(activation)
        self.activation = activation
        self.oq = make_quantizer(output_quantizer, _ACT_DEFAULT, "output_quantizer")

    def build(self, input_shape) -> None:
        self.oq.build(tuple(input_shape[1:]))

    def call(self, x, training=None):
        if self.oq.deployed:
            return self.oq.exact_quantize(self.fn(ops.cast(x, "float64")))
        out, _ = self.oq.fake_quantize(self.fn(ops.cast(x, "float32")), training=training)
        return out

    def compute_output_spec(self, x):
        return keras.KerasTensor(x.shape, dtype="float64" if self.oq.deployed else "float32")

    def table(self, x) -> np.ndarray:
        """Deployment-mode outputs for inputs ``x`` (batch first), as float64: the lookup table."""
        return ops.convert_to_numpy(self(np.asarray(x, np.float64))).astype(np.float64)

    def output_bits(self):
        return self.oq.activation_bits()

    def output_types(self):
        return self.oq.fixed_types()

    def output_modes(self) -> tuple[str, str]:
        return self.oq.round_mode, self.oq.overflow_mode

    def freeze(self, margin: int = 0) -> None:
        self.oq.freeze_activation(margin)

    def get_config(self) -> dict:
        config = super().get_config()
        act = self.activation
        config["activation"] = act if isinstance(act, str) else keras.saving.serialize_keras_object(act)
        config["output_quantizer"] = _serialize(self.oq)
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
        return ops.reshape(t, self.target_shape) if not isinstance(t, np.ndarray) else t.reshape(self.target_shape)

    def call(self, x):
        return ops.reshape(x, (ops.shape(x)[0],) + self.target_shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


@_register
class HDenseBatchNorm(HDense):
    """HDense with a batch normalisation folded into its kernel and bias before quantization.

    Training uses the batch statistics of ``x @ W`` (and updates moving averages); inference and
    deployment use the moving averages. The firmware sees one dense layer with the fused,
    quantized kernel ``W * gamma / sqrt(var + eps)`` and bias ``(b - mean) * gamma / sqrt(var + eps) + beta``,
    which :meth:`quantized_kernel` / :meth:`quantized_bias` return.
    """

    def __init__(self, units: int, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs: Any) -> None:
        kwargs["use_bias"] = True
        super().__init__(units, **kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        self.gamma = self.add_weight(name="gamma", shape=(self.units,), initializer="ones", dtype="float32")
        self.bn_beta = self.add_weight(name="bn_beta", shape=(self.units,), initializer="zeros",
                                       dtype="float32")
        self.moving_mean = self.add_weight(name="moving_mean", shape=(self.units,), initializer="zeros",
                                           trainable=False, dtype="float32")
        self.moving_var = self.add_weight(name="moving_var", shape=(self.units,), initializer="ones",
                                          trainable=False, dtype="float32")

    def float_weights(self, x=None, training=None):
        if training and x is not None:
            z = ops.reshape(ops.matmul(x, self.kernel) + self.bias, (-1, self.units))
            mean = ops.mean(z, axis=0)
            var = ops.var(z, axis=0)
            m = self.momentum
            self.moving_mean.assign(m * self.moving_mean + (1 - m) * ops.stop_gradient(mean))
            self.moving_var.assign(m * self.moving_var + (1 - m) * ops.stop_gradient(var))
        else:
            mean, var = self.moving_mean, self.moving_var
        scale = self.gamma / ops.sqrt(var + self.epsilon)
        return self.kernel * scale, (self.bias - mean) * scale + self.bn_beta

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("use_bias", None)
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config

"""Batch normalisations: folded into a kernel layer's kernel and bias before quantization, or
standalone (:class:`HBatchNormalization`, anywhere: after an activation, on particles).

The firmware has no batch-norm op: it sees one dense or convolution layer whose quantized
weights already contain the normalisation:

    W' = W * s,   b' = (b - mean) * s + beta_bn,   with  s = gamma / sqrt(var + epsilon),

so quantization is trained on (and calibrated for) exactly the weights the hardware multiplies by.
Training uses the batch statistics of ``x ⊛ W + b`` and updates the moving averages; inference and
calibration use the moving averages. Calibration stores the fused, quantized kernel and bias
(float64 variables ``kernel_calibrated``, ``bias_calibrated``): deployment and conversion read those and
never recompute the fusion, whose float32 result depends on how it is compiled (XLA rewrites
``gamma / sqrt(var)`` as ``gamma * rsqrt(var)``, for example).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.layers.conv import HConv1D, HConv2D
from hgq_fpga.nn.layers.dense import HDense
from hgq_fpga.nn.layers.einsum_dense import HEinsumDense

_register = keras.saving.register_keras_serializable(package="hgq_fpga")


class BatchNormFolding:
    """Mixin for an :class:`~hgq_fpga.nn.layers.linear.HLinear` subclass: fold a batch norm in.

    Put it first in the bases (``class HDenseBatchNorm(BatchNormFolding, HDense)``). It overrides
    :meth:`float_weights`, which every path of ``HLinear`` (training, deployment, calibration,
    ``quantized_kernel``/``quantized_bias``) reads the weights through.

    Args:
        momentum: moving-average momentum of the batch statistics.
        epsilon: added to the variance.
    The layer always has a bias (the folded shift); ``use_bias=False`` is refused.
    """

    def __init__(self, *args: Any, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs: Any) -> None:
        if not kwargs.pop("use_bias", True):
            raise ValueError(f"{type(self).__name__} always has a bias (the folded batch-norm shift); "
                             "use_bias=False is not supported")
        super().__init__(*args, use_bias=True, **kwargs)
        if not 0.0 <= float(momentum) < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if not float(epsilon) > 0.0:
            raise ValueError(f"epsilon must be > 0, got {epsilon}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def build(self, input_shape) -> None:
        super().build(input_shape)
        n = tuple(self.kernel.shape[-1:])
        self.gamma = self.add_weight(name="gamma", shape=n, initializer="ones", dtype="float32")
        self.bn_beta = self.add_weight(name="bn_beta", shape=n, initializer="zeros", dtype="float32")
        self.moving_mean = self.add_weight(name="moving_mean", shape=n, initializer="zeros",
                                           trainable=False, dtype="float32")
        self.moving_var = self.add_weight(name="moving_var", shape=n, initializer="ones",
                                          trainable=False, dtype="float32")
        # the fused quantized weights fixed by calibration (what deployment multiplies by)
        self.kernel_calibrated = self.add_weight(name="kernel_calibrated", shape=tuple(self.kernel.shape),
                                               initializer="zeros", trainable=False, dtype="float64")
        self.bias_calibrated = self.add_weight(name="bias_calibrated", shape=n, initializer="zeros",
                                             trainable=False, dtype="float64")

    def _batch_moments(self, x):
        """Mean and variance of ``x ⊛ W + b`` over all but the channel axis; updates the moving ones."""
        z = self.apply_kernel(x, self.kernel) + self.bias
        mean, var = ops.moments(z, axes=tuple(range(len(z.shape) - 1)))
        m = self.momentum
        self.moving_mean.assign(m * self.moving_mean + (1 - m) * ops.stop_gradient(mean))
        self.moving_var.assign(m * self.moving_var + (1 - m) * ops.stop_gradient(var))
        return mean, var

    def float_weights(self, x=None, training=None):
        """The fused float kernel and bias (batch statistics when training on ``x``)."""
        if training and x is not None:
            mean, var = self._batch_moments(x)
        else:
            mean, var = self.moving_mean, self.moving_var
        scale = self.gamma / ops.sqrt(var + self.epsilon)
        return self.kernel * scale, (self.bias - mean) * scale + self.bn_beta

    def calibrated_weights(self):
        """The fused quantized kernel and bias stored at calibration (float64)."""
        return (ops.convert_to_tensor(self.kernel_calibrated, "float64"),
                ops.convert_to_tensor(self.bias_calibrated, "float64"))

    def _store_calibrated(self, wq, bq) -> None:
        self.kernel_calibrated.assign(np.asarray(wq, np.float64))
        self.bias_calibrated.assign(np.asarray(bq, np.float64))

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("use_bias", None)
        config.update(momentum=self.momentum, epsilon=self.epsilon)
        return config


@_register
class HDenseBatchNorm(BatchNormFolding, HDense):
    """:class:`HDense` with a batch normalisation folded into its kernel and bias before quantization.

    ``quantized_kernel()`` / ``quantized_bias()`` return the fused quantized values; the converter
    emits a plain Dense op with them.
    """


@_register
class HConv1DBatchNorm(BatchNormFolding, HConv1D):
    """:class:`HConv1D` with a batch normalisation folded into its kernel and bias (per filter).

    ``quantized_kernel()`` / ``quantized_bias()`` return the fused quantized values; the converter
    emits a plain Conv op with them.
    """


@_register
class HConv2DBatchNorm(BatchNormFolding, HConv2D):
    """:class:`HConv2D` with a batch normalisation folded into its kernel and bias (per filter).

    ``quantized_kernel()`` / ``quantized_bias()`` return the fused quantized values; the converter
    emits a plain Conv op with them.
    """


@_register
class HBatchNormalization(BatchNormFolding, HEinsumDense):
    """A standalone batch normalisation on the last axis: ``y = q_out(x · q_s(s) + q_t(t))`` per channel.

    ``s = gamma / sqrt(var + epsilon)`` and ``t = beta - mean · s`` are quantized with learned
    per-channel widths (the options ``kernel_quantizer`` for ``s``, ``bias_quantizer`` for ``t``):
    a per-channel constant affine map, exact in firmware (an ``EinsumDense`` with the equation
    ``"...c,c->...c"``). Training normalises with the batch statistics and updates the moving ones,
    as ``keras.layers.BatchNormalization`` does; calibration stores the fused, quantized ``s`` and
    ``t`` (never recomputed: TensorFlow's ``rsqrt`` differs between compilers). EBOPs:
    ``Σ ba(x) · bw(s)`` over every element.

    Args:
        axis: must be -1 (the channel axis, last).
        momentum, epsilon: as in Keras.
        kernel_quantizer, bias_quantizer, output_quantizer, beta: quantizer options and EBOPs weight.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 **kwargs: Any) -> None:
        if axis != -1:
            raise ValueError(f"HBatchNormalization normalises the last axis only (axis=-1), got axis={axis!r}")
        for key in ("equation", "output_shape", "bias_axes", "activation"):
            kwargs.pop(key, None)
        kwargs.setdefault("kernel_initializer", "ones")
        super().__init__("...c,c->...c", None, bias_axes="c", momentum=momentum, epsilon=epsilon,
                         **kwargs)
        self.axis = -1

    def build(self, input_shape) -> None:
        self.partial_output_shape = [int(input_shape[-1])]
        super().build(input_shape)
        # the scale and shift are gamma and beta; the einsum's own kernel (ones) and bias (zeros) stay
        self.kernel.trainable = False
        self.bias.trainable = False

    def get_config(self) -> dict:
        config = super().get_config()
        for key in ("equation", "output_shape", "bias_axes", "activation"):
            config.pop(key, None)
        config["axis"] = self.axis
        return config

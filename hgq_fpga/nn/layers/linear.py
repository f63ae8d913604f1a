"""Shared machinery of the layers that multiply by a quantized kernel: HDense and HConv1D/2D.

Such a layer computes ``y = q_out(act(x ⊛ q_w(W) + q_b(b)))`` where ``⊛`` is a matrix product or
a convolution. A subclass says which (:meth:`HLinear.apply_kernel`) and what the shapes are; the
quantizers, both forward passes, EBOPs, calibration, the float64 exactness check and the weight
interface that the converter reads live here, once.

The kernel and bias are always read through :meth:`HLinear.float_weights`, so a subclass that
folds something into them (a batch normalisation, :mod:`hgq_fpga.nn.layers.batchnorm`) changes what
is quantized, trained, calibrated and converted in one place.
"""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.fixed import bit_length
from hgq_fpga.nn import adder_cost, ii_cost
from hgq_fpga.nn.quantizers.hgq import (WEIGHT_DEFAULTS, HQuantizer, make_quantizer,
                                        serialize_quantizer)
from hgq_fpga.nn.layers.base import HOutputQuantized, check_float64_exact


class HLinear(HOutputQuantized):
    """Base of the kernel layers (not used directly): quantized kernel, bias and output.

    EBOPs are ``sum over multiplications of ba(input element) * bw(weight)``, counted by running
    :meth:`apply_kernel` on the input widths with the weight widths as kernel; in training they are
    added to the loss as ``beta * EBOPs``. In calibrated mode the layer computes in float64: the
    products and sums of calibrated values are exact, which :meth:`check_exact` verifies.

    Args:
        activation: ``None``/``"linear"`` or ``"relu"``; use :class:`HActivation` for others.
        use_bias: whether to add a (quantized) bias.
        kernel_initializer, bias_initializer: Keras initializers of the float weights.
        kernel_quantizer, bias_quantizer, output_quantizer: option dicts for the quantizers.
        beta: EBOPs weight in the loss.
        adder_gamma: weight of the adder-count surrogate in the loss (:mod:`hgq_fpga.nn.adder_cost`);
            ``None`` (default) leaves it out of the training step.
    """

    has_ebops = True
    #: whether the RTL folds the layer over several cycles at II > 1 (its IR op is ``dense`` / ``conv``)
    foldable = False
    #: the cycles the training cost assumes (:func:`hgq_fpga.nn.ii_cost.set_ii`); 1: EBOPs
    ii = 1

    def __init__(self, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_quantizer: dict | None = None, bias_quantizer: dict | None = None,
                 output_quantizer: dict | None = None, beta: float = 0.0,
                 adder_gamma: float | None = None, **kwargs: Any) -> None:
        super().__init__(output_quantizer=output_quantizer, beta=beta, **kwargs)
        self.adder_gamma, self.adders_var = adder_cost.make_gamma(self, adder_gamma)
        if activation not in (None, "linear", "relu"):
            raise ValueError(f"{type(self).__name__} supports activation None, 'linear' or 'relu', got "
                             f"{activation!r}; use an HActivation layer after it for other functions")
        self.activation = activation or "linear"
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kq = make_quantizer(kernel_quantizer, WEIGHT_DEFAULTS, "kernel_quantizer")
        self.bq = make_quantizer(bias_quantizer, WEIGHT_DEFAULTS, "bias_quantizer") if use_bias else None

    # ------------------------------------------------------- subclass interface
    def apply_kernel(self, x, w):
        """``x ⊛ w`` for a batch ``x`` (the matrix product or the convolution of the layer)."""
        raise NotImplementedError

    def _build_weights(self, kernel_shape: tuple[int, ...], output_shape: tuple[int, ...],
                       bias_shape: tuple[int, ...] | None = None) -> None:
        """Create the kernel, bias and quantizers (``output_shape`` without the batch axis; the
        bias is one per output channel unless ``bias_shape`` says otherwise)."""
        self.kernel = self.add_weight(name="kernel", shape=kernel_shape,
                                      initializer=self.kernel_initializer, dtype="float32")
        self.kq.build(kernel_shape)
        self.kq.init_from_values(self.kernel)
        if self.use_bias:
            bias_shape = tuple(kernel_shape[-1:] if bias_shape is None else bias_shape)
            self.bias = self.add_weight(name="bias", shape=bias_shape,
                                        initializer=self.bias_initializer, dtype="float32")
            self.bq.build(bias_shape)
        self.oq.build(tuple(output_shape))

    def kernel_is_zero(self) -> bool:
        """True when every weight of the kernel rounds to 0 at its current widths: the layer then gives
        0 outputs and no gradient to its weights, so it cannot train (a start of few fractional bits
        in a very wide layer)."""
        if not isinstance(self.kq, HQuantizer) or self.kq.calibrated:
            return False
        q = ops.convert_to_numpy(self.kq.fake_quantize(self.kernel)[0])
        return bool(q.size) and not np.any(q)

    def float_weights(self, x=None, training=None):
        """The float kernel and bias (``None`` without bias) before quantization.

        ``x`` is the float32 input batch in training mode; a fused layer may derive statistics
        from it. Without ``x`` (inference, deployment, conversion) the result depends on the
        layer's variables only.
        """
        return self.kernel, (self.bias if self.use_bias else None)

    # ----------------------------------------------------------------- forward
    def _activate(self, y):
        return ops.relu(y) if self.activation == "relu" else y

    def call(self, x, training=None):
        if self._calibrated_for(training):
            return self._call_exact(x)
        x = ops.cast(x, "float32")
        kernel, bias = self.float_weights(x, training)
        wq, Fw = self.kq.fake_quantize(kernel)
        y = self.apply_kernel(x, wq)
        bq = self.bq.fake_quantize(bias)[0] if self.use_bias else None
        if self.use_bias:
            y = y + bq
        out, _ = self.oq.fake_quantize(self._activate(y), training=training)
        if training:
            ba, bw = self.input_bits(), HQuantizer.weight_bits(wq, Fw)
            ebops = self._ebops(ba, bw)
            self._track_ebops(ebops, ebops if self.ii == 1 else ii_cost.ebops_per_ii(self, ba, bw, self.ii))
            if self.adder_gamma is not None:
                adder_cost.track(self, kernel, wq, Fw, bq)
        return out

    def _call_exact(self, x):
        """Calibrated mode: float64 products and sums of calibrated values, then the output cast."""
        kernel, bias = self.calibrated_weights()
        y = self.apply_kernel(ops.cast(x, "float64"), kernel)
        if self.use_bias:
            y = y + bias
        return self.oq.exact_quantize(self._activate(y))

    def calibrated_weights(self):
        """Calibrated mode: the quantized kernel and bias (``None`` without bias) as float64 tensors.

        Computed from the float variables with exact operations only; a layer whose float weights
        are themselves computed (a folded batch norm) overrides this with values fixed at calibration.
        """
        kernel, bias = self.float_weights()
        return (self.kq.exact_quantize(kernel),
                self.bq.exact_quantize(bias) if self.use_bias else None)

    def _store_calibrated(self, wq: np.ndarray, bq: np.ndarray | None) -> None:
        """Calibration hook: the exact quantized kernel and bias just fixed (float64 arrays)."""

    # ------------------------------------------------------------------ EBOPs
    def _ebops(self, ba, bw):
        """``sum ba * bw`` over every multiplication: the layer's own op on the widths."""
        return ops.sum(self.apply_kernel(ops.cast(ba, bw.dtype)[None], bw))

    def operand_widths(self, calibrated: bool):
        """``(ba, bw)``: the input widths and the weight widths that EBOPs multiply, from the
        training-mode variables (float32) or, ``calibrated``, from the fixed types (float64)."""
        if calibrated:
            k, i, f = self.input_types()
            return (ops.convert_to_tensor((k + i + f).astype(np.float64)),
                    ops.convert_to_tensor(self.weight_bit_widths().astype(np.float64)))
        wq, Fw = self.kq.fake_quantize(self.float_weights()[0])
        return self.input_bits(), HQuantizer.weight_bits(wq, Fw)

    def compute_ebops(self):
        return self._ebops(*self.operand_widths(False))

    def exact_ebops(self) -> int:
        return int(ops.convert_to_numpy(self._ebops(*self.operand_widths(True))))  # integers below 2**53: exact

    # ----------------------------------------------------------- information
    def quantized_kernel(self) -> np.ndarray:
        """The kernel as the firmware multiplies by it: exact float64 values (after calibration)."""
        v = self.calibrated_weights()[0] if self.kq.calibrated else self.kq.fake_quantize(self.float_weights()[0])[0]
        return ops.convert_to_numpy(v).astype(np.float64)

    def quantized_bias(self) -> np.ndarray:
        """The bias as exact float64 values (zeros when ``use_bias=False``)."""
        if not self.use_bias:
            return np.zeros(self.kernel.shape[-1:], np.float64)
        v = self.calibrated_weights()[1] if self.bq.calibrated else self.bq.fake_quantize(self.float_weights()[1])[0]
        return ops.convert_to_numpy(v).astype(np.float64)

    def kernel_types(self):
        """Calibrated per-weight ``(k, i, f)``; ``W = 0`` marks a pruned weight."""
        return self.kq.fixed_types()

    def bias_types(self):
        if not self.use_bias:
            return tuple(np.zeros((3,) + tuple(self.kernel.shape[-1:]), np.int64))
        return self.bq.fixed_types()

    def weight_bit_widths(self) -> np.ndarray:
        """Per-weight width ``bw`` (magnitude bits) as int64: the multiplier size; 0 = pruned."""
        wq = self.quantized_kernel()
        F = self.kq.fixed_types()[2] if self.kq.calibrated else self.kq.rounded_f()
        return bit_length(np.abs(np.ldexp(wq, F)).astype(np.int64))

    # ------------------------------------------------------------ calibration
    def calibrate_types(self, margin: int = 0) -> None:
        kernel, bias = self.float_weights()
        wq = self.kq.calibrate_weight(ops.convert_to_numpy(kernel))
        bq = self.bq.calibrate_weight(ops.convert_to_numpy(bias)) if self.use_bias else None
        self._store_calibrated(wq, bq)
        super().calibrate_types(margin)

    def check_exact(self) -> None:
        """Refuse a calibration whose accumulators could need more than float64's 53 bits.

        Bound per output channel: ``sum over taps and input channels of 2^i_in * |w|`` (plus the
        bias), at the finest lsb among the products that can be nonzero.
        """
        super().check_exact()
        cin, cout = self.kernel.shape[-2], self.kernel.shape[-1]
        k, i, f = (t.reshape(-1, cin) for t in self.input_types())
        live = (k + i + f) > 0
        amax = np.max(np.where(live, np.ldexp(1.0, i), 0.0), axis=0)          # per input channel
        fin = np.max(np.where(live, f, -10**6), axis=0)
        wq = self.quantized_kernel().reshape(-1, cin, cout)
        fw = self.kq.fixed_types()[2].reshape(-1, cin, cout)
        bound = np.einsum("c,tco->o", amax, np.abs(wq))
        lsb = np.where((wq != 0) & (amax[None, :, None] > 0), fin[None, :, None] + fw,
                       -10**6).max(axis=(0, 1))
        if self.use_bias:
            bq = self.quantized_bias()
            bound = bound + np.abs(bq)
            lsb = np.maximum(lsb, np.where(bq != 0, self.bq.fixed_types()[2], -10**6))
        check_float64_exact(self, bound, lsb, "the accumulator of output channel {j}",
                            "Reduce the bit widths (raise beta).")

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
                      bias_initializer=keras.initializers.serialize(self.bias_initializer),
                      kernel_quantizer=serialize_quantizer(self.kq),
                      bias_quantizer=serialize_quantizer(self.bq) if self.use_bias else None,
                      adder_gamma=adder_cost.gamma_config(self))
        return config


def warn_zero_kernels(model: keras.Model) -> None:
    """Warn, naming each, about the kernel layers of ``model`` that cannot train because every weight
    rounds to 0 (:meth:`HLinear.kernel_is_zero`); the β callbacks call it when training begins."""
    from hgq_fpga.nn.layers.base import hgq_layers

    for layer in hgq_layers(model):
        if isinstance(layer, HLinear) and layer.kernel_is_zero():
            f = float(np.max(ops.convert_to_numpy(layer.kq.f)))
            top = float(np.max(np.abs(ops.convert_to_numpy(layer.kernel))))
            # the fewest fractional bits that keep the largest weight off 0 when rounded, and one more
            hint = (f"start it with more, e.g. kernel_quantizer={{'f_init': {int(np.ceil(-np.log2(top))) + 1}}}"
                    if top > 0 else "its initial weights are all 0")
            warnings.warn(f"{layer.name}: every weight of the kernel is 0 at the start ({f:g} fractional bits, "
                          f"largest |weight| {top:.3g}), so it cannot train; {hint}", stacklevel=3)

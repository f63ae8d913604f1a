"""The trainable HGQ quantizer (``docs/method.md`` §2 and §4).

One :class:`HQuantizer` quantizes one tensor: a kernel, a bias or an activation. It owns a float
variable ``f`` (fractional bits) at the chosen granularity and has two modes:

* **training mode** (float32): ``xq = round(x * 2**F) / 2**F`` with ``F = round(f)``; the gradient
  with respect to ``x`` is straight-through and the gradient with respect to ``f`` is the surrogate
  ``-ln2 * (xq - x)``. Integer bits are not trained: weights take them from their value,
  activations from the running min/max of ``xq`` (reset every epoch by :class:`hgq_fpga.nn.layers.base.RangeResetter`).
* **calibrated mode** (after :func:`hgq_fpga.calibrate`): every element has a fixed ``(k, i, f)``
  stored in the variables ``k_fixed``, ``i_fixed``, ``f_fixed``; the quantizer computes in float64
  and applies its rounding *and overflow* mode exactly as ``ap_fixed`` does, so Keras inference
  equals the firmware even outside the calibrated range.

The converter reads a calibrated quantizer through :meth:`HQuantizer.fixed_types`,
:attr:`HQuantizer.round_mode` and :attr:`HQuantizer.overflow_mode`.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga import fixed
from hgq_fpga.nn.keras_backend import compiled, concrete, floor_keep_dtype, read, require_float64, same_trace
from hgq_fpga.nn.quantizers.exact import (EXP2_BITS, exact_float64, exp2_exact,
                                          strictly_negative)
from hgq_fpga.nn.quantizers.pow2 import LIMIT as POW2_LIMIT
from hgq_fpga.nn.quantizers.pow2 import int_bits, pow2
from hgq_fpga.nn.quantizers.starts import DEFAULT_START, start_options

GRANULARITIES = ("per_element", "per_channel", "per_tensor")
KINDS = ("weight", "activation")
TRAIN_ROUNDING = ("TRN", "RND")
TRAIN_OVERFLOW = ("WRAP", "SAT")
_LN2 = math.log(2.0)


def _broadcast_axes(x_shape, f_shape) -> tuple[list[int], tuple]:
    """The axes of ``x`` that a tensor of ``f_shape`` is broadcast along, and ``f_shape`` itself."""
    x_shape, f_shape = tuple(x_shape), tuple(f_shape)
    lead = len(x_shape) - len(f_shape)
    axes = list(range(lead)) + [lead + a for a, n in enumerate(f_shape) if n == 1 and x_shape[lead + a] != 1]
    return axes, f_shape


def _round_clipped(f, lo: float, hi: float):
    """``round(clip(f, lo, hi))`` with the gradient of the clip alone (straight through the round:
    1 where ``lo <= f <= hi``, else 0), as one op."""
    f = read(f)

    @ops.custom_gradient
    def rounded(f):
        fc = ops.clip(f, lo, hi)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return upstream * ops.cast(ops.equal(fc, f), upstream.dtype)   # lo <= f <= hi

        return ops.round(fc), grad

    return rounded(f)


def _fake_quantize(x, F, round_scaled):
    """``(xq, xq_val)``: ``xq`` carries the straight-through gradients (see ``fake_quantize``),
    ``xq_val`` is the same value without gradient."""
    x, F = read(x), read(F)  # a variable is read once, outside: the op sees tensors only

    @ops.custom_gradient
    def quantize(x, F):
        scale = pow2(ops.stop_gradient(F))
        # exact: a product and a quotient by a power of two (the quotient is the product by
        # 2**-F, bit for bit: both round the same real number, and save computing 2**-F)
        xq = round_scaled(x * scale) / scale

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            dF = upstream * (_LN2 * (x - xq))  # x - xq = -(xq - x)
            axes, f_shape = _broadcast_axes(dF.shape, F.shape)
            if axes:
                dF = ops.reshape(ops.sum(dF, axis=axes), f_shape)
            return upstream, dF

        return xq, grad

    xq = quantize(x, F)
    return xq, ops.stop_gradient(xq)


@keras.saving.register_keras_serializable(package="hgq_fpga")
class HQuantizer(keras.layers.Layer):
    """Quantize one tensor with learned per-element (or per-channel / per-tensor) bit widths.

    Args:
        kind: ``"weight"`` (integer bits from the quantized value) or ``"activation"``
            (sign and integer bits from the running range of the quantized values).
        granularity: ``"per_element"`` (default), ``"per_channel"`` (last axis) or ``"per_tensor"``:
            the shape of the trainable ``f``.
        round_mode: ``"TRN"`` (toward -inf) or ``"RND"`` (half up), as ``ap_fixed`` defines them.
        overflow_mode: ``"WRAP"`` or ``"SAT"``; applied in calibrated mode only.
        f_init: initial fractional bits (activations; weights when ``init_bits`` is None).
        init_bits: for weights, start each weight with about this many significant bits.
        f_min, f_max: bounds on ``f``.
        calibrated: whether the fixed types are in force (set by calibration; saved in the config).
    """

    def __init__(self, kind: str = "activation", granularity: str = "per_element",
                 round_mode: str = "TRN", overflow_mode: str = "WRAP", f_init: float = 6.0,
                 init_bits: int | None = None, f_min: float = -8.0, f_max: float = 16.0,
                 calibrated: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"HQuantizer kind must be one of {KINDS}, got {kind!r}")
        if granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
        round_mode = fixed.check_round(round_mode)
        overflow_mode = fixed.check_overflow(overflow_mode)
        if round_mode not in TRAIN_ROUNDING:
            raise ValueError(f"HQuantizer supports rounding {TRAIN_ROUNDING}, got {round_mode!r}")
        if overflow_mode not in TRAIN_OVERFLOW:
            raise ValueError(f"HQuantizer supports overflow {TRAIN_OVERFLOW}, got {overflow_mode!r}")
        if not f_min <= f_init <= f_max:
            raise ValueError(f"need f_min <= f_init <= f_max, got {f_min}, {f_init}, {f_max}")
        if not -POW2_LIMIT <= f_min <= f_max <= POW2_LIMIT:
            raise ValueError(f"f_min and f_max must lie in [-{POW2_LIMIT}, {POW2_LIMIT}] (2**f must be a "
                             f"normal float32), got {f_min}, {f_max}")
        self.kind = kind
        self.granularity = granularity
        self.round_mode = round_mode
        self.overflow_mode = overflow_mode
        self.f_init = float(f_init)
        self.init_bits = init_bits
        self.f_min = float(f_min)
        self.f_max = float(f_max)
        self.calibrated = bool(calibrated)
        #: set by calibration: record ranges even outside training
        self.recording = False
        self.tensor_shape: tuple[int, ...] | None = None
        #: the calibrated (k, i, f) as last read (JAX cannot read variables while it compiles)
        self._types: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._exact = None   # exact_quantize's compiled function, made on first use
        #: the F of the last training-mode quantization (an activation's), for activation_bits in
        #: the same traced step (see _step_F)
        self._traced_F = None

    # ------------------------------------------------------------------ build
    def build(self, shape) -> None:
        """Create the variables for a tensor of ``shape`` (no batch axis for activations)."""
        if self.tensor_shape is not None:
            return
        shape = tuple(int(s) for s in shape)
        if any(s is None for s in shape):
            raise ValueError(f"HQuantizer needs a fully known shape, got {shape}")
        self.tensor_shape = shape
        if self.granularity == "per_element":
            fshape = shape
        elif self.granularity == "per_channel":
            fshape = tuple(1 for _ in shape[:-1]) + shape[-1:]
        else:
            fshape = tuple(1 for _ in shape)
        self.f = self.add_weight(name="f", shape=fshape,
                                 initializer=keras.initializers.Constant(self.f_init),
                                 trainable=True, dtype="float32")
        if self.kind == "activation":
            self.vmin = self.add_weight(name="vmin", shape=shape,
                                        initializer=keras.initializers.Constant(np.inf),
                                        trainable=False, dtype="float32")
            self.vmax = self.add_weight(name="vmax", shape=shape,
                                        initializer=keras.initializers.Constant(-np.inf),
                                        trainable=False, dtype="float32")
            # 1.0 = the next recorded batch starts a new range (set at each epoch start)
            self.stale = self.add_weight(name="stale", shape=(), initializer="zeros",
                                         trainable=False, dtype="float32")
        zeros = keras.initializers.Zeros()
        self.k_fixed = self.add_weight(name="k_fixed", shape=shape, initializer=zeros,
                                       trainable=False, dtype="float32")
        self.i_fixed = self.add_weight(name="i_fixed", shape=shape, initializer=zeros,
                                       trainable=False, dtype="float32")
        self.f_fixed = self.add_weight(name="f_fixed", shape=shape, initializer=zeros,
                                       trainable=False, dtype="float32")
        self.built = True

    def init_from_values(self, w) -> None:
        """Weights: set ``f`` so that every weight starts with about ``init_bits`` significant bits."""
        if self.init_bits is None:
            return
        w = np.abs(np.asarray(keras.ops.convert_to_numpy(w), dtype=np.float64))
        w = np.broadcast_to(w, self.tensor_shape)
        if self.granularity != "per_element":
            axes = tuple(range(w.ndim - 1)) if self.granularity == "per_channel" else None
            w = np.max(w, axis=axes, keepdims=True) if axes != () else w
            w = np.broadcast_to(w, self.f.shape)
        with np.errstate(divide="ignore"):
            ib = np.where(w > 0, np.floor(np.log2(np.where(w > 0, w, 1.0))) + 1, 0.0)
        f = np.clip(self.init_bits - ib, self.f_min, self.f_max).reshape(self.f.shape)
        self.f.assign(f.astype(np.float32))

    # --------------------------------------------------------------- training
    def _F(self):
        """``F = round(clip(f))`` in value, with a straight-through gradient to ``f``."""
        return _round_clipped(self.f, self.f_min, self.f_max)

    def fake_quantize(self, x, training: bool = False):
        """Training-mode quantization in the input's float dtype; returns ``(xq, F)``.

        Value ``xq = round_scaled(x * 2**F) / 2**F``; gradients: ``d/dx = 1`` (straight through)
        and ``d/dF = ln2 * (x - xq)`` (the surrogate), summed over the axes that ``F`` is
        broadcast along. Written as one custom-gradient op, the forward pass is the quantization
        alone: the same value and gradients as ``xq + (x - sg(x)) + (F - sg(F)) * ln2 * (x - xq)``
        (``sg`` = stop_gradient), without evaluating that expression's zero terms and their
        gradients on every element of every batch. (A zero may keep the sign of ``x``, ``-0.0``
        where the sum gave ``0.0``; the two are equal, and training mode is not the exact path.)
        """
        F = self._F()
        xq, xq_val = _fake_quantize(x, F, self.round_scaled)
        if self.kind == "activation" and (training or self.recording):
            self._record(xq_val)
            self._traced_F = F if same_trace(F) else None     # kept only inside a TensorFlow trace
        return xq, F

    def round_scaled(self, v):
        """Training mode: round the scaled value ``v = x * 2**F`` to an integer code (float tensor).

        The hook a weight quantizer with another code set overrides (``docs/method.md`` §8).
        """
        if self.round_mode == "RND":
            v = v + 0.5
        return ops.floor(v)

    def _record(self, xq) -> None:
        lo = ops.min(xq, axis=0)
        hi = ops.max(xq, axis=0)
        stale = self.stale > 0.5
        self.vmin.assign(ops.where(stale, lo, ops.minimum(self.vmin, lo)))
        self.vmax.assign(ops.where(stale, hi, ops.maximum(self.vmax, hi)))
        self.stale.assign(0.0)

    def mark_stale(self) -> None:
        """Let the next recorded batch start a new range (done automatically at each epoch start).

        The old range stays readable until then, so validation or ``ebops(model)`` after ``fit``
        still see the last epoch's range.
        """
        if self.kind == "activation" and self.built:
            self.stale.assign(1.0)

    def reset_ranges(self) -> None:
        """Forget the recorded activation range now."""
        if self.kind == "activation" and self.built:
            self.stale.assign(0.0)
            self.vmin.assign(np.full(self.vmin.shape, np.inf, np.float32))
            self.vmax.assign(np.full(self.vmax.shape, -np.inf, np.float32))

    def _step_F(self):
        """``F`` for :meth:`activation_bits`: the one this step's quantization computed, where it is
        in the graph being traced (the next layer's EBOPs then reuse it, and its gradient, instead
        of computing ``round(clip(f))`` again: fewer operations per training step), else anew."""
        F = self._traced_F
        return F if F is not None and same_trace(F) else self._F()

    def activation_bits(self, F=None):
        """Per-element width ``ba = max(0, k + i + F)`` from the running range (float32 tensor).

        Differentiable with respect to ``f`` through the straight-through round.
        """
        if self.kind != "activation":
            raise TypeError("activation_bits is for activation quantizers")
        if self.calibrated:
            return ops.convert_to_tensor(self.k_fixed + self.i_fixed + self.f_fixed)
        if F is None:
            F = self._step_F()
        lo = ops.stop_gradient(ops.convert_to_tensor(self.vmin))
        hi = ops.stop_gradient(ops.convert_to_tensor(self.vmax))
        # an element never seen has lo = inf, hi = -inf: magnitude 0 and unsigned, as the range [0, 0]
        mag = ops.maximum(ops.maximum(hi, -lo), 0.0)
        k = ops.cast(lo < 0, "float32")
        return ops.relu(k + int_bits(mag) + F)      # mag == 0: k = 0, int_bits = -POW2_LIMIT: 0

    @staticmethod
    def weight_bits(wq, F):
        """Per-element weight width ``bw = max(0, floor(log2|wq|) + 1 + F)``, 0 for ``wq == 0``
        (whose :func:`~hgq_fpga.nn.quantizers.pow2.int_bits` is ``-POW2_LIMIT``, below any ``-F``)."""
        return ops.relu(int_bits(ops.stop_gradient(wq)) + F)

    # ------------------------------------------------------------- deployment
    def exact_quantize(self, x):
        """Calibrated-mode cast to the fixed per-element types, in float64, with overflow.

        Only exact operations: products by powers of two (:func:`exp2_exact`, never ``pow``),
        ``floor``, comparisons and sums of integers below ``2**53``, so the result is the same
        eagerly, in a ``tf.function``, under XLA (``jit_compile``) and under JAX's ``jit``.
        Under JAX it runs as one compiled function also when called eagerly (see
        :func:`~hgq_fpga.nn.keras_backend.compiled`).
        """
        if self._exact is None:
            self._exact = compiled(self._exact_values)
        return self._exact(read(x), read(self.k_fixed), read(self.i_fixed), read(self.f_fixed))

    def _exact_values(self, x, k, i, f):
        """:meth:`exact_quantize` of ``x`` to the types ``(k, i, f)`` (float32 tensors)."""
        negative = strictly_negative(x)
        x = exact_float64(x)
        k = ops.cast(k, "float64")
        i = ops.cast(i, "float64")
        f = ops.cast(f, "float64")
        w = k + i + f
        live = w > 0
        fl = self._round(x * exp2_exact(f), negative)
        wl = ops.where(live, w, 1.0)
        span = exp2_exact(wl)                                   # 2**W
        top = ops.where(k > 0, span * 0.5, span)                # 2**(W-k)
        hi = top - 1.0
        if self.overflow_mode == "WRAP":
            # |x·2^f| >= 2^1024 overflows to inf; such a code is a multiple of 2^W: it wraps to 0
            fl = ops.where(ops.isinf(fl), 0.0, fl)
            r = fl - span * floor_keep_dtype(fl * exp2_exact(-wl))
            # guard the rounding of the product for |fl| beyond 2**53: bring r into [0, span)
            r = ops.where(r < 0, r + span, ops.where(r >= span, r - span, r))
            m = ops.where(r > hi, r - span, r)
        else:
            m = ops.minimum(ops.maximum(fl, self._lowest(k, span, hi, wl)), hi)
        out = m * exp2_exact(-f)
        return ops.where(live, out, ops.zeros_like(out)) + 0.0

    def _round(self, v, negative):
        """The integer code of the scaled value ``v`` under the rounding mode (exact ops only)."""
        fl = floor_keep_dtype(v)
        if self.round_mode == "RND":
            return fl + ops.cast((v - fl) >= 0.5, "float64")
        # a negative value truncates to -1 or below; TensorFlow flushes a product that underflows
        # (or a float64 denormal input) to -0.0, whose floor would be 0
        return ops.where(negative & (fl >= 0), -1.0, fl)

    def _lowest(self, k, span, hi, wl):
        """The lowest code a saturating cast keeps (``-2^(W-1)`` signed, 0 unsigned)."""
        return -k * span * 0.5

    def fixed_types(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The calibrated per-element ``(k, i, f)`` as int64 arrays of the tensor's shape.

        Raises if the quantizer has not been calibrated (see :func:`hgq_fpga.calibrate`).
        """
        if not self.calibrated:
            raise ValueError(f"quantizer {self.name!r} is not calibrated; run hgq_fpga.calibrate(model, x)")
        values = [concrete(v) for v in (self.k_fixed, self.i_fixed, self.f_fixed)]
        if any(v is None for v in values):       # JAX is tracing a function: the last values read
            if self._types is None:
                raise RuntimeError(f"quantizer {self.name!r}: its calibrated types are needed while JAX "
                                   "compiles a function, and they were never read; call the model once "
                                   "eagerly (model(x)) or calibrate it, then predict")
            return self._types
        self._types = tuple(np.asarray(v).astype(np.int64) for v in values)
        return self._types

    def load_own_variables(self, store) -> None:
        """Load the variables (``keras.models.load_model``), then read the calibrated types once,
        so that a JAX-compiled ``predict`` of the loaded model knows them (see :meth:`fixed_types`)."""
        super().load_own_variables(store)
        if self.calibrated:
            self.fixed_types()

    def rounded_f(self) -> np.ndarray:
        """``F = round(clip(f))`` broadcast to the tensor shape, as int64."""
        f = np.clip(keras.ops.convert_to_numpy(self.f).astype(np.float64), self.f_min, self.f_max)
        return np.broadcast_to(np.round(f), self.tensor_shape).astype(np.int64)

    def weight_codes(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibration: the integer codes ``m`` and fractional bits ``F`` of the weights ``w``.

        ``wq = m * 2**-F`` exactly (int64 arrays of the tensor's shape). The hook a weight quantizer
        with another code set overrides (``docs/method.md`` §8).
        """
        F = self.rounded_f()
        big = np.full(self.tensor_shape, 40, np.int64)
        wq = fixed.quantize(w, 1, big - F, F, round=self.round_mode, overflow="SAT")
        return np.ldexp(wq, F).astype(np.int64), F

    def calibrate_weight(self, w) -> np.ndarray:
        """Fix tight per-element types for the weight values ``w``; return the exact ``wq`` (float64)."""
        w = np.broadcast_to(np.asarray(w, dtype=np.float64), self.tensor_shape)
        m, F = self.weight_codes(w)
        wq = np.ldexp(m.astype(np.float64), -F)
        k = (m < 0).astype(np.int64)
        mag = np.where(m < 0, -m - 1, m)
        i = fixed.bit_length(mag) - F
        zero = m == 0
        self._set_types(np.where(zero, 0, k), np.where(zero, 0, i), np.where(zero, 0, F))
        return wq

    def calibrate_activation(self, margin: int = 0) -> None:
        """Fix per-element types from the recorded range of the quantized values, plus ``margin`` bits."""
        F = self.rounded_f()
        lo = keras.ops.convert_to_numpy(self.vmin).astype(np.float64)
        hi = keras.ops.convert_to_numpy(self.vmax).astype(np.float64)
        seen = lo <= hi
        lo = np.where(seen, lo, 0.0)
        hi = np.where(seen, hi, 0.0)
        lo_raw = np.round(np.ldexp(lo, F)).astype(np.int64)
        hi_raw = np.round(np.ldexp(hi, F)).astype(np.int64)
        k = (lo_raw < 0).astype(np.int64)
        b = np.maximum(fixed.bit_length(np.maximum(hi_raw, 0)),
                       np.where(lo_raw < 0, fixed.bit_length(np.maximum(-lo_raw - 1, 0)), 0))
        live = (lo_raw != 0) | (hi_raw != 0)
        i = b - F + int(margin)
        self._set_types(np.where(live, k, 0), np.where(live, i, 0), np.where(live, F, 0))

    def _set_types(self, k, i, f) -> None:
        k, i, f = fixed.check_type_arrays(k, i, f)
        w = k + i + f
        for name, t in (("fractional bits", f), ("width", w)):
            if t.size and int(np.abs(t).max()) >= 2 ** EXP2_BITS:
                raise ValueError(f"quantizer {self.name!r}: {name} {int(np.abs(t).max())} out of the "
                                 f"supported range (below {2 ** EXP2_BITS})")
        self.k_fixed.assign(np.asarray(k, np.float32))
        self.i_fixed.assign(np.asarray(i, np.float32))
        self.f_fixed.assign(np.asarray(f, np.float32))
        self._types = tuple(np.array(t, np.int64) for t in (k, i, f))
        self.calibrated = True

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        config = super().get_config()
        config.update(kind=self.kind, granularity=self.granularity, round_mode=self.round_mode,
                      overflow_mode=self.overflow_mode, f_init=self.f_init,
                      init_bits=self.init_bits, f_min=self.f_min, f_max=self.f_max,
                      calibrated=self.calibrated)
        return config


#: defaults of an activation (output) quantizer; a layer's ``*_quantizer`` dict overrides them
#: (the starting widths are those of :data:`~hgq_fpga.nn.quantizers.starts.DEFAULT_START`)
ACTIVATION_DEFAULTS = {"kind": "activation", **start_options("activation", DEFAULT_START)}
#: defaults of a weight (kernel, bias) quantizer
WEIGHT_DEFAULTS = {"kind": "weight", **start_options("weight", DEFAULT_START)}


def serialize_quantizer(q: HQuantizer) -> dict:
    """A quantizer's config for its owning layer's ``get_config`` (the owner builds it, so no build config)."""
    config = keras.saving.serialize_keras_object(q)
    config.pop("build_config", None)
    return config


def make_quantizer(spec: dict | HQuantizer | None, default: dict, name: str) -> HQuantizer:
    """Build a quantizer from a user's dict of options (merged over ``default`` and the starting
    widths in force, :func:`~hgq_fpga.nn.quantizers.starts.quantizer_start`) or pass one through."""
    if isinstance(spec, HQuantizer):
        return spec
    if isinstance(spec, dict) and spec.get("class_name") is not None:
        return keras.saving.deserialize_keras_object(spec)
    options = dict(default)
    options.update(start_options(options.get("kind", "activation")))
    options.update(spec or {})
    options.setdefault("name", name)
    return HQuantizer(**options)

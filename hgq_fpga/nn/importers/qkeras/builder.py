"""Build an hgq_fpga model with fixed bit widths from a QKeras model's neutral description.

This runs in the user's Keras 3 process. It walks the description's layers in order and, for each,
adds our layer with :class:`~hgq_fpga.nn.quantizers.fixed.FixedQuantizer` types *and*
the same op to a shadow :class:`hgq_fpga.ir.FirmwareBuilder`, which derives every intermediate's
exact type. The shadow types serve twice: as the output types of layers that QKeras does not
quantize (exact accumulators, sums), and as the proof that QKeras's own float32 arithmetic is exact:

* a Dense/Conv accumulator, a sum or a pooling sum is exact in float32 when every partial sum is a
  multiple of the finest input lsb and below ``2^24`` of those lsbs (24 significant bits), which
  the shadow plan's magnitude bound checks for every input *in the input types' ranges*;
* an activation quantizer ``x + (xq - x)`` is exact while ``|x|`` stays within
  :attr:`~hgq_fpga.nn.importers.qkeras.quantizers.QKerasCast.float32_input_bound`.

Where either fails, the import is refused with a message naming the layer, or (with
``allow_float``) the layer gets the user's type and the result lists it as not QKeras-exact.
The model's inputs get an explicit ``input_type`` unless a QKeras quantizer reads them directly;
QKeras then equals this model for inputs on that grid and in that range (see ``ImportResult``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import keras
import numpy as np

from hgq_fpga.ir import FirmwareBuilder
from hgq_fpga.ir.builder import weights_to_raw
from hgq_fpga.ir.types import linear_alignment
from hgq_fpga.ir.tensor import TensorType, max_abs
from hgq_fpga.nn.dtype_policy import float32_policy
from hgq_fpga.nn.layers import (HActivation, HAdd, HAveragePooling1D, HAveragePooling2D, HConcatenate,
                             HConv1D, HConv2D, HDense, HFlatten, HMaxPooling1D, HMaxPooling2D,
                             HQuantize, HReshape)
from hgq_fpga.nn.layers.lookup import CodeTable

from hgq_fpga.nn.importers.qkeras.description import LayerDescription, ModelDescription
from hgq_fpga.nn.quantizers.fixed import FixedQuantizer, tight_types
from hgq_fpga.nn.importers.qkeras import tables as qkeras_tables
from hgq_fpga.nn.importers.qkeras.quantizers import QKerasCast, QKerasImportError, activation_cast, refuse
from hgq_fpga.nn.importers.qkeras.types import parse_type

#: float32 holds every integer up to 2**24 exactly: the bound on partial sums in lsb units
FLOAT32_EXACT = 2.0 ** 24
#: below this exponent float32 is subnormal, which TensorFlow flushes to zero
FLOAT32_MIN_EXP = -126


@dataclass
class ImportResult:
    """An imported model and what holds about it.

    Attributes:
        model: the hgq_fpga Keras model (calibrated: fixed types, ready for ``to_firmware``).
        notes: conditions of the exactness claim (input grids and ranges) and every layer that
            ``allow_float`` made not QKeras-exact.
        inexact_layers: names of layers imported with a user type instead of QKeras's semantics.
    """

    model: keras.Model
    notes: list[str] = field(default_factory=list)
    inexact_layers: list[str] = field(default_factory=list)


@dataclass
class _Tensor:
    keras: Any      # the symbolic Keras tensor
    ir: str         # the shadow IR tensor name


class _Context:
    """State of one build: the shadow IR, the tensors by QKeras name, options and notes."""

    def __init__(self, desc: ModelDescription, input_type: Any, allow_float: dict[str, Any],
                 drop_softmax: bool) -> None:
        self.desc = desc
        self.b = FirmwareBuilder()
        self.tensors: dict[tuple[str, int], _Tensor] = {}
        self.inputs: dict[str, Any] = {}
        self.input_type = input_type
        self.allow_float = dict(allow_float or {})
        self.drop_softmax = drop_softmax
        self.outputs = {name for name, _ in desc.outputs}
        self.result_notes: list[str] = []
        self.inexact: list[str] = []
        self.table_requests: list[dict[str, Any]] = []

    def type_of(self, t: _Tensor) -> TensorType:
        return self.b.types[t.ir]

    # ------------------------------------------------------------------ inputs
    def model_input(self, name: str) -> Any:
        if name not in self.inputs:
            shape = dict(self.desc.inputs)[name]
            self.inputs[name] = keras.Input(shape, name=name)
        return self.inputs[name]

    def quantized_input(self, name: str, spec: QKerasCast, layer_name: str) -> _Tensor:
        """``HQuantize`` on model input ``name`` with the cast ``spec``."""
        x = self.model_input(name)
        oq = fixed_quantizer(spec, "output_quantizer")
        layer = HQuantize(output_quantizer=oq, name=layer_name)
        y = layer(x)
        oq.set_types(spec.type.k, spec.type.i, spec.type.f)
        ir = self.b.input(layer_name, tuple(x.shape[1:]), spec.type.k, spec.type.i, spec.type.f, round=spec.type.round,
                          overflow=spec.type.overflow)
        return _Tensor(y, ir)

    def source(self, layer: LayerDescription, index: int = 0) -> tuple[str, int]:
        return layer.inbound[index]

    def fetch(self, layer: LayerDescription, index: int = 0) -> _Tensor:
        """Input ``index`` of ``layer``; a model input gets its ``input_type`` quantizer first."""
        key = tuple(self.source(layer, index))
        if key in self.tensors:
            return self.tensors[key]
        producer = self.desc.layer(key[0])
        if producer.cls != "InputLayer":
            raise QKerasImportError(f"layer {layer.name!r}: its input {key[0]!r} was not imported")
        if self.input_type is None:
            raise QKerasImportError(
                f"layer {layer.name!r} ({layer.cls}) reads the model input {key[0]!r} unquantized: QKeras "
                "multiplies the raw float32 inputs, and the firmware needs a fixed input type; pass "
                "input_type='ap_fixed<16,6>' (or (k, i, f)) for the grid your inputs are on, or put "
                "QActivation(quantized_bits(...)) first in the model")
        spec = parse_type(self.input_type, "input_type")
        t = self.quantized_input(key[0], spec, f"{key[0]}_quantize")
        lo, hi = t_range(self.type_of(t))
        self.result_notes.append(
            f"model input {key[0]!r} is quantized to {spec.text} ({spec.type.round}, {spec.type.overflow}): QKeras "
            f"equals this model for inputs on that grid within [{lo:g}, {hi:g}]")
        self.tensors[key] = t
        return t

    # ------------------------------------------------------------------ checks
    def floating(self, layer: str) -> QKerasCast | None:
        """The user's ``allow_float`` type for ``layer``, or None."""
        if layer not in self.allow_float:
            return None
        spec = parse_type(self.allow_float[layer], f"allow_float[{layer!r}]")
        if layer not in self.inexact:
            self.inexact.append(layer)
            self.result_notes.append(f"layer {layer!r} is quantized to {spec.text} (allow_float): its "
                                     "output is NOT QKeras-exact")
        return spec

    def require(self, ok: bool, layer: str, what: str, why: str, fix: str) -> None:
        """Refuse unless ``ok`` or the layer is in ``allow_float``."""
        if not ok and self.floating(layer) is None:
            raise refuse(layer, what, why, fix + ", or pass allow_float={layer: type}")

    def check_float32_sum(self, layer: str, magnitude: np.ndarray, f: np.ndarray, what: str) -> None:
        """A sum is exact in float32 when its bound in lsb units is at most ``2^24`` and its lsb is normal."""
        worst = float(np.max(magnitude, initial=0.0))
        self.require(worst <= FLOAT32_EXACT and int(np.max(f, initial=0)) <= -FLOAT32_MIN_EXP, layer, what,
                     f"QKeras computes it in float32, and its partial sums can need "
                     f"{math.ceil(math.log2(max(worst, 1.0)))} significant bits (float32 holds 24), so "
                     "QKeras's result would round", "lower the input or weight bit widths (or the input_type)")

    def check_cast_input(self, layer: str, spec: QKerasCast, x: TensorType) -> None:
        if spec.float32_input_bound is None:
            return
        lo, hi = t_range(x)
        bound = max(abs(lo), abs(hi))
        self.require(bound <= spec.float32_input_bound, layer, spec.text,
                     f"its input reaches {bound:g}, beyond {spec.float32_input_bound:g}, where QKeras's float32 "
                     "x + (xq - x) no longer returns the clipped value exactly",
                     "narrow the input range or the quantizer's fractional bits")


def t_range(t: TensorType) -> tuple[float, float]:
    """Smallest and largest value of a tensor type (over all elements)."""
    lo, hi = t.bounds()
    lo = np.ldexp(np.asarray(lo, np.float64), -t.f)
    hi = np.ldexp(np.asarray(hi, np.float64), -t.f)
    return float(lo.min(initial=0.0)), float(hi.max(initial=0.0))


def fixed_quantizer(spec: QKerasCast | None, name: str, kind: str = "activation") -> FixedQuantizer:
    if spec is None:
        return FixedQuantizer(kind=kind, name=name)
    return FixedQuantizer(kind=kind, round_mode=spec.type.round, overflow_mode=spec.type.overflow, name=name)


def _set_output(oq: FixedQuantizer, spec: QKerasCast | None, exact: TensorType) -> None:
    if spec is None:
        oq.set_types(exact.k, exact.i, exact.f)
    else:
        oq.set_types(spec.type.k, spec.type.i, spec.type.f)


# ---------------------------------------------------------------------------------- activations

def _activation(ctx: _Context, layer: LayerDescription) -> tuple[str, QKerasCast | None]:
    """``(keras activation, output cast)`` for a layer's ``activation`` (None cast: exact).

    A layer named in ``allow_float`` gets the user's cast whatever QKeras does there.
    """
    q = layer.quantizers.get("activation")
    user = ctx.floating(layer.name)
    if q is None or ("class" not in q and q.get("function") in (None, "linear")):
        return "linear", user
    if "function" in q:
        fn = q["function"]
        if fn == "relu":
            return "relu", user
        if fn == "softmax" and ctx.drop_softmax and layer.name in ctx.outputs:
            ctx.result_notes.append(f"the softmax of output layer {layer.name!r} was dropped "
                                    "(drop_softmax=True): the outputs are its logits")
            return "linear", user
        if user is None:
            hint = (" (for a final softmax pass drop_softmax=True: the firmware outputs logits)"
                    if fn == "softmax" else "")
            raise refuse(layer.name, f"activation {fn!r}", "an unquantized float activation has no exact "
                         "fixed-point result", "use a QKeras quantizer (quantized_relu, quantized_bits) or "
                         f"'relu', or pass allow_float={{layer: type}}{hint}")
        return "linear", user
    if user is not None:
        return "linear", user
    return "linear", activation_cast(layer.name, q)


def _emit_activation(ctx: _Context, name: str, x: TensorType, ir: str, act: str,
                     spec: QKerasCast | None) -> tuple[str, TensorType]:
    """Shadow ops for ``act`` then the output cast; returns the IR name and the exact pre-cast type."""
    if act == "relu":
        ir = ctx.b.relu(ir, name=f"{name}_relu")
    pre = ctx.b.types[ir]
    if spec is not None:
        if name not in ctx.inexact:
            ctx.check_cast_input(name, spec, pre)
        ir = ctx.b.cast(ir, spec.type.k, spec.type.i, spec.type.f, round=spec.type.round, overflow=spec.type.overflow, name=name)
    else:
        ir = ctx.b.cast(ir, pre.k, pre.i, pre.f, name=name)
    return ir, pre


# ---------------------------------------------------------------------------------- layer handlers

def _kernel_layer(ctx: _Context, layer: LayerDescription) -> _Tensor:
    x = ctx.fetch(layer)
    cfg = layer.config
    if "kernel" not in layer.quantizers:
        raise refuse(layer.name, f"{layer.cls} without kernel_quantizer", "its float32 weights have up to 24 "
                     "significant bits, so QKeras's float32 products round", "give it a kernel_quantizer "
                     "such as quantized_bits(6, 0, alpha=1)")
    for role in ("kernel", "bias"):
        _check_weight_scale(ctx, layer, role)
    kq_desc = layer.quantizers["kernel"]
    kernel = ctx.desc.array(layer, "kernel").astype(np.float64)
    use_bias = "bias" in layer.arrays
    bias = ctx.desc.array(layer, "bias").astype(np.float64) if use_bias else None
    act, spec = _activation(ctx, layer)
    kq = fixed_quantizer(None, "kernel_quantizer", "weight")
    bq = fixed_quantizer(None, "bias_quantizer", "weight") if use_bias else None
    oq = fixed_quantizer(spec, "output_quantizer")
    common = dict(activation=act, use_bias=use_bias, kernel_quantizer=kq, bias_quantizer=bq,
                  output_quantizer=oq, name=layer.name)
    dense = layer.cls in ("QDense", "Dense")
    if dense:
        ours = HDense(int(cfg["units"]), **common)
    else:
        rank = kernel.ndim - 2
        if tuple(cfg.get("dilation_rate", (1,) * rank)) != (1,) * rank:
            raise refuse(layer.name, layer.cls, "dilated convolutions are not supported", "use dilation_rate=1")
        if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("groups", 1) != 1:
            raise refuse(layer.name, layer.cls, "only channels_last, groups=1 convolutions are supported",
                         "use data_format='channels_last'")
        cls = HConv1D if rank == 1 else HConv2D
        ours = cls(int(kernel.shape[-1]), tuple(kernel.shape[:rank]), strides=tuple(cfg.get("strides", 1)),
                   padding=cfg.get("padding", "valid"), **common)
    unquantized = " and an unquantized float32 bias (no bias_quantizer)" if use_bias and "bias" not in layer.quantizers else ""
    return _emit_linear(ctx, layer, x, ours, kernel, bias, act, spec,
                        f"the accumulator of {layer.cls} (kernel quantizer {kq_desc.get('text', '?')}{unquantized})")


def _check_weight_scale(ctx: _Context, layer: LayerDescription, role: str) -> None:
    """Refuse a weight quantizer whose ``alpha`` ('auto', ...) scales by float factors computed from
    the weights: its values are off any fixed-point grid (``'auto_po2'`` scales by powers of two)."""
    q = layer.quantizers.get(role) or {}
    alpha = (q.get("config") or {}).get("alpha")
    ctx.require(not isinstance(alpha, str) or alpha == "auto_po2", layer.name,
                f"{role} quantizer {q.get('text', q.get('class', '?'))}",
                f"alpha={alpha!r} scales the {role} by float factors computed from it, so its values are not "
                "on a fixed-point grid and QKeras's float32 products round",
                "use alpha='auto_po2' (power-of-two scales) or alpha=1")


def _emit_linear(ctx: _Context, layer: LayerDescription, x: _Tensor, ours, kernel: np.ndarray,
                 bias: np.ndarray | None, act: str, spec: QKerasCast | None, what: str) -> _Tensor:
    """Call our kernel layer, fix its weights and types, add its shadow ops and check float32."""
    y = ours(x.keras)
    ours.kernel.assign(kernel.astype(np.float32))
    kk, ki, kf = tight_types(kernel)
    ours.kq.set_types(kk, ki, kf)
    w_raw = weights_to_raw(kernel, kf)
    b_raw = bf = None
    if bias is not None:
        ours.bias.assign(bias.astype(np.float32))
        bk, bi, bf = tight_types(bias)
        ours.bq.set_types(bk, bi, bf)
        b_raw = weights_to_raw(bias, bf)
    xt = ctx.type_of(x)
    if isinstance(ours, HDense):
        acc = ctx.b.dense(x.ir, w_raw, kf, b_raw, bf, name=f"{layer.name}_acc")
    else:
        acc = ctx.b.conv(x.ir, w_raw, kf, b_raw, bf, strides=ours.strides, padding=ours.padding,
                         name=f"{layer.name}_acc")
    plan = linear_alignment(ctx.b.ops[-1], xt)[0]
    ctx.check_float32_sum(layer.name, plan.magnitude, plan.facc, what)
    ir, pre = _emit_activation(ctx, layer.name, ctx.b.types[acc], acc, act, spec)
    _set_output(ours.oq, spec, pre)
    return _Tensor(y, ir)


def _activation_layer(ctx: _Context, layer: LayerDescription) -> _Tensor:
    key = tuple(ctx.source(layer))
    act, spec = _activation(ctx, layer)
    if act == "linear" and spec is None:
        return ctx.fetch(layer)                       # identity
    if ctx.desc.layer(key[0]).cls == "InputLayer" and ctx.input_type is None and spec is not None:
        t = ctx.quantized_input(key[0], spec, layer.name)
        if spec.float32_input_bound is not None:
            ctx.result_notes.append(
                f"model input {key[0]!r} is quantized by {spec.text} in layer {layer.name!r}: QKeras equals "
                f"this model for inputs with |x| <= {spec.float32_input_bound:g} (beyond that QKeras's "
                "float32 x + (xq - x) can lose the clipped value)")
        return t
    x = ctx.fetch(layer)
    oq = fixed_quantizer(spec, "output_quantizer")
    ours = HActivation(act, output_quantizer=oq, name=layer.name)
    y = ours(x.keras)
    ir, pre = _emit_activation(ctx, layer.name, ctx.type_of(x), x.ir, act, spec)
    _set_output(oq, spec, pre)
    return _Tensor(y, ir)


def _shape_layer(ctx: _Context, layer: LayerDescription) -> _Tensor:
    x = ctx.fetch(layer)
    if layer.cls == "Flatten":
        return _Tensor(HFlatten(name=layer.name)(x.keras), ctx.b.flatten(x.ir, name=layer.name))
    shape = np.empty(ctx.type_of(x).shape).reshape(tuple(int(s) for s in layer.config["target_shape"])).shape
    return _Tensor(HReshape(shape, name=layer.name)(x.keras), ctx.b.reshape(x.ir, shape, name=layer.name))


def _identity(ctx: _Context, layer: LayerDescription) -> _Tensor:
    return ctx.fetch(layer)


def _pool_args(layer: LayerDescription) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    cfg = layer.config
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise refuse(layer.name, layer.cls, "only channels_last pooling is supported", "use channels_last")
    pool = tuple(int(p) for p in np.atleast_1d(cfg["pool_size"]))
    strides = tuple(int(s) for s in np.atleast_1d(cfg.get("strides") or pool))
    return pool, strides, cfg.get("padding", "valid")


def _max_pool(ctx: _Context, layer: LayerDescription) -> _Tensor:
    x = ctx.fetch(layer)
    pool, strides, padding = _pool_args(layer)
    cls = HMaxPooling1D if layer.cls.endswith("1D") else HMaxPooling2D
    y = cls(pool, strides, padding, name=layer.name)(x.keras)
    return _Tensor(y, ctx.b.maxpool(x.ir, pool, strides, padding, name=layer.name))


def _average_pool(ctx: _Context, layer: LayerDescription) -> _Tensor:
    x = ctx.fetch(layer)
    pool, strides, padding = _pool_args(layer)
    area = int(np.prod(pool))
    c_f = int(round(math.log2(area)))
    ctx.require(2 ** c_f == area, layer.name, f"{layer.cls} pool_size {pool}",
                f"the window area {area} is not a power of two, so QKeras's float32 division rounds",
                "use a power-of-two pool size")
    if "average_factor" in layer.arrays:
        factor = float(ctx.desc.array(layer, "average_factor").reshape(-1)[0])
        ctx.require(factor == 1.0 / area, layer.name, layer.quantizers.get("average", {}).get("text", "?"),
                    f"the average quantizer turns 1/{area} into {factor!r}", "use an average_quantizer that "
                    f"holds 1/{area} exactly (enough fractional bits), or none")
    act, spec = _activation(ctx, layer)
    oq = fixed_quantizer(spec, "output_quantizer")
    cls = HAveragePooling1D if layer.cls.endswith("1D") else HAveragePooling2D
    ours = cls(pool, strides, padding, c_f=c_f, output_quantizer=oq, name=layer.name)
    y = ours(x.keras)
    probe = ctx.b.avgpool(x.ir, pool, 0, 0, 0, strides=strides, padding=padding, c_f=c_f,
                          name=f"{layer.name}_avg")
    op = ctx.b.ops[-1]
    ctx.require(bool(np.all(op.c_raw == 1)), layer.name, f"{layer.cls} padding {padding!r}",
                "windows at the border hold fewer than a power-of-two number of elements, so QKeras's float32 "
                "division rounds", "use padding='valid' or sizes that the pool divides")
    lo, hi = op.sum_type.bounds()
    ctx.check_float32_sum(layer.name, np.asarray(max_abs(lo, hi), np.float64), op.sum_type.f,
                          f"the window sum of {layer.cls}")
    exact = op.prod_type
    op.out = exact                                   # the probe's output: the exact mean
    ctx.b.types[probe] = exact
    if act == "relu":
        raise refuse(layer.name, "activation 'relu'", "pooling with a float relu is not supported",
                     "add a separate relu layer")
    ir, pre = _emit_activation(ctx, layer.name, exact, probe, "linear", spec)
    _set_output(oq, spec, pre)
    return _Tensor(y, ir)


def _add(ctx: _Context, layer: LayerDescription) -> _Tensor:
    xs = [ctx.fetch(layer, j) for j in range(len(layer.inbound))]
    oq = fixed_quantizer(None, "output_quantizer")
    ours = HAdd(output_quantizer=oq, name=layer.name)
    y = ours([t.keras for t in xs])
    s = ctx.b.add(*[t.ir for t in xs], name=f"{layer.name}_sum")
    st = ctx.b.types[s]
    lo, hi = st.bounds()
    ctx.check_float32_sum(layer.name, np.asarray(max_abs(lo, hi), np.float64), st.f, "the sum of Add")
    ir = ctx.b.cast(s, st.k, st.i, st.f, name=layer.name)
    oq.set_types(st.k, st.i, st.f)
    return _Tensor(y, ir)


def _concatenate(ctx: _Context, layer: LayerDescription) -> _Tensor:
    xs = [ctx.fetch(layer, j) for j in range(len(layer.inbound))]
    axis = int(layer.config.get("axis", -1))
    y = HConcatenate(axis, name=layer.name)([t.keras for t in xs])
    return _Tensor(y, ctx.b.concatenate([t.ir for t in xs], axis=axis if axis < 0 else axis - 1,
                                        name=layer.name))


def _batch_norm(ctx: _Context, layer: LayerDescription) -> _Tensor:
    """QBatchNormalization alone: ``x * scale + offset`` per channel, exact when each float32
    ``scale = gamma / sqrt(var + eps)`` is a power of two (or 0) and the sum fits 24 bits. It
    becomes a diagonal :class:`HDense` on the channel axis (its zero weights are pruned)."""
    if layer.cls != "QBatchNormalization":
        raise refuse(layer.name, layer.cls, "Keras's BatchNormalization runs TensorFlow's fused kernel, whose "
                     "float32 rounding the importer does not reproduce", "use QBatchNormalization, or "
                     "QConv2DBatchnorm (folded before quantization)")
    x = ctx.fetch(layer)
    rank = len(ctx.type_of(x).shape)
    axis = layer.config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if axis not in (-1, rank):
        raise refuse(layer.name, layer.cls, f"normalisation axis {axis} is not the channel (last) axis",
                     "normalise the last axis")
    scale = ctx.desc.array(layer, "bn_scale").astype(np.float64).reshape(-1)
    offset = ctx.desc.array(layer, "bn_offset").astype(np.float64).reshape(-1)
    mant = np.frexp(np.abs(scale))[0]
    bad = (scale != 0) & (mant != 0.5)
    ctx.require(not bad.any(), layer.name, f"{layer.cls} scale gamma / sqrt(var + eps)",
                f"channel {int(np.argmax(bad))} scales by {float(scale[np.argmax(bad)])!r}, not a power of two, so "
                "QKeras's float32 x * scale rounds (the scale is what TensorFlow computes at predict time; its "
                "vectorized CPU rsqrt is approximate, so even gamma = 2^k with var + eps = 1 misses on 8 or more "
                "channels)", "fold the batch norm into the layer before it "
                "(QConv2DBatchnorm) or retrain without it")
    act, spec = _activation(ctx, layer)
    oq = fixed_quantizer(spec, "output_quantizer")
    ours = HDense(scale.size, activation=act, kernel_quantizer=fixed_quantizer(None, "kernel_quantizer", "weight"),
                  bias_quantizer=fixed_quantizer(None, "bias_quantizer", "weight"), output_quantizer=oq,
                  name=layer.name)
    return _emit_linear(ctx, layer, x, ours, np.diag(scale), offset, act, spec,
                        f"{layer.cls}'s float32 x * scale + offset")


def _with_table(ctx: _Context, layer: LayerDescription,
                handler: Callable[[_Context, LayerDescription], _Tensor]) -> _Tensor:
    """``handler`` for ``layer``, then its activation as an exact table when it is a table quantizer.

    The layer itself (without the activation) yields its exact output; an :class:`HActivation`
    with a :class:`CodeTable` of QKeras's own outputs on every code of that output's type follows.
    A table not yet in the description is requested (``ctx.table_requests``) with zeros in its
    place; :func:`build_from_description` evaluates the requests and builds again.
    """
    spec = None if layer.name in ctx.allow_float else qkeras_tables.table_spec(
        layer.name, layer.quantizers.get("activation"))
    if spec is None:
        return handler(ctx, layer)
    inner = dataclasses.replace(layer, quantizers={r: q for r, q in layer.quantizers.items() if r != "activation"})
    x = handler(ctx, inner)
    name = layer.name if layer.cls in ("QActivation", "Activation") else f"{layer.name}_table"
    dom = qkeras_tables.domain(layer.name, spec, ctx.type_of(x))
    values = qkeras_tables.stored_table(ctx.desc.arrays, layer.arrays, dom)
    if values is None:
        ctx.table_requests.append({"key": layer.name, "domain": [dom.f, dom.lo, dom.hi],
                                   "quantizer": {"class": spec.quantizer["class"],
                                                 "config": spec.quantizer.get("config", {})}})
        values = np.zeros(dom.size)
    else:
        values = qkeras_tables.check_values(layer.name, spec, values)
    fn = CodeTable(values, dom.f, dom.lo, name=spec.text)
    oq = fixed_quantizer(spec.out, "output_quantizer")
    out = spec.out.type
    ours = HActivation(fn, output_quantizer=oq, name=name)
    y = ours(x.keras)
    oq.set_types(out.k, out.i, out.f)
    ir = ctx.b.table(x.ir, fn.lookup, out.k, out.i, out.f, round=out.round, overflow=out.overflow,
                     label=spec.text, name=name)
    return _Tensor(y, ir)


def missing_tables(desc: ModelDescription, input_type: Any = None, allow_float: dict[str, Any] | None = None,
                   drop_softmax: bool = False) -> list[dict[str, Any]]:
    """The table requests (:func:`hgq_fpga.nn.importers.qkeras.keras2_reader.tables`) that building ``desc``
    needs, e.g. to evaluate those of several models in one legacy subprocess."""
    return _build(desc, input_type, allow_float, drop_softmax).table_requests


def store_tables(desc: ModelDescription, requests: list[dict[str, Any]], tables: dict[str, np.ndarray]) -> None:
    """Put evaluated tables into the description (arrays ``<layer>/activation_table[_domain]``)."""
    for r in requests:
        layer = desc.layer(r["key"])
        for role, value in ((qkeras_tables.TABLE_ROLE, tables[r["key"]]),
                            (qkeras_tables.DOMAIN_ROLE, np.asarray(r["domain"], np.float64))):
            key = f"{layer.name}/{role}"
            desc.arrays[key] = np.asarray(value, np.float32 if role == qkeras_tables.TABLE_ROLE else np.float64)
            layer.arrays[role] = key


#: QKeras / Keras layer class -> handler (a new layer family is a new entry)
HANDLERS: dict[str, Callable[[_Context, LayerDescription], _Tensor]] = {
    "QDense": _kernel_layer, "Dense": _kernel_layer,
    "QConv1D": _kernel_layer, "QConv2D": _kernel_layer, "Conv1D": _kernel_layer, "Conv2D": _kernel_layer,
    "QConv2DBatchnorm": _kernel_layer,
    "QActivation": _activation_layer, "Activation": _activation_layer, "ReLU": _activation_layer,
    "Flatten": _shape_layer, "Reshape": _shape_layer,
    "Dropout": _identity,
    "MaxPooling1D": _max_pool, "MaxPooling2D": _max_pool,
    "AveragePooling1D": _average_pool, "AveragePooling2D": _average_pool, "QAveragePooling2D": _average_pool,
    "Add": _add, "Concatenate": _concatenate,
    "QBatchNormalization": _batch_norm, "BatchNormalization": _batch_norm,
}


def build_from_description(desc: ModelDescription, input_type: Any = None,
                           allow_float: dict[str, Any] | None = None, drop_softmax: bool = False,
                           tables: Callable[[list[dict[str, Any]]], dict[str, np.ndarray]] | None = None
                           ) -> ImportResult:
    """Our model for a QKeras model description (see :func:`import_qkeras` for the options).

    Table activations (``quantized_tanh``, ...) whose tables the description lacks are evaluated
    by ``tables`` (default: QKeras itself, in one legacy subprocess for all of them) and stored in
    ``desc``; the model is then built again with them.
    """
    ctx = _build(desc, input_type, allow_float, drop_softmax)
    if ctx.table_requests:
        if tables is None:
            from hgq_fpga.nn.importers.qkeras.runner import qkeras_tables as tables
        store_tables(desc, ctx.table_requests, tables(ctx.table_requests))
        ctx = _build(desc, input_type, allow_float, drop_softmax)
        if ctx.table_requests:
            raise QKerasImportError(f"the tables of {[r['key'] for r in ctx.table_requests]} were not evaluated")
    with float32_policy():
        model = keras.Model([ctx.inputs[n] for n, _ in desc.inputs],
                            [ctx.tensors[tuple(o)].keras for o in desc.outputs], name=desc.name)
    return ImportResult(model, ctx.result_notes, ctx.inexact)


def _build(desc: ModelDescription, input_type: Any, allow_float: dict[str, Any] | None,
           drop_softmax: bool) -> _Context:
    """One pass over the layers: our tensors in ``ctx.tensors``, missing tables in ``ctx.table_requests``.
    The layers are made in float32 whatever Keras's global dtype policy (:mod:`hgq_fpga.nn.dtype_policy`)."""
    with float32_policy():
        return _build_layers(desc, input_type, allow_float, drop_softmax)


def _build_layers(desc: ModelDescription, input_type: Any, allow_float: dict[str, Any] | None,
                  drop_softmax: bool) -> _Context:
    for name, shape in desc.inputs:
        if any(s is None for s in shape):
            raise QKerasImportError(
                f"model input {name!r} has shape {tuple(shape)}: a dimension that is not fixed (None), but "
                "the firmware needs fixed shapes; build the QKeras model with a fixed shape (e.g. "
                f"Input(shape={tuple(16 if s is None else s for s in shape)})), copy the weights "
                "(new.set_weights(model.get_weights())) and save it again")
    ctx = _Context(desc, input_type, allow_float, drop_softmax)
    for layer in desc.layers:
        if layer.cls == "InputLayer":
            continue
        if layer.cls == "ReLU":
            layer.quantizers.setdefault("activation", {"function": "relu"})
            cfg = layer.config
            if cfg.get("max_value") is not None or cfg.get("negative_slope", 0) or cfg.get("threshold", 0):
                raise refuse(layer.name, "ReLU", "max_value, negative_slope and threshold are not supported",
                             "use a plain ReLU or quantized_relu")
        handler = HANDLERS.get(layer.cls)
        if handler is None:
            raise QKerasImportError(f"layer {layer.name!r}: {layer.cls} is not supported by the QKeras importer; "
                                    f"supported: {', '.join(sorted(HANDLERS))}")
        ctx.tensors[(layer.name, 0)] = _with_table(ctx, layer, handler)
    unknown = set(ctx.allow_float) - {l.name for l in desc.layers}
    if unknown:
        raise ValueError(f"allow_float names layers that the model does not have: {sorted(unknown)}")
    missing = [n for n, _ in desc.inputs if n not in ctx.inputs]
    if missing:
        raise QKerasImportError(f"model inputs {missing} are not used by any imported layer")
    return ctx


def import_qkeras(path: str | os.PathLike, input_type: Any = None, allow_float: dict[str, Any] | None = None,
                  drop_softmax: bool = False, trust: bool = False) -> ImportResult:
    """Import a QKeras 0.9 model file as an hgq_fpga model with QKeras's fixed bit widths.

    The file is read in a legacy Keras 2 subprocess (this process keeps Keras 3). The model
    (``import_qkeras(...).model``) is calibrated (every type fixed), so ``hgq_fpga.to_firmware``
    works at once; ``calibrate`` keeps the imported types. Its float64 inference equals QKeras's
    own float32 ``model.predict`` bit for bit for inputs on the input grid and range (the result's
    ``notes`` say which).

    Args:
        path: ``.h5`` file, SavedModel folder or ``tf_keras`` ``.keras`` file.
        input_type: the fixed-point type of the model inputs, e.g. ``"ap_fixed<16,6>"`` or
            ``(k, i, f)``; needed when the first layer reads the inputs unquantized.
        allow_float: ``{layer name: type}``: quantize those layers' outputs to the given type where
            QKeras's result cannot be reproduced exactly (they are then *not* QKeras-exact).
        drop_softmax: drop a softmax on an output layer (the firmware then outputs logits).
        trust: skip the check that runs before the file is loaded, for a file whose source you
            trust. The check refuses a file with a layer that holds code (a ``Lambda``'s bytecode,
            which ``tf_keras`` would run while loading) or that the importer does not support;
            with ``trust=True`` such a file is loaded, its code may run, and the importer still
            refuses the unsupported layer afterwards (docs/model_files.md).

    Returns:
        An :class:`ImportResult`: the model and the notes on what its exactness assumes.

    Raises:
        QKerasImportError: a layer or quantizer that cannot be exact, with what to change.
        ModelFileError: the file holds code or an unsupported layer (checked before loading).
    """
    from hgq_fpga.nn.importers.qkeras.runner import describe_qkeras

    return build_from_description(describe_qkeras(path, trust), input_type, allow_float, drop_softmax)

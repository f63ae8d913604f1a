"""Freeze: a calibrated Keras model → the firmware IR; the one place that knows both the HGQ layers
and the integer graph.

``to_firmware(model)`` reads a calibrated model's exact types and integer weights and builds a
:class:`hgq_fpga.ir.FirmwareModel`. Every backend (emulator, HLS C++, Verilog) starts from that IR
and never sees Keras. Each layer family registers the function that adds its ops
(:func:`freezes`); :func:`to_firmware` only walks the graph.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import numpy as np

from hgq_fpga.nn.calibration import require_calibrated
from hgq_fpga.nn.graph import functional_graph
from hgq_fpga.ir.builder import FirmwareBuilder, weights_to_raw
from hgq_fpga.ir.model import FirmwareModel
from hgq_fpga.ir.functions import EXP, RECIPROCAL
from hgq_fpga.nn.layers import (LAYER_SET, HActivation, HAdd, HAveragePooling1D, HAveragePooling2D,
                                HConcatenate, HConv1D, HConv2D, HDense, HEinsum, HEinsumDense,
                                HFlatten, HGlobalAveragePooling1D, HGlobalAveragePooling2D,
                                HGlobalMaxPooling1D, HGlobalMaxPooling2D, HMaxPooling1D,
                                HMaxPooling2D, HMultiply, HPermute, HQuantize, HReshape, HSoftmax,
                                HSum)


class UnsupportedLayerError(ValueError):
    """The model holds a layer that has no firmware equivalent; the message names it."""


def _layer_set_names() -> str:
    return ", ".join(cls.__name__ for cls in LAYER_SET)


#: the hgq_fpga layer to use instead of a plain Keras one
_REPLACEMENTS = {
    "Dense": "HDense", "Conv1D": "HConv1D", "Conv2D": "HConv2D", "Flatten": "HFlatten",
    "Reshape": "HReshape", "Add": "HAdd", "Concatenate": "HConcatenate",
    "MaxPooling1D": "HMaxPooling1D", "MaxPooling2D": "HMaxPooling2D",
    "AveragePooling1D": "HAveragePooling1D", "AveragePooling2D": "HAveragePooling2D",
    "ReLU": "HActivation('relu')", "Activation": "HActivation (HSoftmax for a softmax)",
    "BatchNormalization": "HBatchNormalization, or HDenseBatchNorm / HConv2DBatchNorm (folded into "
                          "a kernel layer)",
    "EinsumDense": "HEinsumDense", "Einsum": "HEinsum", "Multiply": "HMultiply", "Softmax": "HSoftmax",
    "Permute": "HPermute", "GlobalAveragePooling1D": "HGlobalAveragePooling1D",
    "GlobalAveragePooling2D": "HGlobalAveragePooling2D", "GlobalMaxPooling1D": "HGlobalMaxPooling1D",
    "GlobalMaxPooling2D": "HGlobalMaxPooling2D",
    "MultiHeadAttention": "HMultiHeadAttention (a recipe that builds it from HGQ layers)",
}


def _unsupported(layer) -> UnsupportedLayerError:
    """The error for a layer outside the layer set, with the replacement to use where there is one."""
    kind = type(layer).__name__
    head = f"layer {layer.name!r} of class {kind} is not part of the hgq_fpga layer set"
    if kind == "Activation" and "softmax" in str(getattr(layer, "activation", "")):
        return UnsupportedLayerError(f"{head}; use HSoftmax from hgq_fpga.nn.layers instead")
    if kind in _REPLACEMENTS:
        return UnsupportedLayerError(f"{head}; use {_REPLACEMENTS[kind]} from hgq_fpga.nn.layers instead")
    return UnsupportedLayerError(f"{head} and has no firmware equivalent; use {_layer_set_names()}")


def _table_function(layer: HActivation) -> Callable[[np.ndarray], np.ndarray]:
    """The layer's float64 function, evaluated by the same backend kernel Keras inference uses."""
    def fn(values: np.ndarray) -> np.ndarray:
        tensor = keras.ops.convert_to_tensor(np.asarray(values, np.float64), dtype="float64")
        return np.asarray(keras.ops.convert_to_numpy(layer.fn(tensor)), np.float64)
    label = layer.activation if isinstance(layer.activation, str) else getattr(layer.fn, "__name__", "fn")
    fn.__name__ = label
    return fn


def _linear_weights(layer) -> tuple[np.ndarray, ...]:
    wk, wi, wf = layer.kernel_types()
    bk, bi, bf = layer.bias_types()
    w_raw = weights_to_raw(layer.quantized_kernel(), wf)
    b_raw = weights_to_raw(layer.quantized_bias(), bf)
    return w_raw, np.asarray(wf, np.int64), b_raw, np.asarray(bf, np.int64)


def _cast_to_output(b: FirmwareBuilder, x: str, layer, name: str) -> str:
    k, i, f = layer.output_types()
    rnd, ovf = layer.output_modes()
    return b.cast(x, k, i, f, round=rnd, overflow=ovf, name=name)


#: a layer class -> the function that adds its ops: ``(builder, layer, input names) -> output name``
Freezer = Callable[[FirmwareBuilder, keras.layers.Layer, list[str]], str]
FREEZERS: dict[type, Freezer] = {}


def freezes(*classes: type) -> Callable[[Freezer], Freezer]:
    """Register the decorated function as the freezer of ``classes`` (and of their subclasses).

    A new layer family adds itself here, from its own module, without touching :func:`to_firmware`.
    """
    def register(fn: Freezer) -> Freezer:
        for cls in classes:
            FREEZERS[cls] = fn
        return fn
    return register


def freezer_of(layer) -> Freezer:
    """The registered freezer of ``layer``'s class or of its nearest registered base class."""
    for cls in type(layer).__mro__:
        if cls in FREEZERS:
            return FREEZERS[cls]
    raise UnsupportedLayerError(f"layer {layer.name!r} of class {type(layer).__name__} has no firmware "
                                f"equivalent; use the hgq_fpga.nn.layers set ({_layer_set_names()})")


@freezes(HQuantize)
def _freeze_quantize(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return _cast_to_output(b, xs[0], layer, layer.name)


# the batch-norm variants are subclasses: their quantized weights are already fused
@freezes(HDense, HConv1D, HConv2D)
def _freeze_linear(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    name = layer.name
    w_raw, w_f, b_raw, b_f = _linear_weights(layer)
    if isinstance(layer, HDense):
        acc = b.dense(xs[0], w_raw, w_f, b_raw, b_f, name=f"{name}_acc")
    else:
        acc = b.conv(xs[0], w_raw, w_f, b_raw, b_f, strides=layer.strides, padding=layer.padding,
                     name=f"{name}_acc")
    if layer.activation == "relu":
        acc = b.relu(acc, name=f"{name}_relu")
    return _cast_to_output(b, acc, layer, name)


@freezes(HActivation)
def _freeze_activation(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    name = layer.name
    if layer.activation == "linear":
        return _cast_to_output(b, xs[0], layer, name)
    if layer.activation == "relu":
        return _cast_to_output(b, b.relu(xs[0], name=f"{name}_relu"), layer, name)
    k, i, f = layer.output_types()
    rnd, ovf = layer.output_modes()
    return b.table(xs[0], _table_function(layer), k, i, f, round=rnd, overflow=ovf, name=name)


@freezes(HAdd)
def _freeze_add(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return _cast_to_output(b, b.add(*xs, name=f"{layer.name}_sum"), layer, layer.name)


@freezes(HConcatenate)
def _freeze_concatenate(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    axis = layer.axis if layer.axis < 0 else layer.axis - 1  # IR axes exclude the batch
    return b.concatenate(xs, axis=axis, name=layer.name)


@freezes(HFlatten)
def _freeze_flatten(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return b.flatten(xs[0], name=layer.name)


@freezes(HReshape)
def _freeze_reshape(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return b.reshape(xs[0], layer.target_shape, name=layer.name)


@freezes(HMaxPooling1D, HMaxPooling2D)
def _freeze_maxpool(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return b.maxpool(xs[0], layer.pool_size, layer.strides, layer.padding, name=layer.name)


@freezes(HAveragePooling1D, HAveragePooling2D)
def _freeze_avgpool(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    k, i, f = layer.output_types()
    rnd, ovf = layer.output_modes()
    return b.avgpool(xs[0], layer.pool_size, k, i, f, round=rnd, overflow=ovf,
                     strides=layer.strides, padding=layer.padding, c_f=layer.c_f, name=layer.name)


# HBatchNormalization is a subclass: its quantized kernel and bias are the fused scale and shift
@freezes(HEinsumDense)
def _freeze_einsum_dense(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    w_raw, w_f, b_raw, b_f = layer.firmware_weights()
    acc = b.einsum_dense(xs[0], layer.sample_equation, w_raw, w_f, b_raw, b_f, name=f"{layer.name}_acc")
    if layer.activation == "relu":
        acc = b.relu(acc, name=f"{layer.name}_relu")
    return _cast_to_output(b, acc, layer, layer.name)


@freezes(HEinsum, HMultiply)
def _freeze_product(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    y = b.einsum(xs[0], xs[1], layer.sample_equation, name=f"{layer.name}_product")
    return _cast_to_output(b, y, layer, layer.name)


@freezes(HSum)
def _freeze_sum(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    total = b.sum(xs[0], layer.axes, layer.keepdims, name=f"{layer.name}_sum")
    return _cast_to_output(b, total, layer, layer.name)


@freezes(HGlobalAveragePooling1D, HGlobalAveragePooling2D)
def _freeze_global_avgpool(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    spatial = b.types[xs[0]].shape[:-1]
    pooled = (1,) * len(spatial) + b.types[xs[0]].shape[-1:]
    k, i, f = (np.reshape(t, pooled) for t in layer.output_types())
    rnd, ovf = layer.output_modes()
    out = b.avgpool(xs[0], spatial, k, i, f, round=rnd, overflow=ovf, strides=spatial, padding="valid",
                    c_f=layer.c_f, name=layer.name if layer.keepdims else f"{layer.name}_pool")
    return out if layer.keepdims else b.reshape(out, pooled[-1:], name=layer.name)


@freezes(HGlobalMaxPooling1D, HGlobalMaxPooling2D)
def _freeze_global_maxpool(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return b.max(xs[0], layer.axes, layer.keepdims, name=layer.name)


@freezes(HPermute)
def _freeze_permute(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    return b.transpose(xs[0], layer.perm, name=layer.name)


@freezes(HSoftmax)
def _freeze_softmax(b: FirmwareBuilder, layer, xs: list[str]) -> str:
    """The softmax as exact ops and its two exact tables (:mod:`hgq_fpga.nn.layers.softmax`)."""
    name, axis = layer.name, (layer.sample_axis,)

    def cast(x: str, q, suffix: str) -> str:
        return b.cast(x, *q.fixed_types(), round=q.round_mode, overflow=q.overflow_mode,
                      name=f"{name}_{suffix}")

    def table(x: str, fn, q, suffix: str) -> str:
        return b.table(x, fn, *q.fixed_types(), round=q.round_mode, overflow=q.overflow_mode,
                       label=fn.name, name=f"{name}_{suffix}")

    top = b.max(xs[0], axis, keepdims=True, name=f"{name}_max")
    d = cast(b.subtract(xs[0], top, name=f"{name}_diff"), layer.dq, "exp_in")
    e = table(d, EXP, layer.eq, "exp")
    s = cast(b.sum(e, axis, keepdims=True, name=f"{name}_sum"), layer.sq, "sum_q")
    r = table(s, RECIPROCAL, layer.rq, "inverse")
    return _cast_to_output(b, b.multiply(e, r, name=f"{name}_product"), layer, name)


def to_firmware(model: keras.Model) -> FirmwareModel:
    """Freeze a calibrated HGQ model into the integer firmware IR.

    Each model input must feed one :class:`HQuantize` layer, whose type becomes the firmware's input
    type. The firmware's inputs and outputs are in the model's own order (``model.inputs``,
    ``model.outputs``), so ``fw.predict([xa, xb])`` takes what ``model([xa, xb])`` takes, and so do
    every backend's ports. Raises :class:`UnsupportedLayerError` naming any layer outside the layer
    set, and ``ValueError`` for an uncalibrated model.
    """
    try:
        graph = functional_graph(model)
    except ValueError as e:
        raise UnsupportedLayerError(str(e)) from None
    for layer in graph.layers:
        if not isinstance(layer, keras.layers.InputLayer) and not hasattr(layer, "output_types"):
            raise _unsupported(layer)
    require_calibrated(model)
    b = FirmwareBuilder()
    names: dict[int, str] = {}
    quantized: dict[int, list[str]] = {}          # model input tensor -> the HQuantize layers reading it
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        for node in graph._nodes_by_depth[depth]:
            layer = node.operation
            if isinstance(layer, keras.layers.InputLayer):
                continue
            xs = [None if isinstance(t._keras_history.operation, keras.layers.InputLayer) else names[id(t)]
                  for t in node.input_tensors]
            if None in xs and not isinstance(layer, HQuantize):
                producer = node.input_tensors[xs.index(None)]._keras_history.operation
                raise UnsupportedLayerError(
                    f"model input {producer.name!r} feeds {type(layer).__name__} {layer.name!r}; "
                    "every model input must go through an HQuantize layer first")
            if isinstance(layer, HQuantize) and xs == [None]:
                quantized.setdefault(id(node.input_tensors[0]), []).append(layer.name)
                k, i, f = layer.output_types()
                rnd, ovf = layer.output_modes()
                out = b.input(layer.name, tuple(k.shape), k, i, f, round=rnd, overflow=ovf)
            else:
                out = freezer_of(layer)(b, layer, xs)
            for tensor in node.outputs:
                names[id(tensor)] = out
    b.inputs = _in_model_order(b.inputs, graph.inputs, quantized)
    return b.build([names[id(t)] for t in graph.outputs])


def _in_model_order(specs: list, inputs, quantized: dict[int, list[str]]) -> list:
    """The firmware inputs ordered as the model's inputs; each model input has exactly one."""
    by_name = {s.name: s for s in specs}
    ordered = []
    for tensor in inputs:
        readers = quantized.get(id(tensor), [])
        name = tensor._keras_history.operation.name
        if len(readers) != 1:
            raise UnsupportedLayerError(
                f"model input {name!r} feeds {len(readers)} HQuantize layers ({', '.join(readers) or 'none'}); "
                "give each model input exactly one HQuantize layer (use its output in several places)")
        ordered.append(dataclasses.replace(by_name[readers[0]], source=name))
    return ordered

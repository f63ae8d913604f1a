"""Map a plain float Keras 3 model onto the hgq_fpga layer set, layer by layer.

The result is the HGQ model (same graph, same names) plus one :class:`Step` per HGQ layer, in
topological order, that the scale search walks through. Each step knows the float computation it
replaces (its *reference*, evaluated on float inputs), so the search can compare the layer's float
output with its quantized output.

Mapping rules:

* ``InputLayer`` -> ``keras.Input`` + :class:`HQuantize`;
* ``Dense``/``Conv1D``/``Conv2D``/``EinsumDense`` -> ``HDense``/``HConv1D``/``HConv2D``/
  ``HEinsumDense``. A ``BatchNormalization`` that alone consumes a linear Dense or Conv layer's
  output is folded into its kernel and bias (in float64, before quantization: the firmware
  multiplies by the fused weights); a following ReLU that alone consumes it is fused as
  ``activation="relu"``. Other kernel activations become an :class:`HActivation` (or an
  :class:`HSoftmax`) after the layer;
* any other ``BatchNormalization`` (after an activation, say) -> a per-channel scale and shift,
  ``HEinsumDense("...c,c->...c")``, whose kernel and bias are the fused ``gamma / sqrt(var + eps)``
  and ``beta - mean · scale`` (float64);
* ``Activation``/``ReLU``/``LeakyReLU`` (element-wise functions) -> :class:`HActivation`;
  ``Softmax`` and the softmax activation -> :class:`HSoftmax` (dropped instead where it is a model
  output if ``drop_softmax=True``);
* ``MaxPooling``/``AveragePooling``/``GlobalMaxPooling``/``GlobalAveragePooling`` 1D/2D, ``Add``,
  ``Multiply``, ``Concatenate``, ``Flatten``, ``Reshape``, ``Permute`` -> their HGQ counterparts;
  ``Dropout`` and the noise layers vanish (identity at inference);
* ``MultiHeadAttention`` -> the layers of :class:`~hgq_fpga.nn.layers.HMultiHeadAttention`: four
  kernel steps (the query's ``1/sqrt(key_dim)`` folded into its kernel and bias), the scores
  :class:`HEinsum`, the :class:`HSoftmax` and the combining :class:`HEinsum`.

Anything else is refused with an :class:`UnmappableLayerError` that names the layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn import layers as H
from hgq_fpga.nn.graph import functional_graph

#: layers that are the identity at inference
IDENTITY_LAYERS = ("Dropout", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                   "GaussianDropout", "AlphaDropout", "ActivityRegularization")
KERNEL_LAYERS = {"Dense": H.HDense, "Conv1D": H.HConv1D, "Conv2D": H.HConv2D}
POOL_LAYERS = {"MaxPooling1D": H.HMaxPooling1D, "MaxPooling2D": H.HMaxPooling2D,
               "AveragePooling1D": H.HAveragePooling1D, "AveragePooling2D": H.HAveragePooling2D}
GLOBAL_POOL_LAYERS = {"GlobalMaxPooling1D": H.HGlobalMaxPooling1D, "GlobalMaxPooling2D": H.HGlobalMaxPooling2D,
                      "GlobalAveragePooling1D": H.HGlobalAveragePooling1D,
                      "GlobalAveragePooling2D": H.HGlobalAveragePooling2D}
#: quantizer options of the PTQ model: round half up, saturate; ``f`` may go far either way
_F_RANGE = {"f_min": -100.0, "f_max": 100.0, "f_init": 0.0}
ACT_Q = {"granularity": "per_tensor", "round_mode": "RND", "overflow_mode": "SAT", **_F_RANGE}
BIAS_Q = {"granularity": "per_element", "round_mode": "RND", "overflow_mode": "SAT",
          "init_bits": None, **_F_RANGE}


class UnmappableLayerError(ValueError):
    """The float model holds a layer that PTQ cannot map onto the hgq_fpga layer set."""


@dataclass
class Step:
    """One HGQ layer of the PTQ model and the float computation it stands for.

    ``inputs``/``output`` index the model's values (tensors); ``reference(xs)`` computes the float
    output from float input arrays. Kernel steps carry the float64 kernel and bias (batch norm
    folded in) that the search quantizes.
    """

    layer: keras.layers.Layer
    inputs: list[int]
    output: int
    reference: Callable[[list[np.ndarray]], np.ndarray]
    kernel: np.ndarray | None = None
    bias: np.ndarray | None = None
    relu: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_kernel(self) -> bool:
        return self.kernel is not None


@dataclass
class Mapped:
    """The mapped HGQ model, its steps in topological order, and where its values come from."""

    model: keras.Model
    steps: list[Step]
    inputs: list[int]          # value ids of the model inputs (raw, before HQuantize)
    outputs: list[int]         # value ids of the model outputs
    source: keras.Model        # the float model


def _graph(model: keras.Model) -> keras.Model:
    try:
        return functional_graph(model)
    except ValueError as e:
        raise UnmappableLayerError(str(e)) from None


def _activation_name(fn: Any) -> str:
    name = keras.activations.serialize(fn) if callable(fn) else fn
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return str(name)


def _unary_of(layer: keras.layers.Layer) -> str | None:
    """The element-wise activation name of an activation layer, or None if it is not one."""
    kind = type(layer).__name__
    if kind == "Activation":
        return _activation_name(layer.activation)
    if kind == "ReLU":
        slope, thr, top = float(layer.negative_slope), float(layer.threshold), layer.max_value
        if slope == 0 and thr == 0 and top is None:
            return "relu"
        if slope == 0 and thr == 0 and top is not None and float(top) == 6.0:
            return "relu6"
        raise UnmappableLayerError(f"ReLU layer {layer.name!r} with negative_slope={slope}, threshold={thr}, "
                                   f"max_value={top} has no hgq_fpga equivalent (plain ReLU or ReLU(6) only)")
    if kind == "LeakyReLU":
        if abs(float(layer.negative_slope) - 0.2) < 1e-12:
            return "leaky_relu"
        raise UnmappableLayerError(f"LeakyReLU layer {layer.name!r}: only negative_slope=0.2 (the "
                                   f"'leaky_relu' activation) is supported, got {layer.negative_slope}")
    return None


def _check_unary(name: str, owner: keras.layers.Layer) -> str:
    if name not in H.UNARY_ACTIVATIONS:
        raise UnmappableLayerError(f"layer {owner.name!r} uses activation {name!r}; supported: "
                                   f"{', '.join(H.UNARY_ACTIVATIONS)}")
    return name


def _check_channels_last(layer: keras.layers.Layer) -> None:
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt != "channels_last":
        raise UnmappableLayerError(f"layer {layer.name!r} uses data_format={fmt!r}; only channels_last maps")


def _fold_batchnorm(bn: keras.layers.Layer, kernel: np.ndarray, bias: np.ndarray):
    """``W * s`` and ``(b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``, in float64."""
    axis = bn.axis if isinstance(bn.axis, int) else (bn.axis[0] if len(bn.axis) == 1 else None)
    rank = len(bn.input.shape)
    if axis is None or axis % rank != rank - 1:
        raise UnmappableLayerError(f"BatchNormalization {bn.name!r} normalises axis {bn.axis}; only the "
                                   "channel (last) axis maps")
    n = kernel.shape[-1]
    get = lambda v: np.asarray(ops.convert_to_numpy(v), np.float64)  # noqa: E731
    gamma = get(bn.gamma) if bn.scale else np.ones(n)
    beta = get(bn.beta) if bn.center else np.zeros(n)
    s = gamma / np.sqrt(get(bn.moving_variance) + float(bn.epsilon))
    return kernel * s, (bias - get(bn.moving_mean)) * s + beta


class _Builder:
    """Walks the float graph once, creating HGQ layers on new symbolic tensors."""

    def __init__(self, model: keras.Model, weight_granularity: str, drop_softmax: bool) -> None:
        self.model = model
        self.graph = _graph(model)
        self.kq = {"granularity": weight_granularity, "round_mode": "RND", "overflow_mode": "SAT",
                   "init_bits": None, **_F_RANGE}
        self.drop_softmax = drop_softmax
        self.values: dict[int, int] = {}       # id(float tensor) -> value id
        self.symbolic: dict[int, Any] = {}     # value id -> HGQ KerasTensor
        self.steps: list[Step] = []
        self.done: set[int] = set()            # ids of float nodes already absorbed
        self.consumers: dict[int, list] = {}
        self.outputs = {id(t) for t in self.graph.outputs}
        for nodes in self.graph._nodes_by_depth.values():
            for node in nodes:
                for t in node.input_tensors:
                    self.consumers.setdefault(id(t), []).append(node)

    # --------------------------------------------------------------- helpers
    def _new_value(self, symbolic) -> int:
        vid = len(self.symbolic)
        self.symbolic[vid] = symbolic
        return vid

    def _add(self, layer, inputs: list[int], reference, **kw) -> int:
        xs = [self.symbolic[v] for v in inputs]
        out = layer(xs if len(xs) > 1 else xs[0])
        vid = self._new_value(out)
        self.steps.append(Step(layer, inputs, vid, reference, **kw))
        return vid

    def _sole_consumer(self, tensor):
        """The node that alone consumes ``tensor`` (which is not a model output), else None."""
        users = self.consumers.get(id(tensor), [])
        if len(users) == 1 and id(tensor) not in self.outputs:
            return users[0]
        return None

    # ----------------------------------------------------------------- walk
    def build(self) -> Mapped:
        inputs = []
        for t in self.graph.inputs:
            sym = keras.Input(tuple(t.shape[1:]), name=t._keras_history.operation.name)
            raw = self._new_value(sym)
            inputs.append(raw)
            q = H.HQuantize(output_quantizer=ACT_Q, name=f"{t._keras_history.operation.name}_quantize")
            self.values[id(t)] = self._add(q, [raw], lambda xs: np.asarray(xs[0], np.float64))
        for depth in sorted(self.graph._nodes_by_depth, reverse=True):
            for node in self.graph._nodes_by_depth[depth]:
                if id(node) in self.done or isinstance(node.operation, keras.layers.InputLayer):
                    continue
                self._node(node)
        outputs = [self.values[id(t)] for t in self.graph.outputs]
        ins, outs = [self.symbolic[v] for v in inputs], [self.symbolic[v] for v in outputs]
        model = keras.Model(ins if len(ins) > 1 else ins[0], outs if len(outs) > 1 else outs[0],
                            name=f"{self.model.name}_ptq")
        return Mapped(model, self.steps, inputs, outputs, self.model)

    def _node(self, node) -> None:
        layer = node.operation
        kind = type(layer).__name__
        ins = [self.values[id(t)] for t in node.input_tensors]
        out_tensor = node.outputs[0]
        if len(node.outputs) != 1:
            raise UnmappableLayerError(f"layer {layer.name!r} ({kind}) has several outputs")
        if kind in KERNEL_LAYERS or kind == "EinsumDense":
            self._kernel(layer, ins[0], node)
            return
        if kind == "MultiHeadAttention":
            self.values[id(out_tensor)] = self._attention(layer, node)
            return
        if kind in IDENTITY_LAYERS:
            vid = ins[0]
        elif kind == "BatchNormalization":
            vid = self._batchnorm(layer, ins[0])
        elif kind == "Softmax":
            vid = self._softmax(layer, ins[0], out_tensor, axis=layer.axis)
        elif _unary_of(layer) is not None:
            name = _unary_of(layer)
            vid = self._softmax(layer, ins[0], out_tensor) if name == "softmax" else \
                self._unary(_check_unary(name, layer), ins[0], layer.name)
        elif kind in POOL_LAYERS:
            _check_channels_last(layer)
            opts = {"output_quantizer": ACT_Q} if kind.startswith("Average") else {}
            h = POOL_LAYERS[kind](pool_size=layer.pool_size, strides=layer.strides, padding=layer.padding,
                                  name=layer.name, **opts)
            vid = self._add(h, ins, _float_call(layer))
        elif kind in GLOBAL_POOL_LAYERS:
            _check_channels_last(layer)
            opts = {"output_quantizer": ACT_Q} if "Average" in kind else {}
            h = GLOBAL_POOL_LAYERS[kind](keepdims=layer.keepdims, name=layer.name, **opts)
            vid = self._add(h, ins, _float_call(layer))
        elif kind == "Add":
            vid = self._add(H.HAdd(output_quantizer=ACT_Q, name=layer.name), ins, _float_call(layer))
        elif kind == "Multiply":
            if len(ins) != 2:
                raise UnmappableLayerError(f"Multiply {layer.name!r} has {len(ins)} inputs; PTQ maps the "
                                           "product of two")
            vid = self._add(H.HMultiply(output_quantizer=ACT_Q, name=layer.name), ins, _float_call(layer))
        elif kind == "Concatenate":
            vid = self._add(H.HConcatenate(axis=layer.axis, name=layer.name), ins, _float_call(layer))
        elif kind == "Flatten":
            vid = self._add(H.HFlatten(name=layer.name), ins, _float_call(layer))
        elif kind == "Reshape":
            vid = self._add(H.HReshape(layer.target_shape, name=layer.name), ins, _float_call(layer))
        elif kind == "Permute":
            vid = self._add(H.HPermute(layer.dims, name=layer.name), ins, _float_call(layer))
        else:
            raise UnmappableLayerError(f"layer {layer.name!r} of class {kind} has no hgq_fpga equivalent; "
                                       "PTQ maps Dense, Conv1D/2D, EinsumDense, BatchNormalization, "
                                       "element-wise activations, Softmax, pooling and global pooling, "
                                       "Add, Multiply, Concatenate, Flatten, Reshape, Permute, "
                                       "MultiHeadAttention and Dropout")
        self.values[id(out_tensor)] = vid

    def _unary(self, name: str, value: int, layer_name: str) -> int:
        h = H.HActivation(name, output_quantizer=ACT_Q, name=layer_name)
        fn = keras.activations.get(name)
        return self._add(h, [value], lambda xs: _np(fn(ops.convert_to_tensor(xs[0], "float64"))))

    def _softmax(self, layer, value: int, tensor, axis: int = -1, name: str | None = None) -> int:
        """An HSoftmax, or nothing where ``drop_softmax`` drops a softmax at a model output."""
        if self.drop_softmax and id(tensor) in self.outputs:
            return value
        if not isinstance(axis, (int, np.integer)):
            raise UnmappableLayerError(f"layer {layer.name!r} normalises axes {axis}; PTQ maps a softmax "
                                       "over one axis")
        h = H.HSoftmax(axis=int(axis), output_quantizer=ACT_Q, name=name or layer.name,
                       **{option: dict(ACT_Q) for option in SOFTMAX_INTERNAL})
        return self._add(h, [value], lambda xs, a=int(axis): _softmax(xs[0], a))

    def _batchnorm(self, bn, value: int) -> int:
        """A batch norm that follows no kernel: the per-channel scale and shift as a kernel step."""
        channels = int(bn.input.shape[-1])
        scale, shift = _fold_batchnorm(bn, np.ones(channels), np.zeros(channels))
        h = H.HEinsumDense("...c,c->...c", channels, bias_axes="c", kernel_quantizer=self.kq,
                           bias_quantizer=BIAS_Q, output_quantizer=ACT_Q, name=bn.name)
        return self._add(h, [value], lambda xs, h=h, w=scale, b=shift: _linear(h, xs[0], w, b, False),
                         kernel=scale, bias=shift)

    def _new_kernel_layer(self, layer, act: str, fused: bool, kernel: np.ndarray):
        """The HGQ layer of a Dense, Conv or EinsumDense with the PTQ quantizers."""
        kind = type(layer).__name__
        opts = dict(activation="relu" if act == "relu" else None, kernel_quantizer=self.kq,
                    bias_quantizer=BIAS_Q, output_quantizer=ACT_Q,
                    name=layer.name if fused else f"{layer.name}_linear")
        if kind == "Dense":
            return H.HDense(layer.units, use_bias=True, **opts)
        if kind == "EinsumDense":
            # per-channel weight scales along the kernel's last axis, when that is the output's last
            terms, out = layer.equation.split("->")
            if terms.split(",")[1][-1:] != out[-1:]:
                opts["kernel_quantizer"] = dict(self.kq, granularity="per_tensor")
            return H.HEinsumDense(layer.equation, layer.partial_output_shape, bias_axes=layer.bias_axes,
                                  **opts)
        return KERNEL_LAYERS[kind](layer.filters, layer.kernel_size, strides=layer.strides,
                                   padding=layer.padding, use_bias=True, **opts)

    def _kernel(self, layer, value: int, node) -> int:
        kind = type(layer).__name__
        if kind not in ("Dense", "EinsumDense"):
            _check_channels_last(layer)
            if any(d != 1 for d in np.atleast_1d(layer.dilation_rate)) or getattr(layer, "groups", 1) != 1:
                raise UnmappableLayerError(f"{kind} {layer.name!r}: dilation and groups are not supported")
            if layer.padding not in ("valid", "same"):
                raise UnmappableLayerError(f"{kind} {layer.name!r}: padding {layer.padding!r} is not supported")
        act = _activation_name(layer.activation) if layer.activation is not None else "linear"
        kernel = np.asarray(ops.convert_to_numpy(layer.kernel), np.float64)
        if kind == "EinsumDense":
            bias = np.asarray(ops.convert_to_numpy(layer.bias), np.float64) if layer.bias is not None else None
        else:
            bias = (np.asarray(ops.convert_to_numpy(layer.bias), np.float64) if layer.use_bias
                    else np.zeros(kernel.shape[-1]))
        tensor = node.outputs[0]
        if act == "linear":
            nxt = self._sole_consumer(tensor)
            if kind != "EinsumDense" and nxt is not None and type(nxt.operation).__name__ == "BatchNormalization":
                kernel, bias = _fold_batchnorm(nxt.operation, kernel, bias)
                self.done.add(id(nxt))
                tensor = nxt.outputs[0]
                nxt = self._sole_consumer(tensor)
            if nxt is not None and _unary_of(nxt.operation) == "relu":
                act = "relu"
                self.done.add(id(nxt))
                tensor = nxt.outputs[0]
        fused = act in ("linear", "relu")
        if act == "softmax" and self.drop_softmax and id(tensor) in self.outputs:
            act, fused = "linear", True
        if not fused and act != "softmax":
            _check_unary(act, layer)
        h = self._new_kernel_layer(layer, act, fused, kernel)
        relu = act == "relu"
        vid = self._add(h, [value], lambda xs, h=h, w=kernel, b=bias, r=relu: _linear(h, xs[0], w, b, r),
                        kernel=kernel, bias=bias, relu=relu)
        if act == "softmax":
            vid = self._softmax(layer, vid, tensor, name=layer.name)
        elif not fused:
            vid = self._unary(act, vid, layer.name)
        self.values[id(tensor)] = vid
        return vid

    def _attention(self, layer, node) -> int:
        """A MultiHeadAttention as the steps of :class:`~hgq_fpga.nn.layers.HMultiHeadAttention`."""
        args, kwargs = list(node.arguments.args), dict(node.arguments.kwargs)
        query, value = args[0], (args[1] if len(args) > 1 else kwargs.pop("value"))
        key = args[2] if len(args) > 2 else kwargs.pop("key", None)
        refused = [k for k, v in kwargs.items() if v is not None and v is not False and k != "training"]
        if refused or getattr(layer, "_use_gate", False) or getattr(layer, "_sliding_window", None):
            raise UnmappableLayerError(f"MultiHeadAttention {layer.name!r}: PTQ maps plain attention; "
                                       f"not masks, gates, sliding windows or returned scores "
                                       f"({', '.join(refused) or 'gate/window'})")
        if len(query.shape) != 3 or tuple(layer._attention_axes) != (1,):
            raise UnmappableLayerError(f"MultiHeadAttention {layer.name!r}: PTQ maps attention over the "
                                       "one sequence axis of (batch, length, dim) inputs")
        key = value if key is None else key
        c = float(layer._inverse_sqrt_key_dim)
        ids = {part: self._projection(layer, getattr(layer, f"_{part}_dense"), self.values[id(t)], part,
                                      c if part == "query" else 1.0)
               for part, t in (("query", query), ("key", key), ("value", value))}
        scores = self._product(layer._dot_product_equation, [ids["key"], ids["query"]], f"{layer.name}_scores")
        h = H.HSoftmax(axis=-1, output_quantizer=ACT_Q, name=f"{layer.name}_softmax",
                       **{option: dict(ACT_Q) for option in SOFTMAX_INTERNAL})
        probs = self._add(h, [scores], lambda xs: _softmax(xs[0], -1))
        combined = self._product(layer._combine_equation, [probs, ids["value"]], f"{layer.name}_combine")
        return self._projection(layer, layer._output_dense, combined, "output", 1.0)

    def _projection(self, mha, dense, value: int, part: str, scale: float) -> int:
        kernel = np.asarray(ops.convert_to_numpy(dense.kernel), np.float64) * scale
        bias = (np.asarray(ops.convert_to_numpy(dense.bias), np.float64) * scale
                if dense.bias is not None else None)
        h = H.HEinsumDense(dense.equation, dense.partial_output_shape, bias_axes=dense.bias_axes,
                           kernel_quantizer=self.kq, bias_quantizer=BIAS_Q, output_quantizer=ACT_Q,
                           name=f"{mha.name}_{part}")
        return self._add(h, [value], lambda xs, h=h, w=kernel, b=bias: _linear(h, xs[0], w, b, False),
                         kernel=kernel, bias=bias)

    def _product(self, equation: str, inputs: list[int], name: str) -> int:
        h = H.HEinsum(equation, output_quantizer=ACT_Q, name=name)
        return self._add(h, inputs, lambda xs, e=equation: np.einsum(e, xs[0], xs[1]))


#: the HSoftmax quantizers besides its output
SOFTMAX_INTERNAL = ("exp_input_quantizer", "exp_output_quantizer", "sum_quantizer", "inverse_quantizer")


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """The float64 softmax along ``axis`` (Keras counting: the batch axis is 0)."""
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np(t) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(t), np.float64)


def _float_call(layer: keras.layers.Layer) -> Callable[[list[np.ndarray]], np.ndarray]:
    """The float layer itself as the reference (weightless layers: activations, pooling, merging)."""
    def run(xs: list[np.ndarray]) -> np.ndarray:
        args = [ops.convert_to_tensor(np.asarray(x, np.float32)) for x in xs]
        return _np(layer(args if len(args) > 1 else args[0]))
    return run


def _linear(h, x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, relu: bool) -> np.ndarray:
    """``act(x ⊛ W + b)`` in float64 with the HGQ layer's own kernel operation."""
    y = _np(h.apply_kernel(ops.convert_to_tensor(x, "float64"), ops.convert_to_tensor(kernel, "float64")))
    y = y if bias is None else y + bias
    return np.maximum(y, 0.0) if relu else y


def map_model(model: keras.Model, weight_granularity: str = "per_channel",
              drop_softmax: bool = False) -> Mapped:
    """Map ``model`` onto hgq_fpga layers (types not yet set); raises UnmappableLayerError."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"quantize_float needs a keras.Model, got {type(model).__name__}")
    return _Builder(model, weight_granularity, drop_softmax).build()

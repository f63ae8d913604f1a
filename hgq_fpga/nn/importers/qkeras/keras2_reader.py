"""Read a QKeras 0.9 model inside the legacy environment and write its neutral description.

This module runs only in a subprocess started by :mod:`hgq_fpga.nn.importers.qkeras.runner` with
``TF_USE_LEGACY_KERAS=1`` (Keras 2 through ``tf_keras``); it imports TensorFlow, ``tf_keras`` and
QKeras, never Keras 3 or the rest of hgq_fpga. Commands::

    python -m hgq_fpga.nn.importers.qkeras.keras2_reader describe MODEL OUTDIR [--trust]
    python -m hgq_fpga.nn.importers.qkeras.keras2_reader predict MODEL X.npz OUT.npz [--trust]
    python -m hgq_fpga.nn.importers.qkeras.keras2_reader table REQUESTS.json OUT.npz

``MODEL`` is checked right before ``tf_keras`` loads it (:mod:`.file_check`: no code, only
supported layers; the parent process has checked it too) unless ``--trust`` is given. A failed
command ends its stderr with one short line (:data:`~.description.REFUSED` when the model cannot
be imported, naming the layer or input; :data:`~.description.FAILED` otherwise), after the
traceback, which the parent keeps for ``--debug`` only.

``describe`` writes the layer graph, every quantizer's class and config, and the weights *as QKeras
multiplies by them*: the output of each weight quantizer, computed by QKeras itself (eagerly and in
a ``tf.function``, which must agree), so that no quantizer semantics of weights has to be
re-implemented. ``predict`` runs QKeras's own ``model.predict`` in float32, the reference that the
imported model is compared with bit for bit (arrays ``x0, x1, ...`` in, one per model input;
``y0, y1, ...`` out, one per output). ``table`` evaluates activation quantizers
(``quantized_tanh``, ``quantized_sigmoid``, ...; rebuilt from their class and config) on every
input code the builder asks for (:mod:`hgq_fpga.nn.importers.qkeras.tables`), the same way.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import traceback
from typing import Any

import numpy as np

from hgq_fpga.nn.importers.qkeras.description import (FAILED, REFUSED, LayerDescription, ModelDescription,
                                                      short_line)
from hgq_fpga.nn.importers.qkeras.file_check import TRUST_FLAG, check_qkeras_file
from hgq_fpga.nn.model_files import ModelFileError

if os.environ.get("TF_USE_LEGACY_KERAS") != "1":  # pragma: no cover - guarded by legacy.py
    raise RuntimeError("qkeras_reader must run with TF_USE_LEGACY_KERAS=1 (use hgq_fpga.nn.importers.qkeras.runner)")

import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402
import qkeras  # noqa: E402
from qkeras.utils import _add_supported_quantized_objects  # noqa: E402

#: weight roles per layer attribute: (role, attribute holding the float variable, quantizer attribute)
_WEIGHT_QUANTIZERS = (("kernel", "kernel", "kernel_quantizer_internal"),
                      ("bias", "bias", "bias_quantizer_internal"))
#: attributes that hold a runtime (activation) quantizer or function
_RUNTIME_QUANTIZERS = (("activation", "quantizer"), ("activation", "activation"),
                       ("average", "average_quantizer_internal"))
_BN_QUANTIZERS = (("gamma", "gamma_quantizer_internal"), ("beta", "beta_quantizer_internal"),
                  ("mean", "mean_quantizer_internal"), ("variance", "variance_quantizer_internal"))


class Refusal(ValueError):
    """The model cannot be imported; the message names the layer or input and says why."""


def load(path: str, trust: bool = False):
    """Load a QKeras model (``.h5``, SavedModel folder or ``tf_keras`` ``.keras``) without compiling.

    Unless ``trust``, the file's configuration is checked first (:func:`check_qkeras_file`), so
    that ``tf_keras`` never deserializes code that the file holds.
    """
    if not trust:
        check_qkeras_file(path)
    custom: dict[str, Any] = {}
    _add_supported_quantized_objects(custom)
    try:
        return tf_keras.models.load_model(path, custom_objects=custom, compile=False)
    except Exception as err:  # noqa: BLE001 - tf_keras raises many kinds for a file it cannot read
        raise Refusal(f"tf_keras cannot load it ({type(err).__name__}: {short_line(err, 200)})") from err


def _plain(value: Any) -> Any:
    """A config value as plain JSON data (numpy and TensorFlow values converted)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (tf.Variable, tf.Tensor)):
        return _plain(value.numpy())
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _text(q: Any, config: dict[str, Any]) -> str:
    """``str(q)`` (QKeras's own spelling); ``quantized_hswish.__str__`` fails in QKeras 0.9.0."""
    try:
        return str(q)
    except Exception:  # noqa: BLE001 - any failure of a third-party __str__
        args = ",".join(f"{k}={v!r}" for k, v in config.items() if v is not None)
        return f"{type(q).__name__}({args})"


def describe_quantizer(q: Any) -> dict[str, Any] | None:
    """``{"class", "config"}`` for a QKeras quantizer, ``{"function"}`` for a Keras activation."""
    if q is None:
        return None
    if isinstance(q, str):
        q = qkeras.quantizers.get_quantizer(q)
    if isinstance(q, qkeras.quantizers.BaseQuantizer) or type(q).__module__.startswith("qkeras"):
        config = _plain(q.get_config() if hasattr(q, "get_config") else {})
        out = {"class": type(q).__name__, "config": config, "text": _text(q, config)}
        if hasattr(q, "_min_exp") and hasattr(q, "_max_exp"):   # po2: the exponent range it clips to
            out["exponents"] = [int(q._min_exp), int(q._max_exp)]
        return out
    name = getattr(q, "__name__", None)
    if name is None:
        return {"class": type(q).__name__, "config": {}, "text": str(q)}
    return {"function": name}


def _quantized(q, value, where: str) -> np.ndarray:
    """``q(value)`` as QKeras computes it at inference, eagerly and traced (they must agree);
    ``where`` (``"layer 'fc1': kernel quantizer"``) names it in the refusal."""
    value = tf.convert_to_tensor(value, tf.float32)
    eager = np.asarray(q(value), np.float32)
    traced = np.asarray(tf.function(lambda v: q(v))(value), np.float32)
    if not np.array_equal(eager.view(np.uint32), traced.view(np.uint32)):
        config = _plain(q.get_config()) if hasattr(q, "get_config") else {}
        alpha = config.get("alpha")
        if isinstance(alpha, str) and alpha != "auto_po2":
            why = f" (alpha={alpha!r} computes float scales from the values)"
            fix = "use alpha='auto_po2' (power-of-two scales) or alpha=1"
        else:
            why, fix = "", "use a quantizer whose result does not depend on how TensorFlow runs it"
        raise Refusal(f"{where} {_text(q, config)}: QKeras gives different values eagerly and in a tf.function"
                      f"{why}, so its inference result is not well defined; {fix}")
    return eager


def _inbound(layer) -> list[tuple[str, int]]:
    nodes = layer._inbound_nodes
    if len(nodes) != 1:
        raise Refusal(f"layer {layer.name!r} is used {len(nodes)} times; shared layers are not supported: "
                      "give each call its own layer")
    return [(inbound.name, int(tensor_index))
            for inbound, _, tensor_index, _ in nodes[0].iterate_inbound()]


def _batch_norm_affine(layer, desc: LayerDescription) -> tuple[np.ndarray, np.ndarray]:
    """QBatchNormalization at inference is ``x * scale + offset`` in float32 (tf.nn.batch_normalization):
    ``scale = rsqrt(var + eps) * gamma`` and ``offset = beta - mean * scale`` with QKeras's quantized
    parameters. Computed here by TensorFlow, in a tf.function, as predict computes them."""
    params = {}
    for role, qattr in _BN_QUANTIZERS:
        var = getattr(layer, {"mean": "moving_mean", "variance": "moving_variance"}.get(role, role), None)
        q = getattr(layer, qattr, None) if var is not None else None
        if q is not None:
            desc.quantizers[role] = describe_quantizer(q)
        params[role] = None if var is None else (_quantized(q, var, f"layer {layer.name!r}: {role} quantizer")
                                                 if q is not None else np.asarray(var, np.float32))
    eps = float(layer.epsilon)

    @tf.function
    def affine(mean, variance, gamma, beta):
        inv = tf.math.rsqrt(variance + tf.cast(eps, tf.float32))
        if gamma is not None:
            inv = inv * gamma
        return inv, (beta - mean * inv) if beta is not None else -mean * inv

    scale, offset = affine(params["mean"], params["variance"], params["gamma"], params["beta"])
    return np.asarray(scale, np.float32), np.asarray(offset, np.float32)


def describe_layer(layer, arrays: dict[str, np.ndarray]) -> LayerDescription:
    """One layer: graph edges, plain config, quantizers, weights as QKeras multiplies by them."""
    cls = type(layer).__name__
    config = _plain(layer.get_config())
    desc = LayerDescription(layer.name, cls, [] if cls == "InputLayer" else _inbound(layer), config)

    def put(role: str, value) -> None:
        key = f"{layer.name}/{role}"
        arrays[key] = np.asarray(value, np.float32)
        desc.arrays[role] = key

    for role, attr in _RUNTIME_QUANTIZERS:
        if role not in desc.quantizers and hasattr(layer, attr):
            q = describe_quantizer(getattr(layer, attr))
            if q is not None:
                desc.quantizers[role] = q
    if cls == "QConv2DBatchnorm":
        kernel, bias = layer.get_folded_weights()
        weights = {"kernel": kernel, "bias": bias}
    else:
        weights = {role: getattr(layer, var) for role, var, _ in _WEIGHT_QUANTIZERS
                   if getattr(layer, var, None) is not None}
    for role, _, qattr in _WEIGHT_QUANTIZERS:
        if role not in weights:
            continue
        q = getattr(layer, qattr, None)
        put(f"{role}_float", weights[role])
        if q is not None:
            desc.quantizers[role] = describe_quantizer(q)
            put(role, _quantized(q, weights[role], f"layer {layer.name!r}: {role} quantizer"))
        else:
            put(role, weights[role])
    if cls == "QBatchNormalization":
        scale, offset = _batch_norm_affine(layer, desc)
        put("bn_scale", scale)
        put("bn_offset", offset)
    if cls == "QAveragePooling2D" and getattr(layer, "average_quantizer_internal", None) is not None:
        area = float(np.prod(layer.pool_size))
        put("average_factor", _quantized(layer.average_quantizer_internal, np.float32(1.0 / area),
                                         f"layer {layer.name!r}: average quantizer"))
    return desc


def describe(model) -> ModelDescription:
    """The neutral description of a loaded QKeras model."""
    arrays: dict[str, np.ndarray] = {}
    layers: list[LayerDescription] = []
    seen = set()
    inputs = []
    if not model.inputs:
        raise Refusal("the model has no defined inputs (a Sequential model saved before it was built): "
                      "give its first layer an input_shape, or start it with an Input")
    for t in model.inputs:
        layer = t._keras_history.layer
        inputs.append((layer.name, tuple(None if s is None else int(s) for s in t.shape[1:])))
        if layer.name not in seen:
            layers.append(LayerDescription(layer.name, "InputLayer", [], _plain(layer.get_config())))
            seen.add(layer.name)
    for layer in model.layers:
        if layer.name in seen:
            continue
        seen.add(layer.name)
        try:
            layers.append(describe_layer(layer, arrays))
        except Refusal:
            raise
        except Exception as err:  # noqa: BLE001 - any failure of QKeras or TensorFlow on this layer
            raise Refusal(f"layer {layer.name!r} ({type(layer).__name__}): {type(err).__name__}: "
                          f"{short_line(err, 200)}") from err
    outputs = [(t._keras_history.layer.name, int(t._keras_history.tensor_index)) for t in model.outputs]
    return ModelDescription(model.name, inputs, outputs, layers, arrays, qkeras.__version__)


def predict(model, x, batch_size: int = 1024):
    """QKeras's own float32 ``model.predict`` (the reference of every bit-exactness test).

    ``x``: an array, or a list of one per model input; returns an array, or a list of one per
    model output, as ``model.predict`` does. Inputs that do not fit the model are refused naming
    the input.
    """
    xs = [np.asarray(a, np.float32) for a in (x if isinstance(x, (list, tuple)) else [x])]
    names = [t._keras_history.layer.name for t in model.inputs]
    if len(xs) != len(names):
        raise Refusal(f"the model has {len(names)} input(s) ({', '.join(names)}), got {len(xs)} array(s)")
    for a, name, t in zip(xs, names, model.inputs):
        want = tuple(t.shape[1:])
        if a.ndim != len(want) + 1 or any(w is not None and w != s for w, s in zip(want, a.shape[1:])):
            raise Refusal(f"model input {name!r} takes samples of shape {tuple(want)}, got an array of "
                          f"shape {a.shape}")
    y = model.predict(xs if len(xs) > 1 else xs[0], batch_size=batch_size, verbose=0)
    return [np.asarray(v) for v in y] if isinstance(y, (list, tuple)) else np.asarray(y)


def rebuild_quantizer(cls_name: str, config: dict[str, Any]):
    """The QKeras quantizer of class ``cls_name`` with ``config``, checked to round-trip.

    Keys that the constructor does not take are dropped (``quantized_hswish.get_config`` returns
    ``keep_negative``, which its ``__init__`` refuses in QKeras 0.9.0); the rebuilt quantizer must
    then report the very same configuration."""
    cls = getattr(qkeras.quantizers, cls_name)
    accepted = inspect.signature(cls.__init__).parameters
    q = cls(**{k: v for k, v in config.items() if k in accepted})
    again = _plain(q.get_config())
    if again != config:
        raise ValueError(f"{cls_name}{config} rebuilds as {cls_name}{again}")
    return q


def tables(requests: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """QKeras's own float32 output of each requested quantizer on each requested input grid.

    A request is ``{"key", "quantizer": {"class", "config"}, "domain": [f, lo, hi]}``; the inputs
    are ``code * 2^-f`` for every code ``lo..hi`` (exact in float32).
    """
    out = {}
    for r in requests:
        where = f"layer {r['key']!r}: activation quantizer"
        try:
            q = rebuild_quantizer(r["quantizer"]["class"], r["quantizer"]["config"])
        except Exception as err:  # noqa: BLE001 - a constructor that refuses the configuration
            raise Refusal(f"{where} {r['quantizer']['class']}: QKeras cannot rebuild it ({short_line(err, 200)})") from err
        f, lo, hi = (int(v) for v in r["domain"])
        x = np.ldexp(np.arange(lo, hi + 1, dtype=np.float64), -f).astype(np.float32)
        out[r["key"]] = _quantized(q, x, where)
    return out


def main(argv: list[str]) -> int:
    trust = TRUST_FLAG in argv
    argv = [a for a in argv if a != TRUST_FLAG]
    try:
        return _command(argv, trust)
    except (Refusal, ModelFileError) as err:
        traceback.print_exc()
        print(REFUSED + short_line(err), file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - the parent reads one line; the traceback is for --debug
        traceback.print_exc()
        print(FAILED + short_line(f"{type(err).__name__}: {err}"), file=sys.stderr)
    return 1


def _command(argv: list[str], trust: bool) -> int:
    if len(argv) >= 3 and argv[0] == "describe":
        describe(load(argv[1], trust)).save(argv[2])
        return 0
    if len(argv) >= 4 and argv[0] == "predict":
        with np.load(argv[2]) as data:
            xs = [data[f"x{j}"] for j in range(len(data.files))]
        y = predict(load(argv[1], trust), xs)
        np.savez(argv[3], **{f"y{j}": v for j, v in enumerate(y if isinstance(y, list) else [y])})
        return 0
    if len(argv) >= 3 and argv[0] == "table":
        with open(argv[1]) as fh:
            np.savez(argv[2], **tables(json.load(fh)))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

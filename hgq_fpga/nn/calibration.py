"""Calibration: fix every ``(k, i, f)`` and switch an HGQ model to exact calibrated mode (``docs/method.md`` §4)."""

from __future__ import annotations

import keras
import numpy as np

from hgq_fpga.nn.keras_backend import (call_keeping_state, forget_trainer_state, refuse_training,
                                       require_float64)
from hgq_fpga.nn.layers.base import HOutputQuantized, hgq_layers


def _input_shapes(model: keras.Model) -> list[tuple]:
    try:
        return [tuple(t.shape[1:]) for t in model.inputs]
    except (AttributeError, TypeError, ValueError):  # a subclassed model has no symbolic inputs
        return []


def _batches(x, batch_size: int, shapes: list[tuple] = ()):
    """Split the calibration inputs into batches; refuse empty, ragged, misshaped or non-finite data."""
    if x is None:
        raise ValueError("calibrate needs calibration data, got None")
    arrays = x if isinstance(x, (list, tuple)) else [x]
    for a in arrays:
        if not isinstance(a, (np.ndarray, list, tuple, int, float)) and not hasattr(a, "__array__"):
            raise ValueError(f"calibrate needs the inputs as NumPy arrays (a list of them for several "
                             f"model inputs), got {type(a).__name__}; e.g. for a tf.data.Dataset of "
                             "(x, y) batches: np.concatenate([b[0] for b in dataset.as_numpy_iterator()])")
    arrays = [np.asarray(a) for a in arrays]
    if not arrays or arrays[0].ndim == 0 or any(a.size == 0 for a in arrays):
        raise ValueError("calibrate needs a non-empty calibration data set, got an empty array")
    if shapes and len(shapes) == len(arrays):
        for n, (a, shape) in enumerate(zip(arrays, shapes)):
            if a.ndim != len(shape) + 1 or any(s is not None and s != d for s, d in zip(shape, a.shape[1:])):
                which = f"calibration input {n}" if len(arrays) > 1 else "calibration data"
                want = ", ".join("?" if s is None else str(s) for s in shape)
                raise ValueError(f"{which} has shape {a.shape}; the model expects (samples, {want})")
    elif shapes and isinstance(x, (list, tuple)):
        raise ValueError(f"the model has {len(shapes)} input(s), calibrate got a list of {len(arrays)} arrays")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"calibration inputs have different numbers of samples: {[len(a) for a in arrays]}")
    for a in arrays:
        if np.issubdtype(a.dtype, np.number) and not np.all(np.isfinite(a)):
            raise ValueError("calibration data contains NaN or inf; the activation ranges would be "
                             "meaningless")
    for start in range(0, n, batch_size):
        part = [a[start:start + batch_size] for a in arrays]
        yield part if isinstance(x, (list, tuple)) else part[0]


def calibrate(model: keras.Model, x, batch_size: int = 1024, margin: int = 0) -> int:
    """Trace activation ranges on ``x``, fix every type, and switch ``model`` to calibrated mode.

    After this the HGQ layers compute in float64 with each quantizer's rounding and overflow mode,
    exactly as the firmware will, also for inputs outside the calibrated range.

    Args:
        x: calibration inputs (an array, or a list of arrays for several inputs).
        batch_size: inference batch size.
        margin: extra integer bits given to every activation beyond the observed range.

    Returns:
        The exact EBOPs of the calibrated model (an int).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    require_float64("calibrate")
    layers = hgq_layers(model)
    if not layers:
        raise ValueError(f"calibrate: model {model.name!r} has no HGQ layers; build it from hgq_fpga.nn.layers "
                         "(HQuantize on every input, then HDense, HConv2D, HActivation, ...)")
    batches = list(_batches(x, batch_size, _input_shapes(model)))
    for layer in layers:
        layer.uncalibrate()
        layer.reset_ranges()
        layer.set_recording(True)
    try:
        call_keeping_state(model, batches)
    finally:
        for layer in layers:
            layer.set_recording(False)
    _refuse_non_finite_ranges(model, layers, batches)
    for layer in layers:
        layer.calibrate_types(margin)
    for layer in layers:
        layer.check_exact()
    _forget_compiled(model)
    trained = [layer for layer in layers if isinstance(layer, HOutputQuantized) and layer.oq.calibrated]
    if trained:
        refuse_training(model, trained[0].training_refused())
    return int(sum(layer.exact_ebops() for layer in layers if layer.has_ebops))


def _non_finite_range(layer) -> bool:
    """Whether an activation range the layer recorded reached inf or NaN."""
    for q in layer.quantizers():
        if q.kind != "activation" or not q.built:
            continue
        lo = keras.ops.convert_to_numpy(q.vmin)
        hi = keras.ops.convert_to_numpy(q.vmax)
        # an element never seen keeps (+inf, -inf); anything else must be finite
        if np.any(np.isnan(lo) | np.isnan(hi) | (lo == -np.inf) | (hi == np.inf)):
            return True
    return False


def _refuse_non_finite_ranges(model: keras.Model, layers, batches) -> None:
    """Raise, naming the first layer (in graph order) and sample, when a value reached inf or NaN:
    no fixed-point type holds it, and a type fitted to it would silently be wrong."""
    bad = [layer for layer in layers if _non_finite_range(layer)]
    if not bad:
        return
    layer = bad[0]
    probe = keras.Model(model.inputs, layer.output)
    offset = 0
    for xb in batches:
        y = np.asarray(keras.ops.convert_to_numpy(probe(xb, training=False)), np.float64)
        rows = ~np.isfinite(y.reshape(len(y), -1)).all(axis=1)
        if rows.any():
            sample = offset + int(np.argmax(rows))
            raise ValueError(f"calibrate: layer {layer.name!r} ({type(layer).__name__}) computes a "
                             f"non-finite value (inf or NaN) for calibration sample {sample}; no "
                             "fixed-point type holds it. Scale the inputs, or clip before that "
                             "layer (e.g. a narrower input quantizer)")
        offset += len(y)
    raise ValueError(f"calibrate: layer {layer.name!r} ({type(layer).__name__}) recorded a non-finite "
                     "activation range (inf or NaN); no fixed-point type holds it")


def _forget_compiled(model: keras.Model) -> None:
    """Drop ``fit``/``evaluate``/``predict``'s traced functions: they captured the other mode (and
    the state Keras's JAX trainer keeps of the last run, so that it never restores one of the
    other mode over this one)."""
    for attr in ("train_function", "test_function", "predict_function"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    forget_trainer_state(model)


def uncalibrate(model: keras.Model) -> keras.Model:
    """Back to training mode: the model, trainable again from its calibrated bit widths; use the result.

    A calibrated model refuses ``fit``: its exact arithmetic has no gradients, and its fixed types
    were chosen for the weights of that moment. An HGQ or post-training-quantized model is switched
    back in place and returned (each quantizer's trainable ``f`` already holds its widths). A model
    with fixed quantizers (a QKeras import), which never train, is returned as a new model of the
    same architecture with trainable quantizers started at the imported widths and the imported
    weights; its rounding becomes HGQ's (``RND_CONV`` trains as ``RND``, ``SAT_SYM`` as ``SAT``),
    so it is no longer QKeras-exact. Calibrate again before converting.

    Raises:
        ValueError: a fixed model holds a table activation (a QKeras ``quantized_tanh``, say): a
            table of another tool's outputs has no gradient to train through.
    """
    from hgq_fpga.nn.quantizers.fixed import FixedQuantizer

    layers = hgq_layers(model)
    if any(isinstance(q, FixedQuantizer) for layer in layers for q in layer.quantizers()):
        return _trainable_copy(model, layers)
    for layer in layers:
        layer.uncalibrate()
    _forget_compiled(model)
    return model


#: fixed-quantizer modes that HGQ trains with their nearest trainable mode
_TRAINABLE_ROUND = {"RND_CONV": "RND"}
_TRAINABLE_OVERFLOW = {"SAT_SYM": "SAT"}


def _trainable_config(config):
    """A layer config with every FixedQuantizer config replaced by an HQuantizer's."""
    if isinstance(config, dict):
        if config.get("class_name") == "FixedQuantizer":
            inner = config["config"]
            return {"kind": inner.get("kind", "activation"),
                    "round_mode": _TRAINABLE_ROUND.get(inner["round_mode"], inner["round_mode"]),
                    "overflow_mode": _TRAINABLE_OVERFLOW.get(inner["overflow_mode"], inner["overflow_mode"]),
                    "name": inner.get("name")}
        return {k: _trainable_config(v) for k, v in config.items()}
    return config


def _trainable_copy(model: keras.Model, layers) -> keras.Model:
    """A trainable copy of a model with fixed quantizers (see :func:`uncalibrate`)."""
    from hgq_fpga.nn.layers import CodeTable, HActivation
    from hgq_fpga.nn.quantizers.fixed import FixedQuantizer

    for layer in layers:
        if isinstance(layer, HActivation) and isinstance(layer.fn, CodeTable):
            raise ValueError(f"layer {layer.name!r} is a table of QKeras's {layer.fn.__name__}, which has no "
                             "gradient; rebuild that activation with HActivation('tanh'/'sigmoid') to retrain")

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config(_trainable_config(layer.get_config()))

    new = keras.models.clone_model(model, clone_function=clone)
    for old_layer, new_layer in zip(model.layers, new.layers):
        for attr in ("kernel", "bias"):
            if getattr(old_layer, attr, None) is not None and getattr(new_layer, attr, None) is not None:
                getattr(new_layer, attr).assign(getattr(old_layer, attr))
        old_qs = old_layer.quantizers() if hasattr(old_layer, "quantizers") else []
        new_qs = new_layer.quantizers() if hasattr(new_layer, "quantizers") else []
        for old_q, new_q in zip(old_qs, new_qs):
            if isinstance(old_q, FixedQuantizer):
                f = np.clip(old_q.fixed_types()[2], new_q.f_min, new_q.f_max)
                new_q.f.assign(np.broadcast_to(f, new_q.f.shape).astype(np.float32))
    return new


def require_calibrated(model: keras.Model) -> None:
    """Raise a clear ValueError unless every HGQ layer of ``model`` has fixed types.

    The converter calls this before reading types.
    """
    layers = hgq_layers(model)
    if not layers:
        raise ValueError(f"model {model.name!r} has no HGQ layers, so it has no fixed-point types; build "
                         "it from hgq_fpga.nn.layers (HQuantize on every input, then HDense, HConv2D, ...)")
    for layer in layers:
        if not layer.calibrated:
            raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) of model {model.name!r} is "
                             "not calibrated; run hgq_fpga.calibrate(model, x) first")

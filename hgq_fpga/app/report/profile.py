"""Profiles of a design: where each layer's float weights and activations lie against its chosen types.

What hls4ml's profiling shows, for the types HGQ chose: per layer, a box of the magnitudes of the
float weights (the Keras kernel as trained, before quantization; a post-training-quantized model
keeps only its quantized kernel, marked ``on_grid``) and of the activations, set against
the range the layer's fixed-point types can hold, from the finest step ``2^-f`` to the largest
magnitude ``2^i`` over the layer's elements. A box left of the range loses its values to rounding; a
whisker right of it is clipped or wrapped.

*Activations* are the values each layer computes **before** its output is cast to the chosen type
(the exact accumulator of the firmware, given its quantized inputs), and the raw input data before
the input quantizer, on up to :data:`SAMPLES` samples of the data the design was checked on
(held-out data where given): the whisker beyond the range is what the cast clips or wraps,
counted in ``outside``.

The record is built once, when the design is built (:func:`profile_record`, which reads the float
kernels from the Keras model), and kept in the manifest as quantiles, so that ``hgq-fpga report
DIR`` redraws the figure from the folder alone. Magnitudes are drawn on a log axis; exact zeros
(pruned weights, ReLU's zeros) cannot be, so they are counted instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hgq_fpga.app.report.stats import summarize

#: the quantiles kept per box: the extremes, the whiskers (5 % and 95 %), the box (25 %, 75 %), the median
QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
#: samples of the data run through the emulator for the activations
SAMPLES = 1000
#: samples per emulator call (every intermediate tensor of a chunk is kept)
CHUNK = 128
#: values per layer the quantiles are taken over at most (a deterministic even subsample beyond)
MAX_VALUES = 200_000


def box(values: np.ndarray) -> dict:
    """``{"count", "zeros", "quantiles"}`` of the magnitudes of ``values`` (quantiles over the nonzero
    ones, ``None`` when all are zero)."""
    magnitudes = np.abs(np.asarray(values, dtype=np.float64).ravel())
    nonzero = magnitudes[magnitudes > 0]
    return {"count": int(magnitudes.size), "zeros": int(magnitudes.size - nonzero.size),
            "quantiles": [float(q) for q in np.quantile(nonzero, QUANTILES)] if nonzero.size else None}


def type_range(k: np.ndarray, i: np.ndarray, f: np.ndarray) -> list[float] | None:
    """``[finest step, largest magnitude]`` over the live elements of a type: ``2^-max f`` and ``2^max i``."""
    live = (np.asarray(k) + np.asarray(i) + np.asarray(f)) > 0
    if not live.any():
        return None
    return [float(np.ldexp(1.0, -int(np.max(f[live])))), float(np.ldexp(1.0, int(np.max(i[live]))))]


def _outside(values: np.ndarray, t) -> int:
    """Values beyond their own element's type (what a cast to it clips or wraps)."""
    live = np.broadcast_to(t.width > 0, values.shape)
    hi = np.ldexp(1.0, t.i) - np.ldexp(1.0, -t.f)
    lo = -t.k * np.ldexp(1.0, t.i)
    return int(np.count_nonzero(live & ((values > hi) | (values < lo))))


def _float_kernel(model, name: str) -> np.ndarray | None:
    """The float kernel of Keras layer ``name`` (``None`` where the model has no such layer or kernel)."""
    try:
        kernel = getattr(model.get_layer(name), "kernel", None)
    except (ValueError, AttributeError):
        return None
    if kernel is None:
        return None
    return np.asarray(kernel.numpy() if hasattr(kernel, "numpy") else kernel, dtype=np.float64)


def _weights(fw_op, kernel: np.ndarray | None) -> dict | None:
    """The float kernel's box against the range of the weight codes' types (``None`` without a kernel)."""
    from hgq_fpga.ir.resources import weight_bits

    if kernel is None:
        return None
    bits = weight_bits(fw_op.w_raw)
    f = np.broadcast_to(np.asarray(fw_op.w_f), bits.shape)
    kept = bits > 0
    record = box(kernel)
    record["range"] = (None if not kept.any() else
                       [float(np.ldexp(1.0, -int(f[kept].max()))), float(np.ldexp(1.0, int((bits - f)[kept].max())))])
    # a post-training-quantized model keeps only the quantized kernel: say so rather than call it float
    record["on_grid"] = bool(kernel.shape == bits.shape
                             and np.array_equal(kernel, np.ldexp(np.asarray(fw_op.w_raw, np.float64), -f)))
    return record


def _profiled_tensors(fw, stats) -> list[tuple[Any, str, Any]]:
    """Per layer row of ``stats``: ``(row, tensor whose values are profiled, type they are cast to)``.

    A model input is profiled on the raw data (``""``), a cast or table on the tensor it reads."""
    ops = {op.name: op for op in fw.ops}
    inputs = {s.name: s for s in fw.inputs}
    rows = []
    for row in stats.layers:
        if row.name in inputs:
            rows.append((row, "", inputs[row.name].type))
        elif row.name in ops:
            op = ops[row.name]
            source = op.inputs[0] if op.kind in ("cast", "table") else op.name
            rows.append((row, source, op.out))
    return rows


def _activation_values(fw, x, names: list[str]) -> dict[str, list[np.ndarray]]:
    """Values of the tensors ``names`` (``""``: the raw input) on ``x``, chunk by chunk."""
    found: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(x), CHUNK):
        chunk = x[start:start + CHUNK]
        env = fw.run_raw(chunk, keep_all=True)
        for name in names:
            found[name].append(np.asarray(fw.as_inputs(chunk)[0], np.float64) if name == "" else
                               np.ldexp(env[name].astype(np.float64), -fw.types[name].f))
    return found


def _thinned(values: np.ndarray) -> np.ndarray:
    flat = values.ravel()
    return flat if flat.size <= MAX_VALUES else flat[:: -(-flat.size // MAX_VALUES)]


def profile_record(model, fw, x, data: str) -> dict:
    """The profile of firmware ``fw`` (and the float kernels of its Keras ``model``) on inputs ``x``
    (one input; ``data`` says what they are), as the manifest keeps it."""
    if len(fw.inputs) != 1:
        return {"data": data, "samples": 0, "quantiles": list(QUANTILES), "layers": [],
                "note": "profiles are drawn for models with one input"}
    stats = summarize(fw)
    ops = {op.name: op for op in fw.ops}
    x = np.asarray(x)[:SAMPLES]
    rows = _profiled_tensors(fw, stats)
    values = _activation_values(fw, x, sorted({name for _, name, _ in rows}))
    layers = []
    for row, name, cast_type in rows:
        joined = np.concatenate(values[name])
        activations = box(_thinned(joined))
        activations["range"] = type_range(cast_type.k, cast_type.i, cast_type.f)
        activations["outside"] = _outside(joined, cast_type)
        weight_op = ops.get(row.weight_ops[0]) if row.weight_ops else None
        weights = (_weights(weight_op, _float_kernel(model, row.name))
                   if weight_op is not None and weight_op.kind in ("dense", "conv") else None)
        layers.append({"layer": row.name, "kind": row.kind, "weights": weights, "activations": activations})
    return {"data": data, "samples": int(len(x)), "quantiles": list(QUANTILES), "layers": layers}

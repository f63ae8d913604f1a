"""HGQ2 (PyPI ``hgq2==0.2.0``) on the four particle architectures, its models recounted with our EBOPs.

HGQ2 trains in its own venv (:mod:`bench.contenders.hgq2_env`; ``hgq2_particles_worker.py train``)
the architecture of ``examples/particles/models.py`` built from its own layers, and exports every
epoch: its layers in order (``graph.json``), each quantizer's ``(k, i, f)``, the quantized weights.
Each export is then rebuilt as *our* model (:func:`to_ours`), quantization point for quantization
point, so that both sides are counted by one definition (``docs/method.md`` §3):

* every HGQ2 input quantizer (``iq``: HGQ2 quantizes the inputs of each layer) becomes an
  :class:`~hgq_fpga.nn.layers.HQuantize` in front of the same layer, with HGQ2's fractional bits
  and its rounding (``RND``) and overflow (``WRAP``); an element HGQ2 prunes (``k + i + f <= 0``)
  is pruned here too;
* HGQ2's output quantizer (the logits) becomes that layer's output quantizer; every other output
  quantizer of ours is made wide (``WIDE_F`` fractional bits), since HGQ2 does not quantize there;
* the softmax's four table quantizers map to ours (the exp table's input and output, the sum, the
  reciprocal);
* every kernel and bias value is HGQ2's quantized value, with the fewest fractional bits that hold
  it exactly (a weight is charged the bits its value needs; a zero weight nothing);
* then it is calibrated like our own models (integer bits from the calibration events), which gives
  its exact EBOPs, and its accuracies as calibrated.

HGQ2's own EBOPs count (which also charges additions) is kept as ``hgq2_ebops``, for reference only.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import keras
import numpy as np

from hgq_fpga.nn.layers import (HAdd, HDense, HEinsum, HEinsumDense, HGlobalAveragePooling1D, HPermute,
                                HQuantize, HSoftmax, HSum)

from .hgq2_env import ensure_hgq2_venv, worker_env
from .hgq2_front import HGQ2FrontError, set_f, fewest_fractional_bits

WORKER = Path(__file__).resolve().parent / "hgq2_particles_worker.py"
#: fractional bits of our output quantizers where HGQ2 has none (exact for these models' sums)
WIDE_F = 24.0
#: HGQ2's activation quantizer ("datalane" default): round to nearest, wrap
ACTIVATION = {"round_mode": "RND", "overflow_mode": "WRAP"}
#: our softmax quantizer <- HGQ2's (table, quantizer)
SOFTMAX = {"dq": "exp_iq", "eq": "exp_oq", "sq": "inv_iq", "rq": "inv_oq"}


def run_worker(python: Path, mode: str, settings: dict, timeout: float | None = None) -> dict:
    """Run the particle worker in ``mode`` with ``python``; its result line (raises on failure)."""
    run = subprocess.run([str(python), str(WORKER), mode, json.dumps(settings)], capture_output=True,
                         text=True, timeout=timeout, env=worker_env())
    if run.returncode != 0:
        tail = "\n".join(run.stderr.strip().splitlines()[-15:])
        raise HGQ2FrontError(f"HGQ2 particle worker {mode} failed (exit {run.returncode}):\n{tail}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def train_hgq2(arch: str, options: dict, data: Path, out: Path, betas: list[float], batch_size: int,
               learning_rate: float, seed: int, timeout: float | None = None) -> dict:
    """Train HGQ2's ``arch`` in its venv; every epoch exported to ``out`` (see the worker)."""
    return run_worker(ensure_hgq2_venv(), "train", {
        "data": str(data), "out": str(out), "arch": arch, "options": options, "betas": betas,
        "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed}, timeout)


def _quantize(name: str) -> HQuantize:
    return HQuantize(output_quantizer=dict(ACTIVATION), name=name)


def _layer(spec: dict):
    """Our layer for one HGQ2 layer of ``graph.json`` (its own output quantizer still to be set)."""
    cls, cfg, name = spec["class"], spec["config"], spec["name"]
    act = {"output_quantizer": dict(ACTIVATION), "name": name}
    relu = "relu" if cfg.get("activation") == "relu" else None
    if cls == "QDense":
        return HDense(cfg["units"], activation=relu, use_bias=cfg.get("use_bias", True), **act)
    if cls == "QEinsumDense":
        return HEinsumDense(cfg["equation"], cfg["output_shape"], activation=relu, bias_axes=cfg.get("bias_axes"),
                            **act)
    if cls == "QEinsum":
        return HEinsum(cfg["equation"], **act)
    if cls == "QSum":
        return HSum(axis=tuple(cfg["axes"]), keepdims=cfg["keepdims"], **act)
    if cls == "QAdd":
        return HAdd(**act)
    if cls == "QGlobalAveragePooling1D":
        return HGlobalAveragePooling1D(keepdims=cfg.get("keepdims", False), **act)
    if cls == "QSoftmax":
        (axis,) = cfg["axes"]
        return HSoftmax(axis=axis, name=name, output_quantizer=dict(ACTIVATION))
    if cls == "Permute":
        return HPermute(tuple(cfg["dims"]), name=name)
    raise HGQ2FrontError(f"no hgq_fpga counterpart for HGQ2 layer {name!r} ({cls})")


def _widths(export: dict, key: str) -> np.ndarray:
    """HGQ2's fractional bits of quantizer ``key``, with pruned elements (no bits) at -126."""
    k, i, f = (export[f"{key}.{field}"] for field in "kif")
    return np.where(k + i + f <= 0, -126.0, f)


def _assign_f(q, f: np.ndarray, what: str) -> None:
    """Give quantizer ``q`` the fractional bits ``f``: one per element of ``q``, or one for all."""
    shape = tuple(q.f.shape)
    f = np.asarray(f, np.float64)
    if f.size not in (1, int(np.prod(shape))):
        raise HGQ2FrontError(f"{what}: HGQ2 has {f.size} widths, our quantizer {shape}")
    set_f(q, f.reshape(shape) if f.size > 1 else np.broadcast_to(f.reshape(-1), shape))


def to_ours(graph: dict, export: dict) -> keras.Model:
    """Our uncalibrated model holding one HGQ2 export (see the module docstring)."""
    tensors, layers = {}, {}
    for spec in graph["layers"]:
        name = spec["name"]
        if spec["class"] == "InputLayer":
            tensors[name] = keras.Input(tuple(graph["input_shape"]), name=name)
            continue
        ins = [tensors[n] for n in spec["inbound"]]
        if spec["iq"]:
            quantizers = [_quantize(f"{name}_iq{j}") for j in range(len(ins))]
            ins = [q(t) for q, t in zip(quantizers, ins)]
            for j, q in enumerate(quantizers):
                _assign_f(q.oq, _widths(export, f"{name}.iq{j}"), f"{name}.iq{j}")
        layer = _layer(spec)
        tensors[name] = layer(ins if len(ins) > 1 else ins[0])
        layers[name] = layer
    for spec in graph["layers"]:
        layer = layers.get(spec["name"])
        if layer is None or not hasattr(layer, "oq"):
            continue
        _assign_f(layer.oq, _widths(export, f"{spec['name']}.oq") if spec["oq"] else np.full(1, WIDE_F),
                  f"{spec['name']}.oq")
        if isinstance(layer, HSoftmax):
            for ours, theirs in SOFTMAX.items():
                _assign_f(getattr(layer, ours), _widths(export, f"{spec['name']}.{theirs}"), f"{spec['name']}.{theirs}")
        if hasattr(layer, "kq"):
            _set_weights(layer, export, spec["name"])
    return keras.Model(tensors[graph["layers"][0]["name"]], [tensors[n] for n in graph["outputs"]])


def _set_weights(layer, export: dict, name: str) -> None:
    pairs = [(layer.kernel, layer.kq, export[f"{name}.kernel"])]
    if layer.bq is not None:
        pairs.append((layer.bias, layer.bq, export[f"{name}.bias"]))
    for var, q, value in pairs:
        if value.shape != tuple(var.shape):
            raise HGQ2FrontError(f"layer {name!r}: HGQ2 weights {value.shape}, ours {tuple(var.shape)}")
        if not np.array_equal(value.astype(np.float32).astype(np.float64), value):
            raise HGQ2FrontError(f"layer {name!r}: an HGQ2 weight is not a float32 value")
        var.assign(value.astype(np.float32))
        set_f(q, fewest_fractional_bits(value, int(q.f_min)))


def check_weights(model: keras.Model, export: dict) -> None:
    """Raise unless the calibrated ``model``'s kernels and biases equal HGQ2's exactly."""
    for layer in model.layers:
        if not hasattr(layer, "kq"):
            continue
        weights = [np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in layer.calibrated_weights()]
        for what, ours in zip(("kernel", "bias"), weights):
            theirs = export.get(f"{layer.name}.{what}")
            if theirs is not None and int(np.sum(ours != theirs)):
                raise HGQ2FrontError(f"layer {layer.name!r}: {what} values differ from HGQ2's after calibration")


def zero_width_activations(graph: dict, export: dict) -> int:
    """How many activation elements HGQ2 pruned to no bits (its quantizers' ``k + i + f <= 0``)."""
    total = 0
    for spec in graph["layers"]:
        keys = [f"{spec['name']}.iq{j}" for j in range(len(spec["inbound"]))] if spec["iq"] else []
        keys += [f"{spec['name']}.oq"] if spec["oq"] else []
        for key in keys:
            k, i, f = (export[f"{key}.{field}"] for field in "kif")
            total += int(np.sum(k + i + f <= 0))
    return total

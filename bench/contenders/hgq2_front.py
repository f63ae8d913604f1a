"""HGQ2 (PyPI ``hgq2==0.2.0``) trained on the resource study's recipe, its models recounted with
our EBOPs (issue 19: the reference implementation beside our HGQ front).

HGQ2 runs in its own venv (:mod:`bench.contenders.hgq2_env`; ``hgq2_worker.py front``), on the same
images, epochs, batch size, learning rate and beta ramp as our HGQ run, and exports every epoch's
quantized weights and activation widths. Each export is then rebuilt as *our* model of the same
architecture (:func:`to_ours`):

* every kernel and bias value is HGQ2's quantized value, with the fewest fractional bits that hold
  it exactly (so a weight is charged the bits its value needs, not the bits HGQ2 declared, and a
  zero weight nothing);
* every activation keeps HGQ2's fractional bits; an activation HGQ2 prunes (``relu(i + f) = 0``)
  is pruned here too. In the CNN, HGQ2 quantizes each layer's input, i.e. the max-pooled values,
  where ours quantizes the convolution's output before the pooling: each pooled value's bits are
  given to its whole window (:func:`_laid_out`; the maximum of values rounded alike is the rounded
  maximum);
* then it is calibrated like our own checkpoints (integer bits from the calibration images), which
  gives its exact EBOPs by ``docs/method.md`` §3, and its accuracy as calibrated.

So both fronts are counted by one definition, from the values each one trained. HGQ2's own count
charges each weight's declared bit width and adds the bias and sign-free activation widths; its
number is kept in the record as ``hgq2_ebops`` for reference only. The rebuilt kernels are checked
to equal HGQ2's quantized kernels exactly (an error otherwise).

Two starts (``init``): ``default`` (HGQ2's own starting widths) and ``fair`` (each weight starts with
the study's ``hgq_init_bits`` significant bits, or with ``hgq_weight_f`` fractional bits, and each
activation with ``hgq_f_init`` fractional bits, as ours does). The learning-rate schedule is the
study's too.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import keras
import numpy as np

from hgq_fpga.nn.quantizers.fixed import tight_types

from bench.common.data import Split
from bench.common.models import build
from bench.common.training import Plan, StudyConfig, Trained, calibrate_and_score, calibration_set, train_data

from .hgq2_env import ensure_hgq2_venv, worker_command, worker_env
INITS = ("default", "fair")


class HGQ2FrontError(RuntimeError):
    """The HGQ2 training failed, or its export cannot be rebuilt exactly as our model."""


def fewest_fractional_bits(values: np.ndarray, floor: int) -> np.ndarray:
    """Per value, the fewest fractional bits ``F >= floor`` with ``value * 2**F`` an integer
    (``floor`` for zero): the ``f`` of the tightest exact type (:func:`tight_types`)."""
    v = np.asarray(values, np.float64)
    return np.where(v != 0, np.maximum(tight_types(v)[2], floor), floor)


def _dense_layers(model: keras.Model) -> list:
    """The kernel layers of ``model`` in order (those with a kernel quantizer)."""
    return [layer for layer in model.layers if hasattr(layer, "kq")]


def _set_f(q, F: np.ndarray) -> None:
    """Assign per-element fractional bits to quantizer ``q`` (widening its ``f`` bounds if needed)."""
    F = np.asarray(F, np.float64).reshape(q.f.shape)
    q.f_max = max(q.f_max, float(F.max()))
    q.f_min = min(q.f_min, float(F.min()))
    q.f.assign(F.astype(np.float32))


def _laid_out(f: np.ndarray, target: tuple[int, ...]) -> np.ndarray:
    """HGQ2's per-element fractional bits ``f`` of a tensor, laid onto the shape ``target`` of our
    quantizer of the same values: the same size is a reshape; otherwise HGQ2 quantizes the 2x2
    max-pooled values (flattened or not) of our ``target`` tensor, so each of its values is given to
    the whole window it pools (max-pooling commutes with one rounding) and the positions no window
    reads (an odd last row or column) are pruned."""
    if f.size == int(np.prod(target)):
        return f.reshape(target)
    h, w, c = target
    pooled = f.reshape(h // 2, w // 2, c)
    out = np.full(target, -126.0)
    out[:2 * (h // 2), :2 * (w // 2), :] = np.repeat(np.repeat(pooled, 2, axis=0), 2, axis=1)
    return out


def to_ours(plan: Plan, image_shape: tuple[int, ...], export: dict[str, np.ndarray]) -> keras.Model:
    """Our uncalibrated model of ``plan.arch`` holding one HGQ2 export (see the module docstring)."""
    model = build(plan.arch, image_shape, "hgq")
    quantize, dense = model.layers[1], _dense_layers(model)
    kernels = sum(k.startswith("kernel") for k in export)
    if len(dense) != kernels:
        raise HGQ2FrontError(f"the export has {kernels} kernels, {plan.arch.name} has {len(dense)} kernel layers")
    outs = [quantize.oq] + [l.oq for l in dense]
    f_act = [export[f"f_in{j}"] for j in range(len(dense))] + [export["f_out"]]
    i_act = [export[f"i_in{j}"] for j in range(len(dense))] + [export["i_out"]]
    for q, f, i in zip(outs, f_act, i_act):
        pruned = np.maximum(i + f, 0) == 0
        # no value survives 2**-126: width 0, as in HGQ2
        _set_f(q, _laid_out(np.where(pruned, -126.0, f), tuple(q.f.shape)))
    for j, layer in enumerate(dense):
        kernel, bias = export[f"kernel{j}"], export[f"bias{j}"]
        if kernel.shape != tuple(layer.kernel.shape):
            raise HGQ2FrontError(f"layer {j}: HGQ2 kernel {kernel.shape}, ours {tuple(layer.kernel.shape)}")
        for var, q, value in ((layer.kernel, layer.kq, kernel), (layer.bias, layer.bq, bias)):
            if not np.array_equal(value.astype(np.float32).astype(np.float64), value):
                raise HGQ2FrontError(f"layer {j}: an HGQ2 weight is not a float32 value")
            var.assign(value.astype(np.float32))
            _set_f(q, fewest_fractional_bits(value, int(q.f_min)))
    return model


def check_exact(model: keras.Model, export: dict[str, np.ndarray]) -> None:
    """Raise unless the calibrated ``model``'s kernels and biases equal HGQ2's exactly."""
    for j, layer in enumerate(_dense_layers(model)):
        kernel, bias = (np.asarray(keras.ops.convert_to_numpy(w), np.float64) for w in layer.calibrated_weights())
        for name, ours, theirs in (("kernel", kernel, export[f"kernel{j}"]), ("bias", bias, export[f"bias{j}"])):
            bad = int(np.sum(ours != theirs))
            if bad:
                raise HGQ2FrontError(f"layer {j}: {bad} {name} values differ from HGQ2's after calibration")


def train_hgq2(plan: Plan, split: Split, cfg: StudyConfig, workdir: str, init: str = "default",
               timeout: float | None = None) -> tuple[list[Trained], dict]:
    """Train HGQ2 on the plan's recipe in its venv; every epoch's model rebuilt as ours, calibrated
    and scored (labelled ``hgq2-<init>-e<epoch>``), and the run's facts."""
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if plan.warmup_epochs:
        raise ValueError("the HGQ2 contender has no beta = 0 warm-up epochs")
    python = ensure_hgq2_venv()
    x, y = train_data(split, plan)
    ramp = plan.beta_scheduler()
    betas = [ramp.schedule(e) for e in range(plan.epochs)]
    units = [*plan.arch.hidden, plan.arch.classes]
    flat = plan.arch.kind == "mlp"    # the MLP takes flattened images, the CNN images
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        data = Path(tmp) / "data.npz"
        np.savez(data, x_train=x.reshape(len(x), -1) if flat else x, y_train=y,
                 x_val=split.x_val.reshape(len(split.x_val), -1) if flat else split.x_val, y_val=split.y_val)
        out = Path(tmp) / "epochs"
        cmd = worker_command(python, "front", {
            "data": str(data), "out": str(out), "betas": betas, "units": units, "batch_size": cfg.batch_size,
            "arch": {"kind": plan.arch.kind, "filters": list(plan.arch.filters), "kernel_size": plan.arch.kernel_size},
            "learning_rate": cfg.learning_rate, "seed": cfg.seed, "init": init,
            "init_bits": cfg.hgq_init_bits, "f_init": cfg.hgq_f_init, "weight_f": cfg.hgq_weight_f,
            "lr_schedule": cfg.lr_schedule, "lr_final": cfg.lr_final})
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=worker_env())
        if run.returncode != 0:
            tail = "\n".join(run.stderr.strip().splitlines()[-15:])
            raise HGQ2FrontError(f"HGQ2 training failed (exit {run.returncode}):\n{tail}")
        facts = json.loads(run.stdout.strip().splitlines()[-1])
        x_calib = calibration_set(x, cfg)
        models = []
        for epoch in range(1, plan.epochs + 1):
            with np.load(out / f"epoch{epoch}.npz") as f:
                export = {k: f[k] for k in f.files}
            model = to_ours(plan, split.image_shape, export)
            m = calibrate_and_score(f"hgq2-{init}-e{epoch}", model, x_calib, split,
                        {"epoch": epoch, "beta": betas[epoch - 1], "init": init,
                         "hgq2_val_accuracy": float(export["val_accuracy"]),
                         "hgq2_ebops": float(export["ebops"])})
            check_exact(model, export)
            models.append(m)
    return models, {"train_s": facts["train_s"], "epochs": plan.epochs, "init": init}

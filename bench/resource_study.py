"""The headline benchmark: accuracy against exact EBOPs, HGQ against uniform quantization.

For each architecture:

1. **HGQ**: one training run with a log-linear ramp of ``beta`` (the EBOPs weight);
   :class:`~hgq_fpga.nn.callbacks.ParetoCheckpoint` keeps every epoch on the (validation accuracy,
   training EBOPs) front. Each kept checkpoint is loaded as a copy, calibrated with
   :func:`hgq_fpga.calibrate` (which gives its exact EBOPs) and scored on the test set in
   calibrated mode; the front is then recomputed from those exact numbers.
2. **Uniform**: the same architecture trained once per width ``B`` with every tensor held at
   ``B`` bits (see :mod:`bench.uniform`); the epoch with the best validation accuracy is kept
   (both sides are selected on validation data), then calibrated and scored the same way.
3. **Ratio at matched accuracy**: for each uniform model, its EBOPs divided by the EBOPs of the
   smallest HGQ model that reaches at least its test accuracy. The headline is the ratio for the
   most accurate uniform model.

Accuracies are those of the calibrated (deployed) models, i.e. of the firmware. The sizes of a
run (epochs, images, widths) come from :mod:`bench.config`.
"""

from __future__ import annotations

import glob
import os
import re
import time
from dataclasses import dataclass, field

import keras
import numpy as np

import hgq_fpga
from hgq_fpga.nn.callbacks import BetaScheduler, ParetoCheckpoint

from .data import Split
from .models import Architecture, build, compile_for_training
from .pareto import matched_ratio, pareto_indices
from .uniform import KeepBestEpoch, UniformBits

#: the issue's target for the EBOPs ratio at matched accuracy, per architecture name
TARGET_RATIO = {"mlp": 5.0}


@dataclass(frozen=True)
class Plan:
    """How one architecture is trained: epochs per run (HGQ and each uniform width get the same
    number), the beta schedule of the HGQ run, and how many training images it uses.

    The HGQ run trains ``warmup_epochs`` epochs with ``beta = 0`` (near-float precision: only the
    cross-entropy moves the bit widths), then ramps ``beta`` log-linearly from ``beta_start`` to
    ``beta_stop`` over the remaining epochs.
    """

    arch: Architecture
    epochs: int
    beta_start: float
    beta_stop: float
    n_train: int | None = None
    warmup_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"{self.arch.name}: epochs must be >= 1, got {self.epochs}")
        if not 0 < self.beta_start <= self.beta_stop:
            raise ValueError(f"{self.arch.name}: need 0 < beta_start <= beta_stop, got "
                             f"{self.beta_start}, {self.beta_stop}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"{self.arch.name}: need 0 <= warmup_epochs < epochs, got "
                             f"{self.warmup_epochs}, {self.epochs}")

    def beta_scheduler(self) -> BetaScheduler:
        """``beta = 0`` for the warm-up epochs, then the log-linear ramp."""
        ramp = BetaScheduler.log_ramp(self.beta_start, self.beta_stop, self.epochs - self.warmup_epochs)
        w = self.warmup_epochs
        return BetaScheduler(lambda epoch: 0.0 if epoch < w else ramp.schedule(epoch - w))


@dataclass(frozen=True)
class StudyConfig:
    """Everything the study trains (see :mod:`bench.config` for the presets).

    ``hgq_init_bits`` / ``hgq_f_init`` are HGQ's starting widths (weights' significant bits,
    activations' fractional bits); the uniform runs ignore them.
    """

    plans: tuple[Plan, ...]
    uniform_bits: tuple[int, ...]
    batch_size: int = 32
    learning_rate: float = 1e-3
    hgq_init_bits: int = 2
    hgq_f_init: float = 2.0
    n_calibration: int | None = None
    seed: int = 0

    def describe(self) -> dict:
        """The settings, for results.json."""
        return {"uniform_bits": list(self.uniform_bits), "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "optimizer": "Adam",
                "hgq_init_bits": self.hgq_init_bits, "hgq_f_init": self.hgq_f_init,
                "n_calibration": self.n_calibration, "seed": self.seed,
                "plans": {p.arch.name: {"epochs": p.epochs, "beta_start": p.beta_start,
                                        "beta_stop": p.beta_stop, "warmup_epochs": p.warmup_epochs,
                                        "n_train": p.n_train}
                          for p in self.plans}}


@dataclass
class Trained:
    """One calibrated model and its scores. ``model`` stays in memory for the exactness check."""

    label: str
    model: keras.Model = field(repr=False)
    accuracy: float
    ebops: int
    extra: dict = field(default_factory=dict)

    def point(self) -> dict:
        """The JSON record of this model (no Keras object)."""
        return {"label": self.label, "accuracy": self.accuracy, "ebops": self.ebops, **self.extra}


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model``'s logits (inference mode, batched direct calls)."""
    hits = 0
    for s in range(0, len(x), batch_size):
        logits = keras.ops.convert_to_numpy(model(x[s:s + batch_size], training=False))
        hits += int(np.sum(np.argmax(logits, axis=-1) == y[s:s + batch_size]))
    return hits / len(x)


def _train_data(split: Split, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    n = plan.n_train
    return (split.x_train, split.y_train) if n is None else (split.x_train[:n], split.y_train[:n])


def _finish(label: str, model: keras.Model, x_calib: np.ndarray, split: Split, extra: dict) -> Trained:
    """Calibrate ``model`` in place on ``x_calib`` and score it on the test set."""
    t0 = time.perf_counter()
    exact = int(hgq_fpga.calibrate(model, x_calib))
    acc = accuracy(model, split.x_test, split.y_test)
    extra = {**extra, "calibrate_and_score_s": round(time.perf_counter() - t0, 3)}
    return Trained(label, model, acc, exact, extra)


def _calibration_set(x: np.ndarray, cfg: StudyConfig) -> np.ndarray:
    return x if cfg.n_calibration is None else x[:cfg.n_calibration]


def train_hgq(plan: Plan, split: Split, cfg: StudyConfig, workdir: str) -> tuple[list[Trained], dict]:
    """Train one HGQ model with a beta ramp; return every calibrated Pareto checkpoint and run facts."""
    model = build(plan.arch, split.image_shape, "hgq", seed=cfg.seed, init_bits=cfg.hgq_init_bits,
                  f_init=cfg.hgq_f_init)
    return train_front(model, "hgq", plan, split, cfg, workdir)


def train_front(model: keras.Model, label: str, plan: Plan, split: Split, cfg: StudyConfig, workdir: str,
                callbacks: tuple = ()) -> tuple[list[Trained], dict]:
    """Train ``model`` with the plan's beta ramp (and ``callbacks``); return every calibrated Pareto
    checkpoint (labelled ``<label>-e<epoch>``) and run facts."""
    x, y = _train_data(split, plan)
    compile_for_training(model, cfg.learning_rate)
    ckpt_dir = os.path.join(workdir, f"{plan.arch.name}_{label}")
    # ParetoCheckpoint counts epochs from 1 (as Keras prints them): "epoch" = epochs trained
    pareto = ParetoCheckpoint(ckpt_dir, monitor="val_accuracy", filename="ckpt-epoch{epoch:04d}.keras")
    ramp = plan.beta_scheduler()
    t0 = time.perf_counter()
    model.fit(x, y, validation_data=(split.x_val, split.y_val), epochs=plan.epochs,
              batch_size=cfg.batch_size, verbose=0, callbacks=[ramp, *callbacks, pareto])
    train_s = time.perf_counter() - t0
    out = []
    for val_acc, train_ebops, path in sorted(pareto.front, key=lambda p: p[1]):
        copy = keras.saving.load_model(path, compile=False)
        epoch = int(re.search(r"epoch(\d+)", os.path.basename(path)).group(1))
        extra = {"epoch": epoch, "beta": ramp.schedule(epoch - 1), "val_accuracy": val_acc,
                 "training_ebops": train_ebops}
        out.append(_finish(f"{label}-e{epoch}", copy, _calibration_set(x, cfg), split, extra))
    for path in glob.glob(os.path.join(ckpt_dir, "*.keras")):
        os.remove(path)
    return out, {"train_s": round(train_s, 2), "checkpoints": len(out)}


#: uniform baselines: label prefix and model flavour of each training style
UNIFORM_STYLES = {"free": ("uniform", "uniform"), "saturating": ("uniform-sat", "saturating")}


def train_uniform(plan: Plan, split: Split, cfg: StudyConfig, bits: int, style: str = "free") -> Trained:
    """Train the plan's architecture with every tensor held at ``bits`` bits, keep its best
    validation epoch; calibrate and score.

    ``style``: ``"free"`` (:class:`bench.uniform.UniformBits`: ranges follow the data, nothing
    clips) or ``"saturating"`` (:class:`bench.saturating.SaturatingUniformBits`: integer bits
    fixed after one warm-up epoch, values clipped, as QKeras trains).
    """
    if style not in UNIFORM_STYLES:
        raise ValueError(f"uniform style must be one of {tuple(UNIFORM_STYLES)}, got {style!r}")
    prefix, flavour = UNIFORM_STYLES[style]
    x, y = _train_data(split, plan)
    model = build(plan.arch, split.image_shape, flavour, seed=cfg.seed)
    compile_for_training(model, cfg.learning_rate)
    t0 = time.perf_counter()
    best = KeepBestEpoch("val_accuracy")
    if style == "saturating":
        from .saturating import SaturatingUniformBits
        holder = SaturatingUniformBits(bits, x[:1024], warmup_epochs=min(1, plan.epochs - 1))
    else:
        holder = UniformBits(bits, x[:1024])
    # KeepBestEpoch first: its restore at the end of training comes before the holder's last step
    model.fit(x, y, validation_data=(split.x_val, split.y_val), epochs=plan.epochs,
              batch_size=cfg.batch_size, verbose=0, callbacks=[holder, best] if style == "free" else [best, holder])
    extra = {"bits": bits, "style": style, "train_s": round(time.perf_counter() - t0, 2),
             "epoch": best.best_epoch + 1, "val_accuracy": float(best.best)}
    return _finish(f"{prefix}-{bits}b", model, _calibration_set(x, cfg), split, extra)


def compare(hgq: list[dict], uniform: list[dict]) -> dict:
    """Fronts and matched-accuracy ratios from the JSON points (also used to re-check results.json)."""
    front = [hgq[i] for i in pareto_indices([p["accuracy"] for p in hgq], [p["ebops"] for p in hgq])]
    per_width = [{"label": u["label"], **matched_ratio(u, front)} for u in uniform]
    for row in per_width:
        row["match_label"] = front[row["match"]]["label"] if row["match"] is not None else None
    best = max(range(len(uniform)), key=lambda i: (uniform[i]["accuracy"], -uniform[i]["ebops"]),
               default=None)
    uniform_front = pareto_indices([p["accuracy"] for p in uniform], [p["ebops"] for p in uniform])
    return {"hgq_front": front, "uniform_front_labels": [uniform[i]["label"] for i in uniform_front],
            "matched": per_width, "headline": per_width[best] if best is not None else None}


def run_plan(plan: Plan, split: Split, cfg: StudyConfig, workdir: str) -> tuple[dict, list[Trained]]:
    """The whole study for one architecture: JSON results and the calibrated HGQ front models."""
    t0 = time.perf_counter()
    hgq_models, hgq_run = train_hgq(plan, split, cfg, workdir)
    uniform_models = [train_uniform(plan, split, cfg, b) for b in cfg.uniform_bits]
    hgq_points = [m.point() for m in hgq_models]
    uniform_points = [m.point() for m in uniform_models]
    result = {
        "architecture": plan.arch.describe(split.image_shape),
        "n_train": len(_train_data(split, plan)[0]),
        "hgq_run": hgq_run,
        "hgq_points": hgq_points,
        "uniform_points": uniform_points,
        **compare(hgq_points, uniform_points),
        "target_ratio": TARGET_RATIO.get(plan.arch.name),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    front_labels = {p["label"] for p in result["hgq_front"]}
    return result, sorted((m for m in hgq_models if m.label in front_labels), key=lambda m: m.ebops)


def run(split: Split, cfg: StudyConfig, workdir: str, log=print) -> tuple[dict, dict[str, list[Trained]]]:
    """Run the study for every plan of ``cfg``.

    Returns:
        ``(results, fronts)``: the JSON section, and per architecture name the calibrated HGQ
        front models sorted by EBOPs (for :mod:`bench.exactness`).
    """
    results = {"dataset": split.describe(), "config": cfg.describe(), "architectures": {}}
    fronts = {}
    for plan in cfg.plans:
        log(f"resource study: {plan.arch.name} ({plan.arch.describe(split.image_shape)}), "
            f"{plan.epochs} epochs per run")
        res, models = run_plan(plan, split, cfg, workdir)
        results["architectures"][plan.arch.name] = res
        fronts[plan.arch.name] = models
        h = res["headline"]
        ratio = "n/a" if h is None or h["ratio"] is None else f"{h['ratio']:.1f}x"
        log(f"  {len(res['hgq_front'])} HGQ front models, {len(res['uniform_points'])} uniform; "
            f"EBOPs ratio at matched accuracy {ratio} ({res['seconds']:.0f} s)")
    return results, fronts

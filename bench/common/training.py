"""How the resource study trains and scores its models; the seeded, multiplier-free and HGQ2 studies
train the same way.

1. **HGQ** (:func:`train_hgq`, :func:`train_front`): one training run with a log-linear ramp of
   ``beta`` (the EBOPs weight); :class:`~hgq_fpga.nn.callbacks.ParetoCheckpoint` keeps every epoch
   on the (validation accuracy, training EBOPs) front. Each kept checkpoint is loaded as a copy,
   calibrated with :func:`hgq_fpga.calibrate` (which gives its exact EBOPs) and scored on the test
   set in calibrated mode.
2. **Uniform** (:func:`train_uniform`): the same architecture trained once per width ``B`` with
   every tensor held at ``B`` bits (see :mod:`bench.common.uniform`); the epoch with the best
   validation accuracy is kept (both sides are selected on validation data), then calibrated and
   scored the same way.

Accuracies are those of the calibrated models, i.e. of the firmware. The sizes of a run (epochs,
images, widths) come from :mod:`bench.common.presets`.
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
from .uniform import KeepBestEpoch, UniformBits

#: the learning-rate schedules of :class:`StudyConfig`
LR_SCHEDULES = ("constant", "cosine")

@dataclass(frozen=True)
class Plan:
    """How one architecture is trained: epochs per run (HGQ and each uniform width get the same
    number), the beta schedule of the HGQ run, and how many training images it uses.

    The HGQ run trains ``warmup_epochs`` epochs with ``beta = 0`` (near-float precision: only the
    cross-entropy moves the bit widths), then ramps ``beta`` log-linearly from ``beta_start`` to
    ``beta_stop`` over the remaining epochs. ``beta_lead`` and ``beta_hold`` (fractions of the
    ramp's epochs) bend the ramp: ``beta_start`` is held for the first ``beta_lead`` of them and
    ``beta_stop`` for the last ``beta_hold`` (:meth:`BetaScheduler.piecewise`); both 0 is the
    plain ramp (:meth:`BetaScheduler.log_ramp`).
    """

    arch: Architecture
    epochs: int
    beta_start: float
    beta_stop: float
    n_train: int | None = None
    warmup_epochs: int = 0
    beta_lead: float = 0.0
    beta_hold: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"{self.arch.name}: epochs must be >= 1, got {self.epochs}")
        if not 0 < self.beta_start <= self.beta_stop:
            raise ValueError(f"{self.arch.name}: need 0 < beta_start <= beta_stop, got "
                             f"{self.beta_start}, {self.beta_stop}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"{self.arch.name}: need 0 <= warmup_epochs < epochs, got "
                             f"{self.warmup_epochs}, {self.epochs}")
        if not (0 <= self.beta_lead and 0 <= self.beta_hold and self.beta_lead + self.beta_hold < 1):
            raise ValueError(f"{self.arch.name}: need beta_lead, beta_hold >= 0 with a sum below 1, got "
                             f"{self.beta_lead}, {self.beta_hold}")

    def beta_knots(self) -> list[tuple[int, float]]:
        """The ramp's knots ``(epoch, beta)``, epochs counted from the end of the warm-up."""
        last = self.epochs - self.warmup_epochs - 1
        lead, end = round(self.beta_lead * last), last - round(self.beta_hold * last)
        knots = [(0, self.beta_start)] + ([(lead, self.beta_start)] if lead > 0 else [])
        return knots + ([(end, self.beta_stop)] if end > lead else []) + ([(last, self.beta_stop)] if last > end else [])

    def beta_scheduler(self) -> BetaScheduler:
        """``beta = 0`` for the warm-up epochs, then the (bent) log-linear ramp."""
        n = self.epochs - self.warmup_epochs
        ramp = (BetaScheduler.log_ramp(self.beta_start, self.beta_stop, n) if not (self.beta_lead or self.beta_hold)
                else BetaScheduler.piecewise(self.beta_knots()))
        w = self.warmup_epochs
        return BetaScheduler(lambda epoch: 0.0 if epoch < w else ramp.schedule(epoch - w))


@dataclass(frozen=True)
class StudyConfig:
    """Everything the study trains (see :mod:`bench.common.presets` for the presets).

    HGQ's start: each weight starts with ``hgq_init_bits`` significant bits, or, when that is
    None, every weight with ``hgq_weight_f`` fractional bits (HGQ2's start); each activation with
    ``hgq_f_init`` fractional bits. The uniform runs ignore them. The learning rate is
    ``learning_rate`` throughout (``lr_schedule="constant"``) or falls along a cosine to
    ``lr_final`` times it at the last step (``"cosine"``).
    """

    plans: tuple[Plan, ...]
    uniform_bits: tuple[int, ...]
    batch_size: int = 32
    learning_rate: float = 1e-3
    hgq_init_bits: int | None = 2
    hgq_f_init: float = 2.0
    n_calibration: int | None = None
    seed: int = 0
    hgq_weight_f: float | None = None
    lr_schedule: str = "constant"
    lr_final: float = 1.0

    def __post_init__(self) -> None:
        if (self.hgq_init_bits is None) == (self.hgq_weight_f is None):
            raise ValueError("give exactly one of hgq_init_bits and hgq_weight_f, got "
                             f"{self.hgq_init_bits}, {self.hgq_weight_f}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if not 0 < self.lr_final <= 1:
            raise ValueError(f"need 0 < lr_final <= 1, got {self.lr_final}")

    def hgq_start(self) -> dict:
        """``build``'s start arguments: ``init_bits``, ``f_init`` and ``weight_f``."""
        return {"init_bits": self.hgq_init_bits, "f_init": self.hgq_f_init, "weight_f": self.hgq_weight_f}

    def describe(self) -> dict:
        """The settings, for results.json (the schedule and the weights' ``f`` start only where
        they are not the defaults, so older records read the same)."""
        extra = {} if self.hgq_weight_f is None else {"hgq_weight_f": self.hgq_weight_f}
        if self.lr_schedule != "constant":
            extra.update(lr_schedule=self.lr_schedule, lr_final=self.lr_final)
        return {"uniform_bits": list(self.uniform_bits), "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "optimizer": "Adam",
                "hgq_init_bits": self.hgq_init_bits, "hgq_f_init": self.hgq_f_init, **extra,
                "n_calibration": self.n_calibration, "seed": self.seed,
                "plans": {p.arch.name: {"epochs": p.epochs, "beta_start": p.beta_start,
                                        "beta_stop": p.beta_stop, "warmup_epochs": p.warmup_epochs,
                                        "n_train": p.n_train,
                                        **({"beta_lead": p.beta_lead, "beta_hold": p.beta_hold}
                                           if p.beta_lead or p.beta_hold else {})}
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


def train_data(split: Split, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """The plan's training images and labels (its first ``n_train``, or all)."""
    n = plan.n_train
    return (split.x_train, split.y_train) if n is None else (split.x_train[:n], split.y_train[:n])


def learning_rate(cfg: StudyConfig, plan: Plan, n_train: int):
    """The optimizer's learning rate for ``plan`` on ``n_train`` images: the number, or a cosine
    decay to ``cfg.lr_final`` of it over every step of the run."""
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    steps = plan.epochs * -(-n_train // cfg.batch_size)
    return keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps, alpha=cfg.lr_final)


def calibrate_and_score(label: str, model: keras.Model, x_calib: np.ndarray, split: Split,
                        extra: dict) -> Trained:
    """Calibrate ``model`` in place on ``x_calib`` and score it on the test set."""
    t0 = time.perf_counter()
    exact = int(hgq_fpga.calibrate(model, x_calib))
    acc = accuracy(model, split.x_test, split.y_test)
    extra = {**extra, "calibrate_and_score_s": round(time.perf_counter() - t0, 3),
             "max_abs_weight": max_abs_weight(model)}
    return Trained(label, model, acc, exact, extra)


def max_abs_weight(model: keras.Model) -> float:
    """The largest magnitude of any kernel weight (HGQ2's weights saturate at 4 by default)."""
    kernels = [keras.ops.convert_to_numpy(layer.kernel) for layer in model.layers if hasattr(layer, "kq")]
    return float(max((np.abs(k).max() for k in kernels if k.size), default=0.0))


def calibration_set(x: np.ndarray, cfg: StudyConfig) -> np.ndarray:
    """The calibration images: the first ``cfg.n_calibration`` training images, or all."""
    return x if cfg.n_calibration is None else x[:cfg.n_calibration]


def train_hgq(plan: Plan, split: Split, cfg: StudyConfig, workdir: str) -> tuple[list[Trained], dict]:
    """Train one HGQ model with a beta ramp; return every calibrated Pareto checkpoint and run facts."""
    model = build(plan.arch, split.image_shape, "hgq", seed=cfg.seed, **cfg.hgq_start())
    return train_front(model, "hgq", plan, split, cfg, workdir)


def train_front(model: keras.Model, label: str, plan: Plan, split: Split, cfg: StudyConfig, workdir: str,
                callbacks: tuple = ()) -> tuple[list[Trained], dict]:
    """Train ``model`` with the plan's beta ramp (and ``callbacks``); return every calibrated Pareto
    checkpoint (labelled ``<label>-e<epoch>``) and run facts."""
    x, y = train_data(split, plan)
    compile_for_training(model, learning_rate(cfg, plan, len(x)))
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
        out.append(calibrate_and_score(f"{label}-e{epoch}", copy, calibration_set(x, cfg), split, extra))
    for path in glob.glob(os.path.join(ckpt_dir, "*.keras")):
        os.remove(path)
    return out, {"train_s": round(train_s, 2), "checkpoints": len(out)}


#: uniform baselines: label prefix and model flavour of each training style
UNIFORM_STYLES = {"free": ("uniform", "uniform"), "saturating": ("uniform-sat", "saturating")}


def train_uniform(plan: Plan, split: Split, cfg: StudyConfig, bits: int, style: str = "free") -> Trained:
    """Train the plan's architecture with every tensor held at ``bits`` bits, keep its best
    validation epoch; calibrate and score.

    ``style``: ``"free"`` (:class:`bench.common.uniform.UniformBits`: ranges follow the data, nothing
    clips) or ``"saturating"`` (:class:`bench.common.saturating.SaturatingUniformBits`: integer bits
    fixed after one warm-up epoch, values clipped, as QKeras trains).
    """
    if style not in UNIFORM_STYLES:
        raise ValueError(f"uniform style must be one of {tuple(UNIFORM_STYLES)}, got {style!r}")
    prefix, flavour = UNIFORM_STYLES[style]
    x, y = train_data(split, plan)
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
    return calibrate_and_score(f"{prefix}-{bits}b", model, calibration_set(x, cfg), split, extra)

"""The headline benchmark: accuracy against exact EBOPs, HGQ against uniform quantization.

For each architecture:

1. **HGQ**: one training run with a log-linear ramp of ``beta`` (the EBOPs weight);
   :class:`~hgq_fpga.callbacks.ParetoCheckpoint` keeps every epoch on the (validation accuracy,
   training EBOPs) front. Each kept checkpoint is loaded as a copy, calibrated with
   :func:`hgq_fpga.calibrate` (which gives its exact EBOPs) and scored on the test set in
   deployment mode; the front is then recomputed from those exact numbers.
2. **Uniform**: the same architecture trained once per width ``B`` with every tensor held at
   ``B`` bits (see :mod:`bench.uniform`), calibrated and scored the same way.
3. **Ratio at matched accuracy**: for each uniform model, its EBOPs divided by the EBOPs of the
   smallest HGQ model that reaches at least its test accuracy. The headline is the ratio for the
   most accurate uniform model.

Accuracies are those of the calibrated (deployed) models, i.e. of the firmware.
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
from hgq_fpga.callbacks import BetaScheduler, ParetoCheckpoint

from .data import Split
from .models import Architecture, build, compile_for_training
from .pareto import matched_ratio, pareto_indices
from .uniform import UniformBits


@dataclass(frozen=True)
class StudyConfig:
    """How much training the study does (see :mod:`bench.config` for the presets)."""

    architectures: tuple[Architecture, ...]
    hgq_epochs: int
    uniform_epochs: int
    uniform_bits: tuple[int, ...]
    beta_start: float
    beta_stop: float
    batch_size: int = 128
    learning_rate: float = 3e-3
    hgq_init_bits: int = 6
    hgq_f_init: float = 6.0
    n_calibration: int | None = None
    seed: int = 0


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


def _calibration_set(split: Split, cfg: StudyConfig) -> np.ndarray:
    n = cfg.n_calibration
    return split.x_train if n is None else split.x_train[:n]


def _finish(label: str, model: keras.Model, split: Split, cfg: StudyConfig, extra: dict) -> Trained:
    """Calibrate ``model`` in place and score it on the test set."""
    t0 = time.perf_counter()
    exact = int(hgq_fpga.calibrate(model, _calibration_set(split, cfg)))
    acc = accuracy(model, split.x_test, split.y_test)
    extra = {**extra, "calibrate_and_score_s": round(time.perf_counter() - t0, 3)}
    return Trained(label, model, acc, exact, extra)


def train_hgq(arch: Architecture, split: Split, cfg: StudyConfig, workdir: str) -> tuple[list[Trained], dict]:
    """Train one HGQ model with a beta ramp; return every calibrated Pareto checkpoint and run facts."""
    model = build(arch, split.image_shape, "hgq", seed=cfg.seed, init_bits=cfg.hgq_init_bits,
                  f_init=cfg.hgq_f_init)
    compile_for_training(model, cfg.learning_rate)
    ckpt_dir = os.path.join(workdir, f"{arch.name}_hgq")
    pareto = ParetoCheckpoint(ckpt_dir, monitor="val_accuracy")
    ramp = BetaScheduler.log_ramp(cfg.beta_start, cfg.beta_stop, cfg.hgq_epochs)
    t0 = time.perf_counter()
    model.fit(split.x_train, split.y_train, validation_data=(split.x_val, split.y_val),
              epochs=cfg.hgq_epochs, batch_size=cfg.batch_size, verbose=0, callbacks=[ramp, pareto])
    train_s = time.perf_counter() - t0
    out = []
    for val_acc, train_ebops, path in sorted(pareto.front, key=lambda p: p[1]):
        copy = keras.saving.load_model(path, compile=False)
        epoch = int(re.search(r"epoch(\d+)", os.path.basename(path)).group(1))
        extra = {"epoch": epoch, "beta": ramp.schedule(epoch), "val_accuracy": val_acc,
                 "training_ebops": train_ebops}
        out.append(_finish(f"hgq-e{epoch}", copy, split, cfg, extra))
    for path in glob.glob(os.path.join(ckpt_dir, "*.keras")):
        os.remove(path)
    return out, {"train_s": round(train_s, 2), "checkpoints": len(out)}


def train_uniform(arch: Architecture, split: Split, cfg: StudyConfig, bits: int) -> Trained:
    """Train ``arch`` with every tensor held at ``bits`` bits; return it calibrated and scored."""
    model = build(arch, split.image_shape, "uniform", seed=cfg.seed)
    compile_for_training(model, cfg.learning_rate)
    t0 = time.perf_counter()
    model.fit(split.x_train, split.y_train, epochs=cfg.uniform_epochs, batch_size=cfg.batch_size,
              verbose=0, callbacks=[UniformBits(bits, split.x_train[:1024])])
    extra = {"bits": bits, "train_s": round(time.perf_counter() - t0, 2)}
    return _finish(f"uniform-{bits}b", model, split, cfg, extra)


def compare(hgq: list[dict], uniform: list[dict]) -> dict:
    """Fronts and matched-accuracy ratios from the JSON points (also used to re-check results.json)."""
    front = [hgq[i] for i in pareto_indices([p["accuracy"] for p in hgq], [p["ebops"] for p in hgq])]
    per_width = [{"label": u["label"], **matched_ratio(u, front)} for u in uniform]
    best = max(range(len(uniform)), key=lambda i: (uniform[i]["accuracy"], -uniform[i]["ebops"]),
               default=None)
    headline = per_width[best] if best is not None else None
    if headline is not None and headline["match"] is not None:
        headline = {**headline, "match_label": front[headline["match"]]["label"]}
    uniform_front = pareto_indices([p["accuracy"] for p in uniform], [p["ebops"] for p in uniform])
    return {"hgq_front": front, "uniform_front_labels": [uniform[i]["label"] for i in uniform_front],
            "matched": per_width, "headline": headline}


def run_architecture(arch: Architecture, split: Split, cfg: StudyConfig,
                     workdir: str) -> tuple[dict, list[Trained]]:
    """The whole study for one architecture: JSON results and the calibrated HGQ front models."""
    t0 = time.perf_counter()
    hgq_models, hgq_run = train_hgq(arch, split, cfg, workdir)
    uniform_models = [train_uniform(arch, split, cfg, b) for b in cfg.uniform_bits]
    hgq_points = [m.point() for m in hgq_models]
    uniform_points = [m.point() for m in uniform_models]
    result = {
        "architecture": arch.describe(split.image_shape),
        "hgq_run": hgq_run,
        "hgq_points": hgq_points,
        "uniform_points": uniform_points,
        **compare(hgq_points, uniform_points),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    front_labels = {p["label"] for p in result["hgq_front"]}
    return result, [m for m in hgq_models if m.label in front_labels]


def run(split: Split, cfg: StudyConfig, workdir: str, log=print) -> tuple[dict, dict[str, list[Trained]]]:
    """Run the study for every architecture of ``cfg``.

    Returns:
        ``(results, fronts)``: the JSON section, and per architecture name the calibrated HGQ
        front models (for :mod:`bench.exactness`).
    """
    results = {"dataset": split.describe(), "config": {
        "hgq_epochs": cfg.hgq_epochs, "uniform_epochs": cfg.uniform_epochs,
        "uniform_bits": list(cfg.uniform_bits), "beta_start": cfg.beta_start, "beta_stop": cfg.beta_stop,
        "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate,
        "n_calibration": cfg.n_calibration if cfg.n_calibration is not None else len(split.x_train)},
        "architectures": {}}
    fronts = {}
    for arch in cfg.architectures:
        log(f"resource study: {arch.name} ({arch.describe(split.image_shape)})")
        res, models = run_architecture(arch, split, cfg, workdir)
        results["architectures"][arch.name] = res
        fronts[arch.name] = models
        h = res["headline"]
        ratio = "n/a" if h is None or h["ratio"] is None else f"{h['ratio']:.1f}x"
        log(f"  {len(res['hgq_front'])} HGQ front models, {len(res['uniform_points'])} uniform; "
            f"EBOPs ratio at matched accuracy {ratio} ({res['seconds']:.0f} s)")
    return results, fronts

"""The standard HGQ training recipe for a classifier, as ``make demo`` and the examples use it.

1. Train with ``loss = cross-entropy + β·EBOPs`` while β rises log-linearly
   (:meth:`hgq_fpga.nn.callbacks.BetaScheduler.log_ramp`): early epochs learn the task, later ones
   trade accuracy for fewer bits.
2. Keep every checkpoint on the (validation accuracy, EBOPs) Pareto front
   (:class:`hgq_fpga.nn.callbacks.ParetoCheckpoint`).
3. Deploy the smallest-EBOPs checkpoint within ``tolerance`` of the best validation accuracy.

The outcome carries a JSON-able training record (front, choice, per-epoch numbers) that the
report plots as the Pareto front of the run. :func:`hgq_fpga.app.pipeline.train_and_deploy` chains
the recipe with the design folder and the terminal summary.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from hgq_fpga.nn.callbacks import BetaScheduler, ParetoCheckpoint
from hgq_fpga.nn.ii_cost import set_ii
from hgq_fpga.nn.model_files import load_keras_model
from hgq_fpga.pareto import ParetoPoint, choose, front_from_checkpoint

CHECKPOINT_DIR = "checkpoints"


@dataclass
class TrainingOutcome:
    """The chosen model (loaded from its checkpoint) and what the run learned about the trade-off."""

    model: keras.Model
    chosen: ParetoPoint
    front: list[ParetoPoint]
    history: dict[str, list[float]]
    tolerance: float
    seconds: float

    def record(self) -> dict:
        """The training record for the design folder; checkpoint paths relative to the folder."""
        def rel(p: ParetoPoint) -> dict:
            return {**p.to_dict(), "path": f"{CHECKPOINT_DIR}/{Path(p.path).name}"}

        epochs = [[float(e), float(m)] for e, m in
                  zip(self.history.get("ebops", []), self.history.get("val_accuracy", []))]
        return {"metric": "val_accuracy", "tolerance": self.tolerance, "front": [rel(p) for p in self.front],
                "chosen": rel(self.chosen), "epochs": epochs, "training_seconds": round(self.seconds, 1)}

    def copy_checkpoints(self, folder: Path) -> None:
        """Copy the checkpoints of the front into ``folder/checkpoints``."""
        target = Path(folder) / CHECKPOINT_DIR
        target.mkdir(parents=True, exist_ok=True)
        for p in self.front:
            shutil.copy2(p.path, target / Path(p.path).name)


def train_pareto(model: keras.Model, x: np.ndarray, y: np.ndarray, *, validation_data: tuple,
                 epochs: int, checkpoint_dir: str | Path, beta: tuple[float, float] = (1e-7, 1e-4),
                 learning_rate: float = 3e-3, batch_size: int = 64, tolerance: float = 0.01,
                 callbacks: list[Any] = (), ii: int | dict[str, int] | None = None) -> TrainingOutcome:
    """Train ``model`` (integer labels ``y``, logits out) with the recipe above.

    Args:
        validation_data: ``(x_val, y_val)``; the Pareto front uses the validation accuracy.
        epochs: number of epochs; β ramps from ``beta[0]`` to ``beta[1]`` over them.
        checkpoint_dir: where the front's ``.keras`` files are written.
        tolerance: accuracy (absolute, 0.01 = one percentage point) given up for fewer EBOPs.
        callbacks: extra Keras callbacks, run after the β schedule (so they see ``beta`` in the logs).
        ii: the initiation interval the firmware will be built at, as ``write_project``'s ``ii``: β
            then weighs EBOPs per II (:func:`hgq_fpga.nn.ii_cost.set_ii`); ``None``: EBOPs. The front
            and the choice stay in EBOPs. ``None`` leaves the model's setting as it is (EBOPs unless
            ``set_ii`` was called).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    if ii is not None:
        set_ii(model, ii)
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    pareto = ParetoCheckpoint(str(checkpoint_dir), monitor="val_accuracy")
    start = time.perf_counter()
    history = model.fit(x, y, validation_data=validation_data, epochs=epochs, batch_size=batch_size,
                        verbose=0, callbacks=[BetaScheduler.log_ramp(*beta, epochs), pareto, *callbacks])
    seconds = time.perf_counter() - start
    front = front_from_checkpoint(pareto.front)
    chosen = choose(front, tolerance)
    # the optimizer state is not needed for deployment; skipping it also makes loading robust
    best = load_keras_model(chosen.path)
    return TrainingOutcome(best, chosen, front, {k: [float(v) for v in vs] for k, vs in history.history.items()},
                           tolerance, seconds)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of samples whose highest score is the true class."""
    return float(np.mean(np.argmax(scores, axis=1) == labels))

"""Training callbacks for HGQ models: the EBOPs weight schedule and the Pareto-front checkpoint.

Activation ranges are reset every epoch without any callback (each HGQ layer hooks ``fit``'s
per-epoch metric reset), so none is needed for that.
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Callable, Sequence

import keras
import numpy as np

from hgq_fpga.pareto import covers


def _knots(points: Sequence[tuple[int, float]], what: str, positive: bool) -> list[tuple[int, float]]:
    """``points`` as ``(epoch, beta)`` pairs sorted by epoch, checked: epochs distinct integers
    >= 0, betas finite and > 0 (``positive``) or >= 0."""
    pts = []
    for point in points:
        try:
            e, b = point
            b = float(b)
        except (TypeError, ValueError):
            raise ValueError(f"{what} needs (epoch, beta) pairs, got {point!r}") from None
        if isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 0:
            raise ValueError(f"{what}: epochs must be integers >= 0, got {e!r}")
        if not math.isfinite(b) or b < 0 or (positive and b == 0):
            need = "> 0 (BetaScheduler.steps takes a beta of 0)" if positive else ">= 0"
            raise ValueError(f"{what}: every beta must be finite and {need}, got {b!r} at epoch {e}")
        pts.append((int(e), b))
    if not pts:
        raise ValueError(f"{what} needs at least one (epoch, beta) point")
    epochs = [e for e, _ in pts]
    if len(set(epochs)) != len(epochs):
        raise ValueError(f"{what}: two points at the same epoch in {list(points)!r}")
    return sorted(pts)


class BetaScheduler(keras.callbacks.Callback):
    """Set every HGQ layer's ``beta`` (the EBOPs weight in the loss) at the start of each epoch.

    Args:
        schedule: callable ``epoch -> beta``.
    """

    def __init__(self, schedule: Callable[[int], float]) -> None:
        super().__init__()
        if not callable(schedule):
            raise ValueError("BetaScheduler needs a callable epoch -> beta")
        self.schedule = schedule

    def on_train_begin(self, logs=None) -> None:
        from hgq_fpga.nn.layers.linear import warn_zero_kernels

        warn_zero_kernels(self.model)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        from hgq_fpga.nn.ebops import set_beta

        beta = float(self.schedule(epoch))
        set_beta(self.model, beta)
        self.current_beta = beta

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs is not None:
            logs["beta"] = self.current_beta

    @classmethod
    def constant(cls, beta: float) -> "BetaScheduler":
        """The same ``beta`` every epoch."""
        return cls(lambda epoch: beta)

    @classmethod
    def piecewise(cls, knots: Sequence[tuple[int, float]]) -> "BetaScheduler":
        """Log-linear between knots: ``knots = [(epoch0, beta0), (epoch1, beta1), ...]``.

        At epoch ``epoch_j`` beta is ``beta_j``; between two knots ``log(beta)`` is linear in the
        epoch; before the first knot beta is ``beta0`` and after the last it stays ``beta_last``.
        Two knots give a ramp (``[(0, 1e-8), (49, 1e-5)]`` is ``log_ramp(1e-8, 1e-5, 50)``), three
        a ramp with a plateau (``[(0, 1e-8), (40, 1e-5), (49, 1e-5)]``), and so on. Every beta must
        be > 0 (a logarithm); :meth:`steps` holds values without interpolating, 0 included.
        """
        pts = _knots(knots, "piecewise", positive=True)

        def schedule(epoch: int) -> float:
            if epoch <= pts[0][0]:
                return pts[0][1]
            for (e0, b0), (e1, b1) in zip(pts, pts[1:]):
                if epoch == e0:
                    return b0
                if epoch < e1:
                    if b0 == b1:
                        return b0
                    t = (epoch - e0) / (e1 - e0)
                    return math.exp(math.log(b0) + t * (math.log(b1) - math.log(b0)))
            return pts[-1][1]

        return cls(schedule)

    @classmethod
    def steps(cls, points: Sequence[tuple[int, float]]) -> "BetaScheduler":
        """Step function: ``points = [(epoch0, beta0), (epoch1, beta1), ...]``; ``beta_j`` from
        ``epoch_j`` on, 0 before the first point (``piecewise`` before issue 34)."""
        pts = _knots(points, "steps", positive=False)

        def schedule(epoch: int) -> float:
            beta = 0.0
            for e, b in pts:
                if epoch >= e:
                    beta = b
            return beta

        return cls(schedule)

    @classmethod
    def log_ramp(cls, start: float, stop: float, epochs: int) -> "BetaScheduler":
        """Log-linear ramp from ``start`` (epoch 0) to ``stop`` (epoch ``epochs - 1``), then ``stop``."""
        if start <= 0 or stop <= 0:
            raise ValueError("log_ramp needs start > 0 and stop > 0")
        if epochs < 1:
            raise ValueError("log_ramp needs epochs >= 1")

        def schedule(epoch: int) -> float:
            if epochs == 1 or epoch >= epochs - 1:
                return stop
            t = epoch / (epochs - 1)
            return math.exp(math.log(start) + t * (math.log(stop) - math.log(start)))

        return cls(schedule)


class ParetoCheckpoint(keras.callbacks.Callback):
    """Save every model on the (validation metric, EBOPs) Pareto front.

    After each epoch, the model is saved if no earlier saved model has both a metric at least as
    good and EBOPs at most as large. The file name carries both numbers and the epoch, counted
    from 1 as Keras prints it (``Epoch 1/50``) and as ``keras.callbacks.ModelCheckpoint`` names files.
    ``front`` lists this callback's ``(metric, ebops, path)``; ``.keras`` files that an earlier run
    left in ``directory`` are not part of it (a warning says so when training starts).

    Args:
        directory: where to write ``.keras`` files.
        monitor: the metric in the epoch logs, e.g. ``"val_accuracy"``.
        mode: ``"max"`` if larger is better, ``"min"`` otherwise.
        filename: format string with ``epoch``, ``monitor``, ``metric`` and ``ebops`` fields.
        remove_dominated: delete saved files that a later model pushes off the front.
    """

    def __init__(self, directory: str, monitor: str = "val_accuracy", mode: str = "max",
                 filename: str = "epoch{epoch:04d}-{monitor}={metric:.4f}-ebops={ebops:.0f}.keras",
                 remove_dominated: bool = True) -> None:
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.directory = directory
        self.monitor = monitor
        self.mode = mode
        self.filename = filename
        self.remove_dominated = remove_dominated
        #: list of (metric, ebops, path) on the front
        self.front: list[tuple[float, float, str]] = []
        #: (ebops, metric) of every epoch, for the report's Pareto figure
        self.epochs: list[tuple[float, float]] = []

    def on_train_begin(self, logs=None) -> None:
        ours = {os.path.abspath(p) for _, _, p in self.front}
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return
        stale = [n for n in names if n.endswith(".keras")
                 and os.path.abspath(os.path.join(self.directory, n)) not in ours]
        if stale:
            warnings.warn(f"ParetoCheckpoint: {self.directory} already holds {len(stale)} .keras file(s) "
                          f"from an earlier run (e.g. {stale[0]}); they are not on this run's front "
                          "(ParetoCheckpoint.front). Use a new folder to keep runs apart.", stacklevel=2)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"ParetoCheckpoint: metric {self.monitor!r} not in logs "
                             f"({', '.join(sorted(logs))}); pass validation data or change monitor")
        metric = float(logs[self.monitor])
        if "ebops" in logs:
            cost = float(logs["ebops"])
        else:
            from hgq_fpga.nn.ebops import ebops
            cost = float(ebops(self.model))
        self.epochs.append((cost, metric))
        higher = self.mode == "max"
        if any(covers(m, e, metric, cost, higher) for m, e, _ in self.front):
            return
        keep = []
        for m, e, p in self.front:
            if covers(metric, cost, m, e, higher):
                if self.remove_dominated and os.path.exists(p):
                    os.remove(p)
            else:
                keep.append((m, e, p))
        self.front = keep
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, self.filename.format(
            epoch=epoch + 1, monitor=self.monitor, metric=metric, ebops=cost))
        self.model.save(path)
        self.front.append((metric, cost, path))

    def record(self, chosen=None, tolerance: float | None = None) -> dict:
        """The training record a design keeps (``build_design(..., record={"training": ...})``): the
        front, every epoch's ``(EBOPs, metric)`` and the ``chosen`` point (a
        :class:`~hgq_fpga.pareto.ParetoPoint`), so that the report draws the Pareto figure."""
        from hgq_fpga.pareto import front_from_checkpoint

        def named(point) -> dict:   # the file name only: a design folder names no path of this machine
            return {**point.to_dict(), "path": os.path.basename(point.path)}

        return {"metric": self.monitor, "front": [named(p) for p in front_from_checkpoint(self.front)],
                "chosen": None if chosen is None else named(chosen),
                "epochs": [[float(e), float(m)] for e, m in self.epochs],
                **({"tolerance": float(tolerance)} if tolerance is not None else {})}

"""Physics figures of merit as epoch metrics, so that :class:`~hgq_fpga.nn.callbacks.ParetoCheckpoint`
can keep the (figure of merit, EBOPs) front instead of the (accuracy, EBOPs) one.

A trigger selects signal at a fixed background rate; what matters is the signal efficiency at
that working point, not the accuracy over all classes. :func:`signal_efficiency_at_background`
computes it with numpy; :class:`EpochMetric` evaluates any such function on validation data after
every epoch and writes it into the epoch logs, where ``ParetoCheckpoint(monitor=NAME)`` reads it.
Put the ``EpochMetric`` before the ``ParetoCheckpoint`` in the ``callbacks`` list.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np


def signal_efficiency_at_background(labels: np.ndarray, scores: np.ndarray, signal: int,
                                    background_efficiency: float) -> float:
    """Fraction of ``signal``-class samples kept when the cut on its score keeps ``background_efficiency``
    of all other samples (for example 0.01: a 1 % background rate).

    ``scores`` are ``(n, classes)`` model outputs (logits or probabilities); the cut is on the signal
    column. The threshold is the score that at most ``background_efficiency`` of the background
    exceeds, so the background rate is never above the one asked for.
    """
    labels = np.asarray(labels).ravel()
    column = np.asarray(scores, dtype=np.float64)[:, signal]
    if not 0 < background_efficiency <= 1:
        raise ValueError(f"background_efficiency must be in (0, 1], got {background_efficiency}")
    background = np.sort(column[labels != signal])[::-1]
    sig = column[labels == signal]
    if background.size == 0 or sig.size == 0:
        raise ValueError(f"need samples of class {signal} and of the other classes to measure an efficiency")
    allowed = int(np.floor(background_efficiency * background.size))   # background samples that may pass
    threshold = background[allowed] if allowed < background.size else -np.inf
    return float(np.mean(sig > threshold))


class EpochMetric(keras.callbacks.Callback):
    """After each epoch, put ``function(labels, model outputs)`` on ``data`` into the logs as ``name``.

    Example, keeping the front of signal efficiency (top quarks, class 4) at 1 % background:

        eff = EpochMetric("val_top_eff", (x_val, y_val),
                          lambda y, s: signal_efficiency_at_background(y, s, signal=4, background_efficiency=0.01))
        model.fit(..., callbacks=[beta, eff, ParetoCheckpoint("ckpt", monitor="val_top_eff")])
    """

    def __init__(self, name: str, data: tuple[np.ndarray, np.ndarray],
                 function: Callable[[np.ndarray, np.ndarray], float], batch_size: int = 1024) -> None:
        super().__init__()
        self.name = name
        self.x, self.y = data
        self.function = function
        self.batch_size = batch_size

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if logs is None:
            return
        scores = np.asarray(self.model.predict(self.x, batch_size=self.batch_size, verbose=0))
        logs[self.name] = float(self.function(self.y, scores))

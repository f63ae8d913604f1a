"""Training toward an EBOPs budget: a PID controller of β and early stopping within the budget.

"The best model under 20k EBOPs" is three callbacks and one choice::

    fit(..., callbacks=[BetaPID(20_000), ParetoCheckpoint("ckpt"), BudgetEarlyStopping(20_000)])
    point = best_within(front_from_checkpoint(pareto.front), 20_000)

:class:`BetaPID` raises β while the model's EBOPs are over the budget and lowers it while they are
under, so training spends its epochs near the budget instead of walking a whole ramp;
:class:`BudgetEarlyStopping` ends the run once the model is within the budget and the validation
accuracy has stopped improving there; :func:`hgq_fpga.pareto.best_within` picks the most accurate
checkpoint within the budget.

**What is controlled.** The measured quantity is the training-mode EBOPs estimate that ``fit`` logs
as ``ebops`` at the end of each epoch (``docs/method.md`` §3: the widths of the last step with the
activation ranges of the epoch). The control input is β, the weight of EBOPs in the loss, set for
the whole next epoch. Calibration then fixes every type from the calibration data; its exact EBOPs
(``hgq_fpga.ebops`` of the calibrated model, ``fw.resources()``) are usually within a few percent of
the estimate but can fall on either side, so leave a margin when the budget is a hard limit.
"""

from __future__ import annotations

import math

import keras

from hgq_fpga.nn.ebops import set_beta


def _logged_ebops(logs: dict | None, who: str) -> float:
    """The epoch's training EBOPs from the logs (the HGQ layers put them there)."""
    if not logs or "ebops" not in logs:
        raise ValueError(f"{who}: no 'ebops' in the epoch logs; the model has no HGQ layer that multiplies")
    return float(logs["ebops"])


class BetaPID(keras.callbacks.Callback):
    """Steer β so that the model's EBOPs settle at ``target`` (see the module docstring).

    The controller works in logarithms, where the EBOPs' response to β is roughly linear: the
    error of epoch ``t`` is ``e_t = log2(EBOPs_t / target)`` (+1: twice the budget, -1: half of
    it) and the next epoch trains with

        ``log10 β = log10 beta_init + p·e_t + i·Σ e + d·(e_t − e_{t−1})``,

    so ``p`` and ``i`` are decades of β per doubling of the EBOPs over the budget (``i`` per
    epoch of it). The first ``warmup`` epochs train at ``beta_init`` (the task is learned before
    bits are traded); from then on β moves every epoch, up while over the budget, down while under.

    **Anti-windup.** β is clipped to ``[beta_min, beta_max]``, and the sum ``Σ e`` is clipped
    too, to what that range can use (``i·Σ e`` never exceeds the distance from the proportional
    part to either end). So a model stuck over its budget for many epochs drives β to
    ``beta_max`` but does not charge up a sum that would hold β there long after the EBOPs
    have fallen under the budget.

    Args:
        target: the EBOPs budget (> 0).
        beta_init: β of the warm-up epochs and the controller's starting point.
        p, i, d: gains (see above); ``d`` reacts to the epoch-to-epoch noise of the EBOPs and is
            0 by default.
        warmup: epochs at ``beta_init`` before the controller acts.
        beta_min, beta_max: the range β is kept in.

    The epoch logs get ``beta`` (the β the epoch trained with) and ``ebops_target``.
    """

    def __init__(self, target: float, beta_init: float = 1e-7, p: float = 1.0, i: float = 0.2,
                 d: float = 0.0, warmup: int = 3, beta_min: float = 1e-10, beta_max: float = 1e-2) -> None:
        super().__init__()
        for name, value in (("target", target), ("beta_init", beta_init), ("beta_min", beta_min),
                            ("beta_max", beta_max)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"BetaPID: {name} must be a finite number > 0, got {value!r}")
        for name, value in (("p", p), ("i", i), ("d", d)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"BetaPID: gain {name} must be a finite number >= 0, got {value!r}")
        if not beta_min <= beta_init <= beta_max:
            raise ValueError(f"BetaPID: need beta_min <= beta_init <= beta_max, got {beta_min}, {beta_init}, {beta_max}")
        if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
            raise ValueError(f"BetaPID: warmup must be an integer >= 0, got {warmup!r}")
        self.target, self.beta_init, self.warmup = float(target), float(beta_init), warmup
        self.p, self.i, self.d = float(p), float(i), float(d)
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        self.reset()

    def reset(self) -> None:
        """Forget the controller's state (a new ``fit`` starts from ``beta_init``)."""
        self.beta = self.beta_init
        self.integral = 0.0
        self.last_error: float | None = None
        #: ``(epoch, beta, ebops)`` of every epoch trained, for plots and tests
        self.history: list[tuple[int, float, float]] = []

    def on_train_begin(self, logs=None) -> None:
        from hgq_fpga.nn.layers.linear import warn_zero_kernels

        self.reset()
        warn_zero_kernels(self.model)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        set_beta(self.model, self.beta)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        ebops = _logged_ebops(logs, "BetaPID")
        self.history.append((epoch, self.beta, ebops))
        logs["beta"], logs["ebops_target"] = self.beta, self.target
        if epoch + 1 >= self.warmup:
            self.beta = self.update(ebops)

    def update(self, ebops: float) -> float:
        """One control step: the β of the next epoch after an epoch that ended at ``ebops``."""
        error = math.log2(max(ebops, 1e-12) / self.target)
        slope = 0.0 if self.last_error is None else error - self.last_error
        self.last_error = error
        self.integral += error
        lo, hi = math.log10(self.beta_min / self.beta_init), math.log10(self.beta_max / self.beta_init)
        base = self.p * error + self.d * slope
        if self.i > 0:   # and never holds more than the clip range of β can use
            self.integral = min(max(self.integral, (lo - base) / self.i), (hi - base) / self.i)
        u = min(max(base + self.i * self.integral, lo), hi)
        return self.beta_init * 10.0 ** u


class BudgetEarlyStopping(keras.callbacks.Callback):
    """Stop training once the model is within an EBOPs budget and ``monitor`` stopped improving there.

    Only epochs whose training EBOPs (the logged ``ebops``, see the module docstring) are at most
    ``budget`` count: the best ``monitor`` among them is remembered, and training stops at the
    end of the ``patience``-th such epoch in a row that does not beat it by more than
    ``min_delta``. Epochs over the budget neither improve nor use up the patience. Put it after
    :class:`~hgq_fpga.nn.callbacks.ParetoCheckpoint` in the list when a metric callback makes
    ``monitor``.

    Args:
        budget: the EBOPs budget (> 0).
        monitor: a number of the epoch logs, e.g. ``"val_accuracy"``.
        mode: ``"max"`` if larger is better, ``"min"`` otherwise.
        patience: epochs within the budget without improvement before stopping (>= 1).
        min_delta: the smallest change that counts as an improvement (>= 0).

    ``stopped_epoch`` is the epoch (from 0) training stopped after, or ``None``; ``best`` and
    ``best_epoch`` are the best monitored value within the budget and its epoch.
    """

    def __init__(self, budget: float, monitor: str = "val_accuracy", mode: str = "max", patience: int = 5,
                 min_delta: float = 0.0) -> None:
        super().__init__()
        if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
            raise ValueError(f"BudgetEarlyStopping: budget must be a finite number > 0, got {budget!r}")
        if mode not in ("max", "min"):
            raise ValueError(f"BudgetEarlyStopping: mode must be 'max' or 'min', got {mode!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"BudgetEarlyStopping: patience must be an integer >= 1, got {patience!r}")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"BudgetEarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.budget, self.monitor, self.mode = float(budget), monitor, mode
        self.patience, self.min_delta = patience, float(min_delta)
        self.on_train_begin()

    def on_train_begin(self, logs=None) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best + self.min_delta if self.mode == "max" else value < self.best - self.min_delta

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        ebops = _logged_ebops(logs, "BudgetEarlyStopping")
        if self.monitor not in logs:
            raise ValueError(f"BudgetEarlyStopping: {self.monitor!r} not in the epoch logs "
                             f"({', '.join(sorted(logs))}); pass validation data or change monitor")
        if ebops > self.budget:
            return
        value = float(logs[self.monitor])
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

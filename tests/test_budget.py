"""Training toward an EBOPs budget (issue 34): BetaPID, BudgetEarlyStopping, best_within.

The controller is tested twice: on a model of how EBOPs answer β (fast, exact numbers: reaching
the budget, settling, anti-windup) and on a real HGQ model trained with ``fit``.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

import keras

from hgq_fpga.nn.budget import BetaPID, BudgetEarlyStopping
from hgq_fpga.nn.callbacks import ParetoCheckpoint
from hgq_fpga.pareto import ParetoPoint, best_within, front_from_checkpoint
from conftest import build_hgq_mlp


def _plant(beta: float, ebops: float, balance: float = 1e-5, rate: float = 0.1) -> float:
    """EBOPs after one epoch at ``beta``: they shrink while β is above ``balance`` and grow while it
    is below, by a factor of 2 per decade of β away from it, at most ``rate`` (in log2) per epoch
    (Adam moves each width by about the learning rate per step)."""
    step = max(-rate, min(rate, -math.log10(beta / balance)))
    return ebops * 2.0 ** step


def _drive(pid: BetaPID, ebops: float, epochs: int, plant=_plant) -> list[tuple[float, float]]:
    """``(beta, ebops)`` of each epoch of a simulated run under ``pid``."""
    out = []
    for epoch in range(epochs):
        ebops = plant(pid.beta, ebops)
        out.append((pid.beta, ebops))
        if epoch + 1 >= pid.warmup:
            pid.beta = pid.update(ebops)
    return out


def test_pid_reaches_the_budget_and_settles_there():
    run = _drive(BetaPID(20_000), 100_000, 80)
    reached = next(e for e, (_, ebops) in enumerate(run) if ebops <= 20_000)
    assert reached <= 30                        # 100k -> 20k at 0.1 bit per epoch takes >= 24
    assert all(0.75 * 20_000 <= ebops <= 1.25 * 20_000 for _, ebops in run[50:])
    assert min(ebops for _, ebops in run) > 0.4 * 20_000
    # a controller that never moves β from its start does not get there
    assert min(ebops for _, ebops in _drive(BetaPID(20_000, p=0, i=0), 100_000, 80)) > 20_000


def test_pid_lowers_beta_while_under_the_budget():
    run = _drive(BetaPID(50_000, beta_init=1e-5, warmup=1), 10_000, 40)
    crossed = next(e for e, (_, ebops) in enumerate(run) if ebops >= 50_000)
    assert crossed <= 30
    assert all(beta < 1e-7 for beta, _ in run[1:crossed + 1])    # two decades under its start, at least


def test_pid_anti_windup():
    """Stuck over the budget for 100 epochs (the model cannot shrink), β saturates at beta_max but
    the sum does not charge up: once the EBOPs drop under the budget, β leaves beta_max at once."""
    pid = BetaPID(20_000, beta_max=1e-3)
    stuck = _drive(pid, 30_000, 100, plant=lambda beta, ebops: ebops)
    assert stuck[-1][0] == pytest.approx(1e-3) and max(b for b, _ in stuck) <= 1e-3 * (1 + 1e-12)
    after = []
    for _ in range(3):
        pid.beta = pid.update(10_000)
        after.append(pid.beta)
    assert after[0] < 1e-3 / 30 and after[-1] < 1e-3 / 100
    # the same errors summed without a bound would hold β at beta_max for all three epochs
    windup = -1 + 0.2 * (100 * math.log2(30_000 / 20_000) - 3)
    assert 1e-7 * 10 ** windup > 1e-3


def test_pid_refuses_bad_settings():
    with pytest.raises(ValueError, match="target must be a finite number > 0"):
        BetaPID(0)
    with pytest.raises(ValueError, match="gain i must be"):
        BetaPID(1e4, i=-1)
    with pytest.raises(ValueError, match="beta_min <= beta_init <= beta_max"):
        BetaPID(1e4, beta_init=1.0)


def _data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    return x, x[:, :4].argmax(axis=1)


def _model(lr=1e-2):
    from hgq_fpga.nn.quantizers import quantizer_start

    keras.utils.set_random_seed(0)
    with quantizer_start("hgq_fpga-0.1"):   # far above the budget at the start (the default start is near it)
        model = build_hgq_mlp(16, 32, 4)
    model.compile(keras.optimizers.Adam(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def test_pid_brings_a_real_model_to_its_budget(tmp_path):
    """"The best model under 8k EBOPs": a 16-32-4 HGQ model starts near 35k EBOPs; BetaPID takes it
    under 8k within 24 epochs (20 on the machine this was written on) and keeps it near there; the
    front's best point within the budget is then a checkpoint of at most 8k EBOPs."""
    x, y = _data()
    pid, pareto = BetaPID(8_000, warmup=2), ParetoCheckpoint(str(tmp_path))
    hist = _model().fit(x, y, validation_split=0.25, epochs=28, batch_size=32, verbose=0, callbacks=[pid, pareto])
    ebops = hist.history["ebops"]
    assert ebops[0] > 25_000
    assert min(ebops[:24]) <= 8_000
    assert all(0.75 * 8_000 <= e <= 1.1 * 8_000 for e in ebops[-4:])
    assert hist.history["beta"][:2] == [1e-7, 1e-7] and max(hist.history["beta"]) > 1e-6
    assert hist.history["ebops_target"][-1] == 8_000
    best = best_within(front_from_checkpoint(pareto.front), 8_000)
    assert best.ebops <= 8_000 and best.metric > 0.6


def _logs_run(stop: BudgetEarlyStopping, sequence) -> int | None:
    stop.set_model(SimpleNamespace(stop_training=False))
    stop.on_train_begin()
    for epoch, (ebops, acc) in enumerate(sequence):
        stop.on_epoch_end(epoch, {"ebops": ebops, "val_accuracy": acc})
        if stop.model.stop_training:
            return epoch
    return None


def test_early_stopping_counts_only_epochs_within_the_budget():
    # over the budget the accuracy stalls for 5 epochs: no stop; within it, 2 epochs without gain stop
    seq = [(50e3, 0.80)] * 5 + [(18e3, 0.81), (17e3, 0.82), (16e3, 0.815), (15e3, 0.82), (14e3, 0.7)]
    stop = BudgetEarlyStopping(20_000, patience=2)
    assert _logs_run(stop, seq) == 8 and stop.best == 0.82 and stop.best_epoch == 6
    assert stop.stopped_epoch == 8
    # an over-budget epoch in between neither improves nor uses up the patience
    assert _logs_run(BudgetEarlyStopping(20_000, patience=2), seq[:8] + [(30e3, 0.5), (15e3, 0.81)]) == 9
    # never within the budget: never stops
    assert _logs_run(BudgetEarlyStopping(10_000, patience=1), seq) is None
    # min_delta: a gain of 0.005 does not count
    assert _logs_run(BudgetEarlyStopping(20_000, patience=2, min_delta=0.01),
                     [(1e3, 0.8), (1e3, 0.805), (1e3, 0.809)]) == 2
    assert _logs_run(BudgetEarlyStopping(20_000, patience=2, mode="min", monitor="val_accuracy"),
                     [(1e3, 0.5), (1e3, 0.4), (1e3, 0.45), (1e3, 0.41)]) == 3


def test_early_stopping_ends_a_real_fit_within_the_budget_only():
    x, y = _data(1500)
    stop = BudgetEarlyStopping(1e9, patience=2)      # every epoch is within the budget
    hist = _model(3e-2).fit(x, y, validation_split=0.25, epochs=40, batch_size=64, verbose=0, callbacks=[stop])
    assert stop.stopped_epoch is not None and len(hist.history["loss"]) == stop.stopped_epoch + 1 < 40
    never = BudgetEarlyStopping(1.0, patience=1)     # no epoch is within it
    hist = _model(3e-2).fit(x, y, validation_split=0.25, epochs=6, batch_size=64, verbose=0, callbacks=[never])
    assert never.stopped_epoch is None and len(hist.history["loss"]) == 6


def test_early_stopping_refuses_bad_settings_and_missing_metrics():
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        BudgetEarlyStopping(1e4, patience=0)
    with pytest.raises(ValueError, match="mode must be 'max' or 'min'"):
        BudgetEarlyStopping(1e4, mode="up")
    stop = BudgetEarlyStopping(1e4)
    with pytest.raises(ValueError, match="'val_accuracy' not in the epoch logs"):
        stop.on_epoch_end(0, {"ebops": 1.0, "accuracy": 0.5})
    with pytest.raises(ValueError, match="no 'ebops' in the epoch logs"):
        stop.on_epoch_end(0, {"val_accuracy": 0.5})


def test_best_within():
    points = [ParetoPoint(0.80, 5e3), ParetoPoint(0.85, 15e3), ParetoPoint(0.85, 12e3), ParetoPoint(0.9, 30e3)]
    assert best_within(points, 20e3) == ParetoPoint(0.85, 12e3)
    assert best_within(points, 30e3).metric == 0.9
    assert best_within(points, 1e4, higher_is_better=False) == ParetoPoint(0.80, 5e3)
    with pytest.raises(ValueError, match="no Pareto point within 1000 EBOPs \\(the cheapest has 5000\\)"):
        best_within(points, 1e3)


def test_readme_budget_example_runs(tmp_path, monkeypatch):
    """The README's budget example on the quick start's model and data (fewer epochs and samples):
    it reaches the budget and chooses a checkpoint within it."""
    import re
    from pathlib import Path

    from hgq_fpga.nn.layers import HDense, HQuantize

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(from hgq_fpga.nn.budget import .*?)```", readme, re.S).group(1)
    assert "epochs=100" in code and "BetaPID(20_000)" in code
    rng = np.random.default_rng(0)
    x_train = rng.normal(size=(2500, 16)).astype("float32")
    keras.utils.set_random_seed(0)
    inp = keras.Input((16,))
    model = keras.Model(inp, HDense(5)(HDense(64, activation="relu")(HQuantize()(inp))))
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    monkeypatch.chdir(tmp_path)
    scope = {"model": model, "x_train": x_train, "y_train": x_train[:, :5].argmax(axis=1),
             "pareto": ParetoCheckpoint("checkpoints"), "front_from_checkpoint": front_from_checkpoint}
    exec(compile(code.replace("epochs=100", "epochs=30"), "README.md budget example", "exec"), scope)
    assert scope["chosen"].ebops <= 20_000 and scope["chosen"].metric > 0.5

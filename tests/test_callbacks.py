"""Callbacks: beta schedules and the Pareto-front checkpoint."""

import math
import os

import numpy as np
import pytest

import keras

from hgq_fpga.nn.callbacks import BetaScheduler, ParetoCheckpoint  # noqa: E402
from hgq_fpga.nn.layers import HDense  # noqa: E402
from conftest import build_hgq_mlp  # noqa: E402


def test_schedules():
    assert BetaScheduler.constant(3e-6).schedule(7) == 3e-6
    st = BetaScheduler.steps([(5, 1e-6), (10, 1e-5), (0, 1e-7)]).schedule
    assert [st(0), st(4), st(5), st(9), st(10), st(99)] == [1e-7, 1e-7, 1e-6, 1e-6, 1e-5, 1e-5]
    assert BetaScheduler.steps([(3, 1e-6)]).schedule(2) == 0.0
    lr = BetaScheduler.log_ramp(1e-7, 1e-5, 5).schedule
    assert lr(0) == pytest.approx(1e-7) and lr(4) == 1e-5 and lr(100) == 1e-5
    assert lr(2) == pytest.approx(1e-6)
    assert all(lr(e) < lr(e + 1) for e in range(4))
    with pytest.raises(ValueError):
        BetaScheduler.log_ramp(0, 1, 3)


def test_piecewise_schedule_values():
    """Knots exactly, log-linear between them, the first value before and the last after."""
    pw = BetaScheduler.piecewise([(10, 1e-6), (2, 1e-8), (20, 1e-6), (30, 1e-4)]).schedule
    assert [pw(0), pw(2), pw(10), pw(15), pw(20), pw(30), pw(31), pw(500)] == [
        1e-8, 1e-8, 1e-6, 1e-6, 1e-6, 1e-4, 1e-4, 1e-4]
    assert pw(6) == math.exp(math.log(1e-8) + 0.5 * (math.log(1e-6) - math.log(1e-8)))
    assert pw(6) == pytest.approx(1e-7, rel=1e-12) and pw(25) == pytest.approx(1e-5, rel=1e-12)
    assert pw(3) == pytest.approx(1e-8 * 100 ** (1 / 8), rel=1e-12)
    assert all(pw(e) < pw(e + 1) for e in range(2, 10)) and all(pw(e) < pw(e + 1) for e in range(20, 30))
    # two knots are the log ramp at every epoch between them (the ramp's first value is exp(log(start)))
    ramp, two = BetaScheduler.log_ramp(1e-8, 1e-5, 50).schedule, BetaScheduler.piecewise([(0, 1e-8), (49, 1e-5)]).schedule
    assert [ramp(e) for e in range(1, 60)] == [two(e) for e in range(1, 60)]
    assert BetaScheduler.piecewise([(4, 3e-6)]).schedule(0) == 3e-6


@pytest.mark.parametrize("knots, message", [
    ([], "at least one"),
    ([(0, 1e-6), (0, 1e-5)], "two points at the same epoch"),
    ([(0, 0.0), (5, 1e-5)], "every beta must be finite and > 0"),
    ([(-1, 1e-6)], "epochs must be integers >= 0"),
    ([(1.5, 1e-6)], "epochs must be integers >= 0"),
    ([(0, float("nan"))], "every beta must be finite"),
    ([(0,)], "needs \\(epoch, beta\\) pairs"),
])
def test_piecewise_refuses_bad_knots(knots, message):
    with pytest.raises(ValueError, match=message):
        BetaScheduler.piecewise(knots)


def _fit(tmp_path, epochs=4):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    model = build_hgq_mlp(6, 8, 2)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    beta = BetaScheduler.log_ramp(1e-6, 1e-3, epochs)
    pareto = ParetoCheckpoint(str(tmp_path), monitor="val_accuracy")
    hist = model.fit(x, y, validation_split=0.25, epochs=epochs, batch_size=32, verbose=0,
                     callbacks=[beta, pareto])
    return model, hist, pareto


def test_beta_scheduler_sets_layers(tmp_path):
    model, hist, _ = _fit(tmp_path)
    assert hist.history["beta"][-1] == 1e-3
    for layer in model.layers[2:]:
        assert math.isclose(float(layer.beta.numpy()), 1e-3, rel_tol=1e-6)


def test_pareto_checkpoint_files(tmp_path):
    _, hist, pareto = _fit(tmp_path)
    files = sorted(os.listdir(tmp_path))
    assert files and len(files) == len(pareto.front)
    for metric, cost, path in pareto.front:
        name = os.path.basename(path)
        assert f"val_accuracy={metric:.4f}" in name and f"ebops={cost:.0f}" in name
        assert os.path.exists(path)
    # no saved point dominates another
    for a in pareto.front:
        for b in pareto.front:
            if a is not b:
                assert not (a[0] >= b[0] and a[1] <= b[1])
    loaded = keras.models.load_model(pareto.front[-1][2])
    assert isinstance(loaded.layers[-1], HDense)


def test_pareto_checkpoint_epochs_count_from_one_and_stale_files_warn(tmp_path):
    _, hist, pareto = _fit(tmp_path, epochs=2)
    epochs = sorted(int(os.path.basename(p)[5:9]) for _, _, p in pareto.front)
    assert epochs and set(epochs) <= {1, 2}            # as Keras prints "Epoch 1/2", "Epoch 2/2"
    with pytest.warns(UserWarning, match="earlier run"):
        _fit(tmp_path, epochs=1)

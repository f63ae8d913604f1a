"""Sweeps on the real Dask engine: a LocalCluster of 2 worker processes trains tiny runs.

Covers the whole path (spec -> Dask tasks -> run folders -> merged front), resumption (a rerun
skips finished runs and leaves their files byte-for-byte and mtime-for-mtime untouched), a worker
killed with SIGKILL in the middle of a run (the run is retried elsewhere and the sweep completes),
and the spec's error messages.
"""

from __future__ import annotations

import io
import json
import os
import signal
import shutil
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hgq_fpga.app.sweep import SpecError, connect, parse, run_sweep
from hgq_fpga.app.sweep.progress import SweepProgress
from hgq_fpga.app.sweep.run import DONE, RESULT, RUNS

MODELS = textwrap.dedent('''
    import time
    import keras
    from hgq_fpga.nn.layers import HDense, HQuantize

    def mlp(hidden=8):
        inp = keras.Input((64,))
        x = HQuantize()(inp)
        x = HDense(hidden, activation="relu", beta=1e-6)(x)
        return keras.Model(inp, HDense(10, beta=1e-6)(x))

    class _Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            time.sleep(1.0)

    def slow():
        """Stretches each epoch, so the test can kill a worker in the middle of a run."""
        return _Slow()
''')


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return digits_project(tmp_path_factory.mktemp("sweep_project"))


def digits_project(root: Path) -> Path:
    """``root`` with the tiny models and 800 digits split as a spec's data file wants them."""
    from sklearn.datasets import load_digits

    (root / "tinymodels.py").write_text(MODELS)
    d = load_digits()
    x, y = (d.data / 16.0).astype(np.float32), d.target.astype(np.int64)
    np.savez(root / "digits.npz", x_train=x[:400], y_train=y[:400], x_val=x[400:600], y_val=y[400:600],
             x_test=x[600:800], y_test=y[600:800])
    return root


def _spec(project: Path, **extra) -> Path:
    spec = {"data": "digits.npz", "architecture": "tinymodels:mlp", "model_args": {"hidden": 6},
            "epochs": 3, "batch_size": 32, "beta": [1e-6, 1e-4], "callbacks": ["tinymodels:slow"],
            "init_widths": {"weight_bits": 4, "activation_f": 4}, "seeds": [0, 1], **extra}
    path = project / f"spec-{len(list(project.glob('spec-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def client():
    with connect(workers=2, retries=2) as c:
        yield c


def _quiet(log: io.StringIO | None = None) -> SweepProgress:
    from rich.console import Console

    return SweepProgress(console=Console(file=log or io.StringIO(), width=200), live=False)


def _kill_mid_run(client, out: Path, running: threading.Thread) -> tuple[str, int] | None:
    """SIGKILL the worker process of the first run seen past its first epoch; ``(run, pid)``."""
    deadline = time.monotonic() + 600  # a loaded machine starts the workers slowly
    while time.monotonic() < deadline and running.is_alive():
        # a staging folder holding a checkpoint: that run is past its first epoch, not finished
        for staging in (out / RUNS).glob(".*.tmp-*") if (out / RUNS).is_dir() else ():
            if not list(staging.glob("checkpoints/*.keras")):
                continue
            name = staging.name[1:].split(".tmp-")[0]
            for addr, keys in client.processing().items():
                if any(name in str(k) for k in keys):
                    pid = client.run(os.getpid, workers=[addr])[addr]
                    os.kill(pid, signal.SIGKILL)
                    return name, pid
        time.sleep(0.1)
    return None


@pytest.fixture(scope="module")
def finished(project, client, tmp_path_factory):
    """A sweep of 2 runs (2 seeds), 3 stretched epochs each, with plain-line progress; one worker
    process is killed with SIGKILL in the middle of a run."""
    spec = _spec(project)
    out = tmp_path_factory.mktemp("sweep_out")
    log = io.StringIO()
    outcome: dict = {}

    def sweep():
        try:
            outcome["result"] = run_sweep(spec, out, client=client, progress=_quiet(log))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=sweep)
    thread.start()
    killed = _kill_mid_run(client, out, thread)
    thread.join(timeout=300)
    assert not thread.is_alive(), "the sweep did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return spec, out, outcome["result"], log.getvalue(), killed


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sweep_trains_every_run_and_merges(finished, project):
    spec, out, result, log, _ = finished
    assert result.ok and not result.skipped and len(result.ran) == 2, result.failed
    runs = sorted(p.name for p in (out / RUNS).iterdir())
    assert runs == sorted(result.ran)  # no staging folder left behind, not even the killed one's
    merged_points = 0
    for name in runs:
        folder = out / RUNS / name
        assert (folder / DONE).is_file()
        record = json.loads((folder / RESULT).read_text())
        assert record["name"] == name and record["settings"]["epochs"] == 3
        assert len(record["history"]["val_accuracy"]) == 3
        for p in record["points"]:
            assert isinstance(p["ebops"], int) and p["ebops"] > 0
            assert 0 <= p["val_accuracy"] <= 1 and 0 <= p["test_accuracy"] <= 1
            assert (folder / p["checkpoint"]).is_file()
        merged_points += len(record["points"])
    merged = json.loads((out / "front.json").read_text())
    assert len(merged["points"]) == merged_points
    assert {p["run"] for p in merged["points"]} == set(runs)
    assert merged["chosen"] in merged["front"]
    front = merged["front"]
    for p in merged["points"]:  # nothing beats a front point on both numbers
        assert not any(p["val_accuracy"] > q["val_accuracy"] and p["ebops"] < q["ebops"] for q in front)
    assert (out / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for f in out.rglob("*.json"):  # portable: no path of this machine in the records
        assert str(project) not in f.read_text() and str(out) not in f.read_text()
    assert log.count("epoch 3/3") >= 2 and "[2/2]" in log
    # issue 35: runs named by what differs (only the seed here), front.json read by report --pareto
    assert runs == ["seed=0", "seed=1"]
    from hgq_fpga.app.commands.report import pareto_training

    training = pareto_training(out / "front.json")
    assert [p["metric"] for p in training["front"]] == [p["val_accuracy"] for p in front]
    assert training["chosen"]["path"] == merged["chosen"]["checkpoint"] and training["ebops_exact"]


def test_killed_worker_loses_only_its_run(finished):
    """The run whose worker was killed mid-way was finished by another attempt."""
    _, out, result, _, killed = finished
    assert killed is not None, "no run was seen mid-way, so no worker was killed"
    name, pid = killed
    assert name in result.ran
    assert json.loads((out / RUNS / name / RESULT).read_text())["worker"]["pid"] != pid


def test_recorded_ebops_are_the_calibrated_checkpoints(finished, project):
    """The run's EBOPs are what calibrating its checkpoint here gives, exactly."""
    import keras

    import hgq_fpga
    import hgq_fpga.nn.layers  # noqa: F401 - registers the classes the checkpoints name

    _, out, result, _, _ = finished
    folder = out / RUNS / result.ran[0]
    point = json.loads((folder / RESULT).read_text())["points"][0]
    model = keras.models.load_model(folder / point["checkpoint"], compile=False)
    with np.load(project / "digits.npz") as z:
        assert hgq_fpga.calibrate(model, z["x_train"]) == point["ebops"]


def _weights(path: Path) -> list[np.ndarray]:
    import keras

    import hgq_fpga.nn.layers  # noqa: F401 - registers the classes the checkpoints name

    return [np.asarray(w) for w in keras.models.load_model(path, compile=False).weights]


def test_same_seed_gives_the_same_run_on_every_worker(finished, client, tmp_path):
    """A run of the sweep, trained again on each of the two worker processes, gives exactly the
    recorded numbers and checkpoint weights (``==``): the seed alone decides the run, whatever
    the worker's event loop draws from Python's global RNG meanwhile."""
    from hgq_fpga.app.sweep import parse
    from hgq_fpga.app.sweep.run import train_and_score

    spec, out, result, _, _ = finished
    run = parse(yaml.safe_load(spec.read_text()), spec.parent).runs[0]
    recorded = json.loads((out / RUNS / run.name / RESULT).read_text())
    workers = sorted(client.scheduler_info()["workers"])
    assert len(workers) == 2
    futures = [client.submit(train_and_score, run, tmp_path / f"w{i}", workers=[w], pure=False)
               for i, w in enumerate(workers)]
    again = client.gather(futures)
    assert again[0]["worker"]["pid"] != again[1]["worker"]["pid"]
    for i, rec in enumerate(again):
        assert rec["history"] == recorded["history"]
        assert rec["points"] == recorded["points"]
        for p in rec["points"]:
            mine, theirs = _weights(tmp_path / f"w{i}" / p["checkpoint"]), _weights(out / RUNS / run.name / p["checkpoint"])
            assert len(mine) == len(theirs)
            assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(mine, theirs))


def test_rerun_skips_finished_runs_and_rewrites_nothing(finished):
    from hgq_fpga.app.cli import main

    spec, out, _, _, _ = finished
    before = _snapshot(out / RUNS)
    res = CliRunner().invoke(main, ["sweep", str(spec), "--out", str(out)])  # no cluster is started
    assert res.exit_code == 0, res.output
    assert "0 runs trained, 2 already finished" in res.output
    assert _snapshot(out / RUNS) == before


def test_rerun_redoes_only_an_unfinished_run(finished, client, tmp_path):
    """As after an interrupted sweep: one run never finished (a killed attempt's staging folder
    is left, no final folder); the rerun trains it and touches nothing else."""
    spec, out, result, _, _ = finished
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # copy2: contents and mtimes
    lost, kept = result.ran[0], result.ran[1]
    shutil.rmtree(copy / RUNS / lost)
    (copy / RUNS / f".{lost}.tmp-killed" / "checkpoints").mkdir(parents=True)
    before = _snapshot(copy / RUNS / kept)
    again = run_sweep(spec, copy, client=client, progress=_quiet())
    assert again.ran == [lost] and again.skipped == [kept]
    assert _snapshot(copy / RUNS / kept) == before
    assert sorted(p.name for p in (copy / RUNS).iterdir()) == sorted([lost, kept])


def test_rerun_with_changed_settings_is_refused(finished, project):
    _, out, _, _, _ = finished
    with pytest.raises(SpecError, match="finished with other settings"):
        run_sweep(_spec(project, epochs=4), out)


BASE = {"data": "digits.npz", "architecture": "tinymodels:mlp", "epochs": 2}


@pytest.mark.parametrize("change, message", [
    ({"epoch": 3}, r"epoch: unknown key \(did you mean 'epochs'\?\)"),
    ({"epochs": 0}, r"epochs: must be >= 1, got 0"),
    ({"epochs": "ten"}, r"epochs: must be an integer, got 'ten'"),
    ({"beta": [1e-4, 1e-6]}, r"beta: start must be <= stop"),
    ({"beta": 1e-5}, r"beta: must be \[start, stop\]"),
    ({"architecture": "tinymodels.mlp"}, r"architecture: must be 'module:function'"),
    ({"architecture": "missing.keras"}, r"architecture: model file 'missing.keras' not found"),
    ({"data": "nope.npz"}, r"data: 'nope.npz' not found"),
    ({"data": "partial.npz"}, r"data: 'partial.npz' lacks the arrays x_val, y_val"),
    ({"init_widths": {"weight_bit": 3}}, r"init_widths.weight_bit: unknown key \(did you mean 'weight_bits'"),
    ({"init_widths": {"weight_bits": 3, "weight_f": 3}}, r"init_widths.weight_f: give weight_bits .* or weight_f"),
    ({"init_widths": {"weight_f": "three"}}, r"init_widths.weight_f: must be a number"),
    ({"grid": {"learning_rat": [1e-3]}}, r"grid.learning_rat: unknown key"),
    ({"grid": {"epochs": []}}, r"grid.epochs: must be a non-empty list"),
    ({"runs": [{"epochs": 2}, {"epochs": -1}]}, r"runs\[1\].epochs: must be >= 1, got -1"),
    ({"runs": [{"name": "a"}, {"name": "a"}]}, r"runs\[1\]: two runs are both named 'a'"),
    ({"seeds": [0], "seed": 1}, r"seed: give either 'seed' or 'seeds'"),
    ({"callbacks": "tinymodels:slow"}, r"callbacks: must be a list of 'module:function'"),
])
def test_spec_errors_name_the_key(project, change, message):
    np.savez(project / "partial.npz", x_train=np.zeros((2, 64)), y_train=np.zeros(2))
    with pytest.raises(SpecError, match=message):
        parse({**BASE, **change}, project, "sweep.yaml")


def test_missing_required_key_and_bad_yaml(project, tmp_path):
    with pytest.raises(SpecError, match="sweep.yaml: epochs: required"):
        parse({"data": "digits.npz", "architecture": "tinymodels:mlp"}, project, "sweep.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(SpecError, match="not valid YAML"):
        run_sweep(bad, tmp_path / "out")


def test_spec_expansion_names_runs(project):
    spec = parse({**BASE, "seeds": [0, 1], "grid": {"learning_rate": [1e-3, 3e-3]},
                  "runs": [{"name": "small"}, {"name": "large", "model_args": {"hidden": 16}}]}, project)
    names = [r.name for r in spec.runs]
    assert len(names) == 8 == len(set(names))
    assert names[0] == "small_learning_rate=0.001_seed=0"
    large = [r for r in spec.runs if r.name.startswith("large")]
    assert all(r.settings["model_args"] == {"hidden": 16} for r in large)


def test_cli_reports_spec_error(project, tmp_path):
    from hgq_fpga.app.cli import main

    spec = project / "bad-epochs.yaml"
    spec.write_text(yaml.safe_dump({**BASE, "epochs": 0}))
    res = CliRunner().invoke(main, ["sweep", str(spec), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "epochs: must be >= 1" in res.output


def test_progress_bars_on_a_terminal():
    from rich.console import Console

    log = io.StringIO()
    bars = SweepProgress(console=Console(file=log, force_terminal=True, width=120)).plan([("a", 2), ("b", 2)], 1)
    assert bars.live
    with bars:
        bars.event((0.0, {"run": "a", "epoch": 1, "epochs": 2, "val_accuracy": 0.5, "ebops": 100.0}))
        bars.event((0.0, {"run": "a", "stage": "calibrating"}))
        bars.finished("a")
        bars.finished("b", ok=False, error="boom")
    text = log.getvalue()
    assert "sweep" in text and "FAILED: boom" in text and "3/3" in text


def test_init_widths_weight_f_gives_every_weight_those_fractional_bits():
    import keras

    from hgq_fpga.app.sweep.widths import set_initial_widths
    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((6,))
    dense = HDense(3, kernel_quantizer={"init_bits": 4})
    model = keras.Model(inp, dense(HQuantize()(inp)))
    assert set_initial_widths(model, weight_f=2, activation_f=5) == 3   # one kernel layer, two activations
    for q in (dense.kq, dense.bq):
        assert q.init_bits is None and np.all(keras.ops.convert_to_numpy(q.f) == 2.0)
    assert np.all(keras.ops.convert_to_numpy(dense.oq.f) == 5.0)
    with pytest.raises(ValueError, match="init_widths.weight_f: model 'plain' has no HGQ kernel quantizer"):
        set_initial_widths(keras.Model(inp, HQuantize()(inp), name="plain"), weight_f=2)


def test_tasks_are_submitted_first_with_the_highest_priority(monkeypatch):
    """The studies list their most needed runs first; a scheduler given one batch of submissions may
    otherwise start them in another order (by key), so each carries its priority."""
    from hgq_fpga.app.sweep.engine import run_tasks

    class Future:
        def __init__(self, name):
            self.name = name

        def result(self):
            return self.name

    class Client:
        def __init__(self):
            self.priorities = []

        def submit(self, fn, *args, key, pure, priority):
            self.priorities.append((args[0], priority))
            return Future(args[0])

        def subscribe_topic(self, topic, handler):
            pass

        def unsubscribe_topic(self, topic):
            pass

    monkeypatch.setattr("distributed.as_completed", lambda futures: list(futures))
    client = Client()
    ran, failed = run_tasks(client, [(n, print, (n,)) for n in ("mlp-a", "cnn-b", "mlp-c")], SweepProgress())
    assert ran == ["mlp-a", "cnn-b", "mlp-c"] and failed == {}
    assert [p for _, p in sorted(client.priorities, key=lambda np_: -np_[1])] == [3, 2, 1]
    assert [n for n, _ in sorted(client.priorities, key=lambda np_: -np_[1])] == ["mlp-a", "cnn-b", "mlp-c"]

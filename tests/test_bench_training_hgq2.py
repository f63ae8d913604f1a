"""The HGQ2 contender of the training-time benchmark, without HGQ2 or network: the interleaving with
fake contenders, the worker's line protocol against a fake worker process, the run's wiring, the
venv helper's errors, and the BENCHMARKS.md renderer on a new-style record."""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

import pytest

from bench import bench_training, hgq2_env
from bench.line_worker import LineWorker, WorkerError
from bench.studies import training_time

ROOT = Path(__file__).resolve().parents[1]

#: a stand-in for bench/hgq2_worker.py: same protocol, an epoch "takes" batch / 1000 s (plus the
#: number of epochs so far / 1e6, so that every answer differs); "epoch 13" crashes, "epoch 7" hangs
FAKE_WORKER = textwrap.dedent('''
    import json, sys, time
    print("fake worker log line", file=sys.stderr, flush=True)
    if "--no-ready" in sys.argv:
        print(json.dumps({"hello": 1}), flush=True); sys.exit(0)
    if "--garbage" in sys.argv:
        print("this is not json", flush=True); sys.exit(0)
    print(json.dumps({"ready": True, "hgq2": "fake", "keras": "3.15.1", "args": sys.argv[1:],
                      "model": {"layers": [], "params": 7, "trainable_params": 5, "float_weights": 3}}), flush=True)
    n = 0
    for line in sys.stdin:
        w = line.split()
        if w == ["quit"]:
            sys.exit(0)
        if w[:1] == ["epoch"]:
            b = int(w[1])
            if b == 13:
                print("Traceback: the fake worker crashed", file=sys.stderr, flush=True); sys.exit(3)
            if b == 7:
                time.sleep(60)
            n += 1
            print(json.dumps({"seconds": b / 1000 + n / 1e6}), flush=True)
        else:
            print(json.dumps({"error": "unknown command " + line.strip()}), flush=True)
''')


@pytest.fixture
def fake_worker(tmp_path) -> list[str]:
    path = tmp_path / "fake_worker.py"
    path.write_text(FAKE_WORKER)
    return [sys.executable, str(path)]


class Scripted:
    """A fake contender: each call logs its name and returns the next of its scripted times."""

    def __init__(self, name: str, times: list[float], log: list[str]) -> None:
        self.name, self.times, self.log = name, list(times), log

    def epoch(self) -> float:
        self.log.append(self.name)
        return self.times.pop(0)


# ------------------------------------------------------------------------- interleaving

def test_three_contenders_rotate_with_the_order_reversed_every_other_round():
    log: list[str] = []
    # warm-up time first (100 + ...), then one per round
    fake = {name: Scripted(name, [100.0 + j] + [float(10 * j + r) for r in range(5)], log)
            for j, name in enumerate(("plain", "hgq", "hgq2"))}
    times = bench_training.interleaved(fake, 5)
    assert log == ["plain", "hgq", "hgq2",                       # warm-up, untimed
                   "plain", "hgq", "hgq2", "hgq2", "hgq", "plain", "plain", "hgq", "hgq2",
                   "hgq2", "hgq", "plain", "plain", "hgq", "hgq2"]
    assert times == {"plain": [0.0, 1.0, 2.0, 3.0, 4.0], "hgq": [10.0, 11.0, 12.0, 13.0, 14.0],
                     "hgq2": [20.0, 21.0, 22.0, 23.0, 24.0]}  # warm-ups are not in the lists


def test_batch_summary_takes_each_median_from_its_own_list():
    times = {"plain": [5.0, 1.0, 2.0, 9.0, 3.0], "hgq": [4.0, 8.0, 3.0, 6.0, 1.0],
             "hgq2": [12.0, 16.0, 10.0, 30.0, 9.0]}
    b = bench_training.batch_summary(times, 1.5)
    assert (b["plain_median_s"], b["hgq_median_s"], b["hgq2_median_s"]) == (3.0, 4.0, 12.0)
    assert b["ratio"] == 4.0 / 3.0 and b["meets_target"] is True
    assert b["hgq2_ratio"] == 3.0 and b["meets_hgq2_target"] is True
    assert b["plain_s"] is times["plain"] and b["hgq_s"] is times["hgq"] and b["hgq2_s"] is times["hgq2"]
    slower = bench_training.batch_summary({**times, "hgq2": [1.0, 2.0, 3.0, 4.0, 5.0]}, 1.2)
    assert slower["hgq2_ratio"] == 0.75 and slower["meets_hgq2_target"] is False and slower["meets_target"] is False
    two_way = bench_training.batch_summary({"plain": times["plain"], "hgq": times["hgq"]}, None)
    assert "hgq2_median_s" not in two_way and "meets_hgq2_target" not in two_way and two_way["meets_target"] is None


# ------------------------------------------------------------------------- worker protocol

def test_worker_contender_speaks_the_line_protocol(fake_worker):
    with LineWorker(fake_worker + ["x.npy", "y.npy", "--jit"], name="fake") as w:
        assert w.hello["ready"] is True and w.hello["args"] == ["x.npy", "y.npy", "--jit"]
        c64, c1024 = bench_training.WorkerContender(w, 64), bench_training.WorkerContender(w, 1024)
        assert [c64.epoch(), c1024.epoch(), c64.epoch()] == [0.064 + 1e-6, 1.024 + 2e-6, 0.064 + 3e-6]
        with pytest.raises(WorkerError, match="unknown command dance"):
            w.request("dance")
        assert c64.epoch() == 0.064 + 4e-6  # an error answer leaves the worker usable
    assert w.proc.returncode == 0  # 'quit' ended it


def test_worker_crash_says_why(fake_worker):
    w = LineWorker(fake_worker, name="fake")
    with pytest.raises(WorkerError, match=r"(?s)exited with status 3 before the answer to 'epoch 13'.*fake worker crashed"):
        bench_training.WorkerContender(w, 13).epoch()
    with pytest.raises(WorkerError, match="already exited with status 3"):
        w.request("epoch 64")
    w.close()


def test_worker_timeouts_bad_hello_and_missing_program(fake_worker):
    w = LineWorker(fake_worker, name="fake")
    with pytest.raises(WorkerError, match=r"no the answer to 'epoch 7' within 0.5 s \(killed\)"):
        bench_training.WorkerContender(w, 7, timeout=0.5).epoch()
    assert w.proc.returncode is not None
    with pytest.raises(WorkerError, match="expected a ready line first"):
        LineWorker(fake_worker + ["--no-ready"], name="fake")
    with pytest.raises(WorkerError, match="the ready line is not JSON"):
        LineWorker(fake_worker + ["--garbage"], name="fake")
    with pytest.raises(WorkerError, match="cannot start"):
        LineWorker(["/nonexistent/python"], name="fake")


def test_run_wires_the_hgq2_proxy_into_every_batch(fake_worker, monkeypatch):
    """run() with fake Keras contenders and the fake worker: three-way rotation, one worker per
    batch (with --jit when asked), the record's new fields."""
    log: list[str] = []

    class FakeKeras:
        def __init__(self, model, x, y, batch, jit=False):
            self.name, self.batch = model, batch

        def epoch(self):
            log.append(f"{self.name}@{self.batch}")
            return {"plain": 1.0, "hgq": 0.5}[self.name]

    commands = []

    def command(python, x_path, y_path, jit=False, seed=0):
        commands.append((python, Path(x_path).name, Path(y_path).name, jit))
        return fake_worker

    monkeypatch.setattr(bench_training, "KerasContender", FakeKeras)
    monkeypatch.setattr(bench_training, "plain_mlp", lambda: "plain")
    monkeypatch.setattr(bench_training, "hgq_mlp", lambda: "hgq")
    monkeypatch.setattr(bench_training, "describe", lambda m: {"layers": [], "float_weights": 3,
                                                              "trainable_params": 4, "params": 5})
    monkeypatch.setattr(bench_training, "hgq2_command", command)
    import numpy as np
    x, y = np.zeros((4, 784), np.float32), np.zeros(4, np.int64)
    r = bench_training.run(rounds=5, load=lambda n: (x, y, "zeros"), jit=True, hgq2=True, hgq2_python=Path("py"))
    assert commands == [(Path("py"), "x.npy", "y.npy", True)] * 2
    # the worker's epochs are not in this log: plain and ours, warm-up then 5 rounds (the order
    # reversed every other round: plain hgq hgq2, hgq2 hgq plain, ...), per batch
    per_batch = ["plain", "hgq"] + ["plain", "hgq", "hgq", "plain"] * 2 + ["plain", "hgq"]
    assert log == [f"{n}@{b}" for b in (64, 1024) for n in per_batch]
    b64, b1024 = r["per_batch"]["64"], r["per_batch"]["1024"]
    # each batch has its own fresh worker: the epoch counter restarts (warm-up is answer 1)
    assert b64["hgq2_s"] == [0.064 + k / 1e6 for k in range(2, 7)]
    assert b1024["hgq2_s"] == [1.024 + k / 1e6 for k in range(2, 7)]
    assert b64["hgq2_median_s"] == 0.064 + 4e-6 and b64["hgq2_ratio"] == (0.064 + 4e-6) / 0.5
    assert b64["meets_hgq2_target"] is False and b1024["meets_hgq2_target"] is True
    assert r["meets_hgq2_target"] is False and r["hgq2_requested"] is True
    assert r["models"]["hgq2"]["hgq2"] == "fake" and r["models"]["hgq2"]["float_weights"] == 3
    assert b64["ratio"] == 0.5 and r["meets_target"] is True
    two_way = bench_training.run(rounds=5, load=lambda n: (x, y, "zeros"))
    assert two_way["hgq2_requested"] is False and "meets_hgq2_target" not in two_way
    assert "hgq2_s" not in two_way["per_batch"]["64"] and len(commands) == 2


# ------------------------------------------------------------------------- venv and worker source

def test_venv_helper_reports_a_failing_step(tmp_path):
    fake_python = tmp_path / "python3"
    fake_python.write_text("#!/bin/sh\necho 'ERROR: no matching distribution for hgq2' >&2\nexit 1\n")
    fake_python.chmod(0o755)
    with pytest.raises(hgq2_env.HGQ2EnvError, match=r"(?s)python -m venv .* failed \(exit 1\).*no matching distribution"):
        hgq2_env.ensure_hgq2_venv(tmp_path / "venv", base_python=str(fake_python))
    assert hgq2_env.hgq2_ready(tmp_path / "venv" / "bin" / "python") is False
    assert "hgq2==0.2.0" in hgq2_env.PACKAGES and "keras==3.15.1" in hgq2_env.PACKAGES


def test_the_worker_imports_only_numpy_keras_and_hgq():
    tree = ast.parse((ROOT / "bench" / "hgq2_worker.py").read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"__future__", "os", "sys", "argparse", "json", "time", "numpy", "importlib", "keras", "hgq"}
    cmd = bench_training.hgq2_command(Path("/v/bin/python"), Path("x.npy"), Path("y.npy"), jit=True)
    assert cmd == ["/v/bin/python", str(ROOT / "bench" / "hgq2_worker.py"), "x.npy", "y.npy", "--seed", "0", "--jit"]
    assert "PYTHONPATH" not in bench_training.worker_env()


# ------------------------------------------------------------------------- renderer

def _mode(hgq2_64: float | None, requested: bool = True) -> dict:
    def batch(plain, hgq, target, hgq2):
        b = {"plain_s": [plain] * 5, "hgq_s": [hgq] * 5, "plain_median_s": plain, "hgq_median_s": hgq,
             "ratio": hgq / plain, "target": target, "meets_target": hgq / plain <= target}
        if hgq2 is not None:
            b.update(hgq2_s=[hgq2] * 5, hgq2_median_s=hgq2, hgq2_ratio=hgq2 / hgq, meets_hgq2_target=hgq < hgq2)
        return b

    ours = {"layers": [{"class": "HQuantize", "kernel": None}, {"class": "HDense", "kernel": [784, 64]}],
            "float_weights": 53706, "trainable_params": 108334, "params": 274075}
    theirs = {"layers": [{"class": "QDense", "kernel": [784, 64]}], "float_weights": 53706,
              "trainable_params": 161902, "params": 217607, "hgq2": "0.2.0", "keras": "3.15.1"}
    return {"data": "fashion_mnist", "n_train": 10000, "rounds": 5, "hgq2_requested": requested,
            "models": {"plain": ours, "hgq": ours, **({"hgq2": theirs} if requested else {})},
            "per_batch": {"64": batch(2.0, 2.5, 1.5, hgq2_64), "1024": batch(1.0, 1.1, 1.2, 3.3 if requested else None)}}


def test_renderer_shows_hgq2_and_the_verdict():
    record = {"modes": {"graph": _mode(5.0), "xla": _mode(2.0)}, "date": "2026-12-03 02:00 UTC", "cores": 2,
              "load_before": [1.0, 0, 0], "load_after": [1.5, 0, 0]}
    text = training_time.render(record, Path("."), Path("."))
    assert text.startswith("## Training time: HGQ against plain Keras and HGQ2")
    assert "| graph (tf.function) | 64 | 2.000 | 2.500 | 5.000 | 1.25 | ≤ 1.5 | met | 2.00 | yes |" in text
    assert "| XLA (jit_compile) | 64 | 2.000 | 2.500 | 2.000 | 1.25 | ≤ 1.5 | met | 0.80 | no |" in text
    assert "| graph (tf.function) | 1024 | 1.000 | 1.100 | 3.300 | 1.10 | ≤ 1.2 | met | 3.00 | yes |" in text
    assert "interleaved (A B C, C B A, ...)" in text and "HGQ2 0.2.0 (Keras 3.15.1)" in text and "has the same kernels (53706 float weights, ours 53706)" in text
    assert training_time.problems(record) == []


def test_problems_only_fault_missing_hgq2_when_it_was_requested():
    record = {"modes": {"graph": _mode(None), "xla": _mode(None, requested=False)}, "date": "d", "cores": 2,
              "load_before": [1.0, 0, 0], "load_after": [1.0, 0, 0]}
    assert training_time.problems(record) == ["training_time: graph: HGQ2 was requested but has no times at batch 64"]
    text = training_time.render(record, Path("."), Path("."))
    assert "| graph (tf.function) | 64 | 2.000 | 2.500 | — | 1.25 | ≤ 1.5 | met | — | not measured |" in text
    assert "| XLA (jit_compile) | 64 | 2.000 | 2.500 | — | 1.25 | ≤ 1.5 | met | — | — |" in text
    record["modes"]["graph"]["per_batch"]["1024"]["hgq2_s"] = [3.3] * 4
    assert training_time.problems(record)[1] == "training_time: graph: fewer than 5 timed HGQ2 epochs at batch 1024"
    old = {"modes": {"graph": {k: v for k, v in _mode(None, False).items() if k not in ("hgq2_requested", "models")}}}
    old.update(date="d", cores=2, load_before=[1.0], load_after=[1.0])
    assert training_time.problems(old) == ["training_time: no xla measurement"]
    text = training_time.render(old, Path("."), Path("."))
    assert "## Training time: HGQ against plain Keras\n" in text and "interleaved (A B, B A, ...)" in text

"""The contenders, without their venvs: an HGQ2 export rebuilt as our model keeps every quantized value
and is charged the bits its values need; the HGQ2 worker's line protocol (against a fake worker) and
its wiring into the training-time run; the IR export that alkaid reads. The HGQ2 venv itself is needed
only by the `slow` end-to-end case."""

from __future__ import annotations

import ast
import inspect
import json
import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hgq_fpga
from bench.common.line_worker import LineWorker, WorkerError
from bench.common.models import Architecture
from bench.common.training import Plan, StudyConfig
from bench.contenders import alkaid_rtl, hgq2_env, hgq2_front
from bench.studies.rtl.run import _float_inputs, mlp
from bench.studies.seeded import run as seeded
from bench.studies.training_time import run as training
from hgq_fpga import fixed

TINY = Architecture("tiny", "mlp", hidden=(5,), classes=3)
PLAN = Plan(TINY, epochs=1, beta_start=1e-6, beta_stop=1e-6)


def test_fewest_fractional_bits_reads_the_mantissa():
    v = np.array([0.75, 4.0, 0.0, -0.375, 2.0 ** -20, 3.0, -1.0, 1536.0, 0.1015625])
    assert hgq2_front.fewest_fractional_bits(v, -8).tolist() == [2, -2, -8, 3, 20, 0, 0, -8, 7]
    rng = np.random.default_rng(1)
    F = rng.integers(-5, 30, 500)
    m = 2 * rng.integers(-1000, 1000, 500) + 1               # odd: exactly F fractional bits
    assert (hgq2_front.fewest_fractional_bits(np.ldexp(m.astype(np.float64), -F), -8) == F).all()


def _export(rng) -> dict[str, np.ndarray]:
    """A synthetic HGQ2 export of TINY: dyadic weights of mixed precision (some zero), activation
    widths with two pruned inputs and one pruned hidden unit."""
    def dyadic(shape, fmax):
        w = np.ldexp(rng.integers(-7, 8, shape).astype(np.float64), -rng.integers(0, fmax, shape))
        w[rng.random(shape) < 0.2] = 0.0
        return w

    return {"kernel0": dyadic((6, 5), 9), "bias0": dyadic((5,), 6), "kernel1": dyadic((5, 3), 9),
            "bias1": dyadic((3,), 6),
            "f_in0": np.array([3.0, 4, 2, 5, 4, -3]), "i_in0": np.array([1.0, 1, 1, 1, -4, 1]),
            "f_in1": np.array([4.0, 3, 2, 4, -2]), "i_in1": np.array([2.0, 2, 2, 2, 1]),
            "f_out": np.array([3.0, 3, 4]), "i_out": np.array([3.0, 3, 3]),
            "val_accuracy": np.float64(0.5), "ebops": np.float64(1e4)}


def test_an_export_rebuilt_as_ours_is_exact_and_prunes_what_hgq2_pruned():
    rng = np.random.default_rng(0)
    ex = _export(rng)
    model = hgq2_front.to_ours(PLAN, (6,), ex)
    ebops = hgq_fpga.calibrate(model, rng.uniform(-1, 1, (400, 6)).astype(np.float32))
    hgq2_front.check_exact(model, ex)
    quantize = model.layers[1]
    dense = [layer for layer in model.layers if hasattr(layer, "kq")]
    k, i, f = quantize.oq.fixed_types()
    widths = k + i + f
    assert widths[4] == 0 and widths[5] == 0             # relu(i + f) = 0 in HGQ2: pruned here too
    assert (widths[:4] > 0).all() and (f[:4] == ex["f_in0"][:4]).all()
    k, i, f = dense[0].oq.fixed_types()
    assert (k + i + f)[4] == 0
    live = (k + i + f) > 0
    assert (f[live] == ex["f_in1"][live]).all()
    # a weight is charged the bits of its value: a zero weight nothing, an odd code its bit length
    kk, ki, kf = dense[0].kq.fixed_types()
    w = ex["kernel0"]
    assert ((kk + ki + kf)[w == 0] == 0).all()
    assert (np.abs(np.ldexp(w, kf))[w != 0] % 2 == 1).all()        # no trailing zero bit is charged
    # EBOPs (docs/method.md §3): sum of (magnitude bits of the weight's code) x (input width)
    expected = 0
    for j, (ak, ai, af) in enumerate([quantize.oq.fixed_types(), dense[0].oq.fixed_types()]):
        magnitude = np.abs(np.ldexp(ex[f"kernel{j}"], hgq2_front.fewest_fractional_bits(ex[f"kernel{j}"], -8)))
        expected += int((fixed.bit_length(magnitude.astype(np.int64)) * (ak + ai + af)[:, None]).sum())
    assert ebops == expected > 0
    changed = {**ex, "kernel1": ex["kernel1"] + 2.0 ** -12}
    with pytest.raises(hgq2_front.HGQ2FrontError, match="kernel values differ"):
        hgq2_front.check_exact(model, changed)
    wide = Plan(Architecture("wide", "mlp", hidden=(5, 4), classes=3), epochs=1, beta_start=1e-6, beta_stop=1e-6)
    with pytest.raises(hgq2_front.HGQ2FrontError, match="kernels"):
        hgq2_front.to_ours(wide, (6,), ex)


def test_hgq2_tasks_bind_their_start_and_the_engine_topic():
    cfg = seeded.SeededConfig(StudyConfig((PLAN,), uniform_bits=(4,)), seeds=(0, 1),
                              uniform_styles=("saturating",), hgq2_inits=("fair",))
    tasks = seeded.tasks(cfg, lambda: None, "/out")
    assert [t[0] for t in tasks] == ["tiny-hgq-seed0", "tiny-hgq-seed1", "tiny-uniform-sat-4b-seed0",
                                     "tiny-uniform-sat-4b-seed1", "tiny-hgq2-fair-seed0", "tiny-hgq2-fair-seed1"]
    for name, fn, args in tasks:
        bound = inspect.signature(fn).bind(*args, "TOPIC").arguments   # the engine appends the topic
        assert bound["topic"] == "TOPIC" and bound["hgq2_init"] == ("fair" if "hgq2" in name else None)
    with pytest.raises(ValueError, match="unknown HGQ2 start"):
        seeded.SeededConfig(StudyConfig((PLAN,), uniform_bits=()), hgq2_inits=("warm",))


#: a stand-in for hgq2_worker.py's timing mode: same protocol, an epoch "takes" batch / 1000 s (plus
#: the number of epochs so far / 1e6, so that every answer differs); "epoch 13" crashes
FAKE_WORKER = textwrap.dedent('''
    import json, sys
    print(json.dumps({"ready": True, "hgq2": "fake", "keras": "3.15.1", "args": sys.argv[1:],
                      "model": {"layers": [], "params": 7, "trainable_params": 5, "float_weights": 3}}), flush=True)
    n = 0
    for line in sys.stdin:
        w = line.split()
        if w == ["quit"]:
            sys.exit(0)
        if w[:1] == ["epoch"] and w[1] == "13":
            print("Traceback: the fake worker crashed", file=sys.stderr, flush=True); sys.exit(3)
        if w[:1] == ["epoch"]:
            n += 1
            print(json.dumps({"seconds": int(w[1]) / 1000 + n / 1e6}), flush=True)
        else:
            print(json.dumps({"error": "unknown command " + line.strip()}), flush=True)
''')


@pytest.fixture
def fake_worker(tmp_path) -> list[str]:
    path = tmp_path / "fake_worker.py"
    path.write_text(FAKE_WORKER)
    return [sys.executable, str(path)]


def test_worker_contender_returns_the_seconds_the_worker_measured(fake_worker):
    with LineWorker(fake_worker + ["x.npy", "--jit"], name="fake") as w:
        assert w.hello["ready"] is True and w.hello["args"] == ["x.npy", "--jit"]
        c64, c1024 = training.WorkerContender(w, 64), training.WorkerContender(w, 1024)
        assert [c64.epoch(), c1024.epoch(), c64.epoch()] == [0.064 + 1e-6, 1.024 + 2e-6, 0.064 + 3e-6]
        with pytest.raises(WorkerError, match="unknown command dance"):
            w.request("dance")
        assert c64.epoch() == 0.064 + 4e-6  # an error answer leaves the worker usable
    assert w.proc.returncode == 0  # 'quit' ended it
    w = LineWorker(fake_worker, name="fake")
    with pytest.raises(WorkerError, match=r"(?s)exited with status 3 before the answer to 'epoch 13'.*crashed"):
        training.WorkerContender(w, 13).epoch()
    w.close()


def test_run_wires_the_hgq2_proxy_into_every_batch(fake_worker, monkeypatch):
    """run() with fake Keras contenders and the fake worker: three-way rotation, one worker per
    batch (with jit when asked), the record's fields."""
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

    monkeypatch.setattr(training, "KerasContender", FakeKeras)
    monkeypatch.setattr(training, "plain_mlp", lambda: "plain")
    monkeypatch.setattr(training, "hgq_mlp", lambda: "hgq")
    monkeypatch.setattr(training, "describe", lambda m: {"layers": [], "float_weights": 3,
                                                         "trainable_params": 4, "params": 5})
    monkeypatch.setattr(training, "hgq2_command", command)
    x, y = np.zeros((4, 784), np.float32), np.zeros(4, np.int64)
    r = training.run(rounds=5, load=lambda n: (x, y, "zeros"), jit=True, hgq2=True, hgq2_python=Path("py"))
    assert commands == [(Path("py"), "x.npy", "y.npy", True)] * 2
    # plain and ours, warm-up then 5 rounds (the order of the three rotated every round), per batch
    per_batch = ["plain", "hgq"] + ["plain", "hgq", "hgq", "plain", "plain", "hgq"] + ["plain", "hgq", "hgq", "plain"]
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
    two_way = training.run(rounds=5, load=lambda n: (x, y, "zeros"))
    assert two_way["hgq2_requested"] is False and "meets_hgq2_target" not in two_way
    assert "hgq2_s" not in two_way["per_batch"]["64"] and len(commands) == 2


def test_the_worker_imports_only_numpy_keras_and_hgq():
    tree = ast.parse(hgq2_env.WORKER.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"__future__", "os", "sys", "json", "time", "numpy", "importlib", "keras", "hgq"}
    cmd = training.hgq2_command(Path("/v/bin/python"), Path("x.npy"), Path("y.npy"), jit=True)
    assert cmd[:3] == ["/v/bin/python", str(hgq2_env.WORKER), "timing"]
    assert json.loads(cmd[3]) == {"x": "x.npy", "y": "y.npy", "jit": True, "seed": 0}
    assert "PYTHONPATH" not in hgq2_env.worker_env()
    assert "hgq2==0.2.0" in hgq2_env.PACKAGES and "keras==3.15.1" in hgq2_env.PACKAGES


def test_alkaid_export_holds_the_ir(tmp_path):
    fw = mlp((4, 3, 2))
    x = _float_inputs(fw, 10)
    alkaid_rtl.export_program(fw, x, tmp_path)
    program = json.loads((tmp_path / "program.json").read_text())
    arrays = np.load(tmp_path / "arrays.npz")
    assert [op["kind"] for op in program["ops"]] == [op.kind for op in fw.ops]
    dense = next(op for op in fw.ops if op.kind == "dense")
    assert np.array_equal(arrays[f"{dense.name}.w_raw"], dense.w_raw)
    # the exported test inputs are the quantized values the RTL's ports carry
    q = arrays["test_inputs"]
    assert not np.array_equal(q, x) and np.array_equal(fw.predict(q), fw.predict(x))


@pytest.mark.slow
@pytest.mark.parametrize("kind, recipe", [("mlp", "bench-0.1"), ("cnn", "bench-0.2")])
def test_hgq2_trains_and_every_epoch_rebuilds_exactly(tmp_path, kind, recipe):
    """End to end: the HGQ2 venv (created from PyPI on first use), two epochs on the synthetic images,
    the MLP and the CNN (the full seeded study trains HGQ2 on both), started like ours on each recipe."""
    from bench.common import data
    from bench.common.presets import RECIPES

    split = data.synthetic()
    classes = int(split.y_train.max()) + 1
    arch = (Architecture("mlp", "mlp", hidden=(8,), classes=classes) if kind == "mlp"
            else Architecture("cnn", "cnn", filters=(2,), kernel_size=3, hidden=(8,), classes=classes))
    plan = Plan(arch, epochs=2, beta_start=1e-6, beta_stop=1e-5)
    study = StudyConfig((plan,), uniform_bits=(), batch_size=64, n_calibration=200, **RECIPES[recipe].start)
    models, facts = hgq2_front.train_hgq2(plan, split, study, str(tmp_path), init="fair")
    assert [m.label for m in models] == ["hgq2-fair-e1", "hgq2-fair-e2"] and facts["epochs"] == 2
    assert all(m.ebops > 0 and 0 <= m.accuracy <= 1 for m in models)
    assert not os.listdir(tmp_path)       # the staging folder is gone


def test_an_rtl_run_of_some_models_keeps_the_stored_rows_of_the_others(tmp_path):
    """``python -m bench run rtl --models demo`` from a work folder that holds only the demo's
    files merges them into the stored record, model by model and part by part, instead of storing
    a record with the demo alone."""
    from bench.studies.rtl.run import collect, merged_into_store

    head = {"info": {}, "inputs": [64], "ebops": 10}
    stored = {"studies": {"rtl": {"models": {
        "demo": {**head, "ours": {"resources": {"LUT": 1}}, "before": {"resources": {"LUT": 2}}},
        "small": {**head, "ours": {"resources": {"LUT": 3}}}}, "demo_run": {"wall_s": 9.0}}}}
    (tmp_path / "demo.alkaid.json").write_text(json.dumps({**head, "alkaid": {"resources": {"LUT": 4}}}))
    (tmp_path / "demo.ours.json").write_text(json.dumps({**head, "ours": {"resources": {"LUT": 5}}}))
    merged_into_store(collect(tmp_path))(stored)
    models = stored["studies"]["rtl"]["models"]
    assert list(models) == ["demo", "small"] and models["small"]["ours"] == {"resources": {"LUT": 3}}
    assert [models["demo"][p]["resources"]["LUT"] for p in ("ours", "before", "alkaid")] == [5, 2, 4]
    assert stored["studies"]["rtl"]["demo_run"] == {"wall_s": 9.0}

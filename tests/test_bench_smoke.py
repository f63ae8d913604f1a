"""Smoke test of the benchmark suite (``python -m bench``), so that it cannot rot.

The whole suite runs once on tiny synthetic images with tiny models and one epoch (the speed
benchmarks are replaced by stand-ins: one that works, one without ``run``, one that fails), then the
record and the rendered document are checked: results.json is well formed and every number in
BENCHMARKS.md is the one in results.json.
"""

from __future__ import annotations

import gzip
import json
import types

import numpy as np
import pytest

from bench import config, data, pareto, report, results
from bench.suite import run_suite

STUB_RESULT = {"samples_per_s": 123456.0, "target": 200000, "meets_target": False, "batch": 10}


def _importer(name: str):
    if name == "stub.ok":
        return types.SimpleNamespace(run=lambda quick: dict(STUB_RESULT, quick=quick))
    if name == "stub.norun":
        return types.SimpleNamespace()
    if name == "stub.fail":
        def run(quick):
            raise RuntimeError("boom")
        return types.SimpleNamespace(run=run)
    raise ImportError(name)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    record = run_suite(config.smoke(), out / "results.json", out / "BENCHMARKS.md", out, "smoke",
                       speed_modules={"emulator": "stub.ok", "training": "stub.norun", "csim": "stub.fail"},
                       importer=_importer, log=lambda *_: None)
    return out, record


def test_results_json_well_formed(suite):
    out, record = suite
    saved = results.load(out / "results.json")
    assert saved == json.loads(json.dumps(record))
    assert results.problems(saved) == []
    assert saved["mode"] == "smoke"
    for key in ("cpu", "logical_cores", "ram_gib", "python", "versions", "date"):
        assert key in saved["machine"]
    study = saved["resource_study"]["architectures"]
    assert set(study) == {"mlp", "cnn"}
    for arch in study.values():
        assert arch["hgq_front"] and arch["uniform_points"]
        assert all(isinstance(p["ebops"], int) for p in arch["hgq_points"] + arch["uniform_points"])
        assert [m["label"] for m in arch["matched"]] == [p["label"] for p in arch["uniform_points"]]
    exact = saved["exactness"]
    assert exact["models_checked"] == 1 and exact["mismatches"] == 0
    assert all(r["samples"] == len(data.synthetic().x_test) for rs in exact["architectures"].values() for r in rs)


def test_speed_benchmarks_recorded_without_crashing(suite):
    _, record = suite
    b = record["speed"]["benchmarks"]
    assert b["emulator"]["status"] == "ok" and b["emulator"]["result"]["quick"] is True
    assert b["training"]["status"] == "not available" and "run" in b["training"]["reason"]
    assert b["csim"]["status"] == "error" and "boom" in b["csim"]["reason"]
    emu = [t for t in record["speed"]["targets"] if t["benchmark"] == "emulator"]
    assert emu[0]["measured"] == STUB_RESULT["samples_per_s"] and emu[0]["meets"] is False


def test_markdown_is_rendered_from_results(suite):
    out, record = suite
    md = (out / "BENCHMARKS.md").read_text()
    assert md == report.render(record, out, out)
    for arch in record["resource_study"]["architectures"].values():
        for p in arch["hgq_front"] + arch["uniform_points"]:
            assert report.fmt_int(p["ebops"]) in md and report.fmt_pct(p["accuracy"]) in md
        assert (out / f"resource_{'mlp' if 'conv' not in arch['architecture'] else 'cnn'}.png").stat().st_size > 0
    assert record["machine"]["cpu"] in md
    assert "not available" in md and "boom" in md
    assert report.fmt_num(STUB_RESULT["samples_per_s"]) in md
    # change a number in the record: the document follows
    tampered = json.loads(json.dumps(record))
    tampered["exactness"]["mismatches"] = 987654
    assert "987,654" in report.render(tampered, out, out)


def test_a_run_that_fails_late_keeps_its_finished_stages(tmp_path, monkeypatch):
    from bench import suite as suite_module

    monkeypatch.setattr(suite_module.resource_study, "run", lambda *a, **k: ({"measured": 1}, {}))

    def exactness_fails(*args, **kwargs):
        raise RuntimeError("C simulation broke")

    monkeypatch.setattr(suite_module.exactness, "run", exactness_fails)
    with pytest.raises(RuntimeError, match="C simulation broke"):
        run_suite(config.smoke(), tmp_path / "results.json", tmp_path / "BENCHMARKS.md", tmp_path, "smoke",
                  speed_modules={}, importer=_importer, log=lambda *_: None)
    assert not (tmp_path / "results.json").exists()
    assert json.loads((tmp_path / "results.partial.json").read_text())["resource_study"] == {"measured": 1}


def test_pareto_and_matched_ratio():
    acc = [0.80, 0.85, 0.84, 0.85, 0.70]
    ebo = [100, 400, 200, 500, 50]
    assert pareto.pareto_indices(acc, ebo) == [4, 0, 2, 1]
    front = [{"accuracy": a, "ebops": e} for a, e in zip(acc, ebo)]
    m = pareto.matched_ratio({"accuracy": 0.84, "ebops": 2000}, front)
    assert m["match"] == 2 and m["ratio"] == 10.0
    assert pareto.matched_ratio({"accuracy": 0.9, "ebops": 1}, front)["ratio"] is None
    # a tolerance lets a slightly less accurate, smaller model count as the match
    loose = pareto.matched_ratio({"accuracy": 0.86, "ebops": 2000}, front, tolerance=0.02)
    assert loose["match"] == 2 and loose["ratio"] == 10.0 and loose["target_accuracy"] == 0.86
    assert pareto.matched_ratio({"accuracy": 0.86, "ebops": 2000}, front)["ratio"] is None
    with pytest.raises(ValueError, match="tolerance"):
        pareto.matched_ratio({"accuracy": 0.86, "ebops": 1}, front, tolerance=-0.1)


def test_within_noise_ratio_uses_one_standard_error_of_the_reference():
    assert pareto.standard_error(0.5, 10000) == 0.005
    arch = {"hgq_front": [{"label": "small", "accuracy": 0.494, "ebops": 100},
                          {"label": "mid", "accuracy": 0.496, "ebops": 200},
                          {"label": "top", "accuracy": 0.5, "ebops": 500}],
            "headline": {"label": "uniform-8b", "target_accuracy": 0.5, "reference_ebops": 1000}}
    noisy = report.within_noise(arch, 10000)  # tolerance 0.5 points: 49.6 % counts, 49.4 % does not
    assert noisy["match_label"] == "mid" and noisy["ratio"] == 5.0 and noisy["tolerance"] == 0.005
    assert report.within_noise({**arch, "headline": None}, 10000) is None


def test_idx_reader_and_missing_dataset(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(header + images.tobytes())
    assert np.array_equal(data.read_idx(path), images)
    with pytest.raises(data.DatasetMissingError, match="apt-get install dataset-fashion-mnist"):
        data.fashion_mnist(directory=tmp_path)


def test_uniform_bits_sets_widths():
    import keras

    from bench.models import Architecture, build
    from bench.uniform import record_ranges, set_uniform_bits

    model = build(Architecture("t", "mlp", hidden=(4,)), (3, 3, 1), "uniform")
    x = np.random.default_rng(0).random((32, 3, 3, 1)).astype(np.float32)
    record_ranges(model, x)
    set_uniform_bits(model, 5)
    dense = model.layers[3]
    assert not dense.kq.f.trainable
    w = np.abs(keras.ops.convert_to_numpy(dense.kernel)).max()
    f = float(keras.ops.convert_to_numpy(dense.kq.f).ravel()[0])
    assert np.floor(np.log2(w)) + 1 + f == 4  # 5 bits with the sign
    inp = model.layers[1].oq  # input pixels are not negative: no sign bit
    peak = float(keras.ops.convert_to_numpy(inp.vmax).max())
    assert np.floor(np.log2(peak)) + 1 + float(keras.ops.convert_to_numpy(inp.f).ravel()[0]) == 5


def test_uniform_baseline_keeps_its_best_validation_epoch():
    import keras

    from bench.uniform import KeepBestEpoch

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep = KeepBestEpoch()
    keep.set_model(model)
    keep.on_train_begin()
    snapshots = []
    for epoch, val in enumerate((0.5, 0.7, 0.6)):
        model.set_weights([np.full((2, 1), float(epoch)), np.zeros(1)])
        snapshots.append([w.copy() for w in model.get_weights()])
        keep.on_epoch_end(epoch, {"val_accuracy": val})
    keep.on_train_end()
    assert keep.best_epoch == 1 and keep.best == 0.7          # the second epoch, counted from 0
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), snapshots[1]))
    with pytest.raises(ValueError, match="no 'val_accuracy'"):
        keep.on_epoch_end(3, {"accuracy": 0.9})


def test_plan_beta_schedule_with_warmup():
    from bench.models import MLP
    from bench.resource_study import Plan

    sched = Plan(MLP, epochs=5, beta_start=1e-8, beta_stop=1e-6, warmup_epochs=2).beta_scheduler().schedule
    assert [sched(e) for e in range(2)] == [0.0, 0.0]
    assert sched(2) == pytest.approx(1e-8) and sched(3) == pytest.approx(1e-7) and sched(4) == pytest.approx(1e-6)
    plain = Plan(MLP, epochs=3, beta_start=1e-8, beta_stop=1e-6).beta_scheduler().schedule
    assert plain(0) == pytest.approx(1e-8) and plain(2) == pytest.approx(1e-6)
    with pytest.raises(ValueError):
        Plan(MLP, epochs=3, beta_start=1e-8, beta_stop=1e-6, warmup_epochs=3)


def test_emulator_against_hls4ml_ratio():
    from bench.speed import cross_targets
    benchmarks = {"emulator": {"result": {"samples_per_s": 600_000.0}},
                  "csim": {"result": {"models": {"mlp_64_32_32_10": {"hls4ml": {"predict_per_s": 12_000.0}}}}}}
    (row,) = cross_targets(benchmarks)
    assert row["measured"] == 50.0 and row["meets"] is True
    benchmarks["emulator"]["result"]["samples_per_s"] = 60_000.0
    assert cross_targets(benchmarks)[0]["meets"] is False
    assert cross_targets({"emulator": {"status": "error"}}) == []

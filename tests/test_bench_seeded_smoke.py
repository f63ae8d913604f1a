"""Smoke test of the seeded resource study on the sweep engine (tiny synthetic data, 2 seeds)
and of the saturating uniform baseline, so that neither can rot."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bench import seeded_study
from bench.saturating import SaturatingQuantizer


pytestmark = pytest.mark.slow   # a bench smoke run of a minute or more; make test-all runs it


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from distributed import Client, LocalCluster

    out = tmp_path_factory.mktemp("seeded")
    cfg, load = seeded_study.preset("smoke")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster, Client(cluster) as client:
        summary = seeded_study.run(cfg, load, out, client=client, progress=_quiet())
    return cfg, load, out, summary


def _quiet():
    import io

    from rich.console import Console

    from hgq_fpga.app.sweep.progress import SweepProgress

    return SweepProgress(console=Console(file=io.StringIO()), live=False)


def test_every_training_ran_and_the_summary_is_written(study):
    cfg, _, out, summary = study
    n_configs = 1 + len(cfg.study.uniform_bits) * len(cfg.uniform_styles)
    assert summary["trainings"] == n_configs * len(cfg.seeds) and not summary["missing"] and not summary["failed"]
    assert json.loads((out / seeded_study.RESULTS).read_text()) == json.loads(json.dumps(summary))
    mlp = summary["architectures"]["mlp"]
    assert set(mlp["uniform"]) == {"uniform-sat-4b"}
    assert mlp["headline_config"] in mlp["uniform"]


def test_ratio_statistics_are_those_of_the_seeds(study):
    _, _, _, summary = study
    for c in summary["architectures"]["mlp"]["uniform"].values():
        ratios = [m["ratio"] for m in c["per_seed"].values() if m["ratio"] is not None]
        assert c["seeds_matched"] == len(ratios) == c["ratio"]["n"]
        if len(ratios) >= 2:
            mean = sum(ratios) / len(ratios)
            sd = math.sqrt(sum((r - mean) ** 2 for r in ratios) / (len(ratios) - 1))
            assert c["ratio"]["mean"] == pytest.approx(mean, rel=0, abs=1e-12)
            assert c["ratio"]["se"] == pytest.approx(sd / math.sqrt(len(ratios)), rel=0, abs=1e-12)


def test_rerun_trains_nothing(study):
    cfg, load, out, summary = study
    before = {p: p.stat().st_mtime_ns for p in out.rglob("result.json")}
    again = seeded_study.run(cfg, load, out, client=object())  # a client is never touched
    assert again["architectures"] == summary["architectures"]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("result.json")} == before


def test_saturating_quantizer_clips_in_training():
    import keras

    q = SaturatingQuantizer(kind="activation", granularity="per_tensor", round_mode="RND", f_init=2.0)
    q.build((3,))
    assert q.set_bounds(4, signed=True) == (-2.0, 1.75)
    x = keras.ops.convert_to_tensor(np.array([[-9.0, 0.3, 5.0]], np.float32))
    xq, _ = q.fake_quantize(x, training=True)
    assert np.array_equal(keras.ops.convert_to_numpy(xq), np.array([[-2.0, 0.25, 1.75]], np.float32))


@pytest.mark.slow  # two models traced twice: about 20 s
def test_training_benchmark_interleaves_whole_epochs():
    from bench import bench_training

    rng = np.random.default_rng(0)
    x, y = rng.random((128, 784), dtype=np.float32), rng.integers(0, 10, 128)
    r = bench_training.run(rounds=5, batches=(64,), load=lambda n: (x, y, "random"))
    b = r["per_batch"]["64"]
    assert len(b["plain_s"]) == len(b["hgq_s"]) == 5
    assert b["hgq_median_s"] == sorted(b["hgq_s"])[2] and b["ratio"] == b["hgq_median_s"] / b["plain_median_s"]
    assert r["ratio"] == b["ratio"] and r["meets_target"] == (b["ratio"] <= 1.5)
    with pytest.raises(ValueError, match="at least 5"):
        bench_training.run(rounds=4, load=lambda n: (x, y, "random"))


def test_interleaved_alternates_the_order():
    from bench import bench_training

    seen = []

    class Fake:
        def __init__(self, name):
            self.name = name

        def epoch(self):
            seen.append(self.name)
            return 1.0

    bench_training.interleaved({"a": Fake("a"), "b": Fake("b")}, 5)
    assert seen == ["a", "b"] + ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]


def test_seeded_record_renders_its_numbers(study, tmp_path):
    from bench.studies import seeded

    _, _, _, summary = study
    record = seeded_study.write_record(summary, "reduced", 12.0, tmp_path / "seeded_results.json")
    assert json.loads((tmp_path / "seeded_results.json").read_text()) == json.loads(json.dumps(record))
    text = seeded.render(record, tmp_path, tmp_path)
    assert text.startswith("## ") and "uniform-sat-4b" in text and seeded_study.REDUCTIONS["reduced"] in text
    c = record["architectures"]["mlp"]["uniform"]["uniform-sat-4b"]
    assert f"{100 * c['val_accuracy']['mean']:.1f} ± {100 * c['val_accuracy']['std']:.1f}" in text
    assert seeded.problems(record) == ["seeded: fewer than 3 seeds"]  # the smoke preset has 2


def test_training_time_record_renders_every_mode_and_batch(tmp_path):
    from bench.studies import training_time

    def mode(ratio64):
        return {"data": "fashion-mnist", "n_train": 10000, "rounds": 5, "per_batch": {
            "64": {"plain_median_s": 2.0, "hgq_median_s": 2.0 * ratio64, "ratio": ratio64, "target": 1.5,
                   "meets_target": ratio64 <= 1.5},
            "1024": {"plain_median_s": 1.0, "hgq_median_s": 1.1, "ratio": 1.1, "target": 1.2, "meets_target": True}}}

    record = {"modes": {"graph": mode(1.25), "xla": mode(1.75)}, "date": "2026-12-02 02:00 UTC", "cores": 2,
              "load_before": [19.0, 0, 0], "load_after": [18.0, 0, 0]}
    text = training_time.render(record, tmp_path, tmp_path)
    assert text.startswith("## ") and text.count("| 64 |") == 2 and text.count("| 1024 |") == 2
    assert "| 1.25 | ≤ 1.5 | met |" in text and "| 1.75 | ≤ 1.5 | missed |" in text
    assert training_time.problems(record) == []
    del record["modes"]["xla"]
    assert training_time.problems(record) == ["training_time: no xla measurement"]

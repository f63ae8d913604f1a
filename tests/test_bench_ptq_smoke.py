"""Smoke test of the PTQ study: the bench script on synthetic data, and its BENCHMARKS.md section."""

from __future__ import annotations

import copy
import json

import pytest

from bench import bench_ptq
from bench.report import DEFAULT_RESULTS
from bench.studies import ptq as study

pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              pytest.mark.slow]   # the bench run takes minutes; tests/test_ptq.py covers the method


@pytest.fixture(scope="module")
def record(tmp_path_factory):
    out = tmp_path_factory.mktemp("ptq") / "ptq_results.json"
    rc = bench_ptq.main(["--smoke", "--models", "mlp", "--calib", "64", "--mixed-samples", "32",
                         "--fronts", str(DEFAULT_RESULTS), "--out", str(out)])
    assert rc == 0
    return json.loads(out.read_text())


def test_bench_records_every_point_exact(record):
    [mlp] = record["models"]
    assert {(p["search"], p["bits"]) for p in mlp["points"]} == {
        ("minmax", 8), ("easyquant", 8), ("minmax", 6), ("easyquant", 6), ("easyquant+mixed", None)}
    assert all(p["mismatches"] == 0 for p in mlp["points"])
    [mixed] = [p for p in mlp["points"] if p["bits"] is None]
    eq6 = next(p for p in mlp["points"] if p["search"] == "easyquant" and p["bits"] == 6)
    assert mixed["budget"] == eq6["ebops"] and mixed["ebops"] <= mixed["budget"]
    assert mlp["fronts"]["hgq_front"] and mlp["fronts"]["source"].endswith("resource_study.architectures.mlp")
    assert study.problems(record) == []


def test_section_renders_from_the_record(record, tmp_path):
    text = study.render(record, tmp_path, tmp_path)
    assert text.startswith("## Post-training quantization")
    assert "**0 mismatching outputs**" in text and "Smoke record" in text
    assert (tmp_path / "ptq_mlp.png").stat().st_size > 0
    assert "](ptq_mlp.png)" in text


def test_targets_are_measured_not_assumed(record):
    rec = copy.deepcopy(record)
    [mlp] = rec["models"]
    for p in mlp["points"]:
        if p["bits"] == 8 and p["search"] == "easyquant":
            p["accuracy"] = mlp["float_accuracy"] - 0.004          # 0.4 points below float
        if p["bits"] == 6:
            p["accuracy"] = 0.80 if p["search"] == "minmax" else 0.809   # +0.9 points
    assert [t["met"] for t in study.targets(mlp)] == [False, False]
    for p in mlp["points"]:
        if p["bits"] == 8 and p["search"] == "easyquant":
            p["accuracy"] = mlp["float_accuracy"] - 0.003
        if p["bits"] == 6 and p["search"] == "easyquant":
            p["accuracy"] = 0.81
    assert [t["met"] for t in study.targets(mlp)] == [True, True]


def test_problems_name_what_is_missing():
    assert "missing 'models'" in study.problems({"data": {}, "calibration_images": 1, "mixed_samples": 1})
    rec = {"data": {}, "calibration_images": 1, "mixed_samples": 1,
           "models": [{"kind": "cnn", "float_accuracy": 0.9, "recipe": {}, "points": []}]}
    assert "cnn: no easyquant point at 6 bits (the targets need it)" in study.problems(rec)

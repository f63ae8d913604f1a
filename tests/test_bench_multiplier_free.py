"""Smoke test of bench/bench_multiplier_free.py and its study module: tiny synthetic run of every
method (with the adder cost), Yosys LUTs of the matched points, record, resume, plot, section."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from bench import bench_multiplier_free as mf  # noqa: E402
from bench.studies import multiplier_free as study  # noqa: E402


@pytest.mark.slow   # about 3 min on 2 cores (training, Yosys, rerun); the study module is tested below
def test_smoke_run_records_every_method(tmp_path):
    cfg = mf.preset("smoke")
    record = mf.run(cfg, str(tmp_path / "work"), log=lambda *_: None)
    mf.write(record, tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "multiplier_free_results.json").read_text())
    assert set(saved["methods"]) == {"hgq", "nhot2", "nhot2+adders10", "ternary4-post", "ternary4-ft"}
    for name, method in saved["methods"].items():
        assert method["points"], name
        for p in method["points"]:
            assert isinstance(p["adders"], int) and isinstance(p["ebops"], int) and 0 <= p["accuracy"] <= 1
    assert saved["config"]["gamma_runs"] == [["nhot2", 10.0]]
    comp = saved["comparison"]
    hgq_best = max(saved["methods"]["hgq"]["points"], key=lambda p: p["accuracy"])
    assert comp["hgq_best_accuracy"] == hgq_best["accuracy"]
    assert set(comp["methods"]) == set(saved["methods"])
    # every selected point was synthesised: LUTs in the row, the point and the synthesis log
    ref = comp["methods"]["hgq"]
    assert isinstance(ref["luts"], int) and ref["luts"] > 0 and ref["lut_ratio_vs_hgq"] == 1.0
    for name, row in comp["methods"].items():
        if row["reaches"]:
            assert row["luts"] == saved["synthesis"][row["label"]]["luts"], name
            assert row["lut_ratio_vs_hgq"] == ref["luts"] / row["luts"]
    assert study.problems(saved) == []
    text = study.render(saved, tmp_path / "out", tmp_path / "out")
    assert text.startswith("## ") and f"{ref['luts']:,}" in text and "Fewest LUTs" in text
    assert (tmp_path / "out" / "multiplier_free.png").stat().st_size > 0
    # a rerun on the same working folder trains and synthesises nothing again
    again = mf.run(cfg, str(tmp_path / "work"), log=lambda *_: pytest.fail("retrained or resynthesised"))
    assert again["comparison"] == comp
    with pytest.raises(ValueError, match="unknown mode"):
        mf.preset("huge")


def test_study_problems_catch_a_broken_record():
    assert study.problems({}) == [f"missing {k!r}" for k in study._NEEDED]
    rows = {"hgq": {"reaches": True, "accuracy": 0.8, "adders": 100, "adder_ratio_vs_hgq": 1.0, "luts": 50,
                    "lut_ratio_vs_hgq": 1.0},
            "nhot1": {"reaches": True, "accuracy": 0.79, "adders": 50, "adder_ratio_vs_hgq": 3.0, "luts": 10,
                      "lut_ratio_vs_hgq": 5.0}}
    rec = {"dataset": {}, "architecture": "", "config": {}, "methods": {"hgq": {}, "nhot1": {}},
           "comparison": {"target_accuracy": 0.795, "methods": rows}}
    assert study.problems(rec) == ["nhot1: selected accuracy 0.79 below the target",
                                   "nhot1: adder ratio does not match its row"]

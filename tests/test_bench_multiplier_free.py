"""Smoke test of bench/bench_multiplier_free.py: tiny synthetic run, every method, record and plot."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from bench import bench_multiplier_free as mf  # noqa: E402


def test_smoke_run_records_every_method(tmp_path):
    record = mf.run(mf.preset("smoke"), str(tmp_path / "work"), log=lambda *_: None)
    mf.write(record, tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "multiplier_free.json").read_text())
    assert set(saved["methods"]) == {"hgq", "nhot2", "ternary4-post", "ternary4-ft"}
    for name, method in saved["methods"].items():
        assert method["points"], name
        for p in method["points"]:
            assert isinstance(p["adders"], int) and isinstance(p["ebops"], int) and 0 <= p["accuracy"] <= 1
    hgq_best = max(saved["methods"]["hgq"]["points"], key=lambda p: p["accuracy"])
    assert saved["comparison"]["hgq_best_accuracy"] == hgq_best["accuracy"]
    assert set(saved["comparison"]["methods"]) == set(saved["methods"])
    assert (tmp_path / "out" / "multiplier_free.png").stat().st_size > 0
    with pytest.raises(ValueError, match="unknown mode"):
        mf.preset("huge")

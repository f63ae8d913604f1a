"""Smoke test of ``bench/bench_rtl.py`` and its study module on a tiny MLP (no da4ml: that needs
its own venv; its IR export is checked for what ``bench/da4ml_emit.py`` reads)."""

from __future__ import annotations

import json

import numpy as np

from bench import bench_rtl
from bench.studies import rtl as study


def test_bench_rtl_tiny_model_records_and_renders(tmp_path, monkeypatch):
    monkeypatch.setenv("HGQ_FPGA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bench_rtl, "N_SIM", 100)
    fw = bench_rtl.mlp((4, 3, 2))
    out = tmp_path / "out"
    row = bench_rtl.run_model("tiny", fw, {"sizes": [4, 3, 2]}, out, python=None, speed=False)
    assert row["ours"]["mismatches"] == 0 and row["ours"]["compared"] == 200
    assert row["ours"]["resources"]["LUT"] > 0 and row["ours"]["longest_path_cells"] > 0
    assert row["ours"]["latency_both_registered"] == row["ours"]["latency_cycles"] + 1
    record = bench_rtl.collect(out, tmp_path / "rtl_results.json")
    assert json.loads((tmp_path / "rtl_results.json").read_text()) == record
    text = study.render(record, tmp_path, tmp_path / "plots")
    assert text.startswith("## RTL backend") and "| tiny |" in text
    assert f"{row['ours']['resources']['LUT']:,} / {row['ours']['resources']['FF']:,}" in text
    assert (tmp_path / "plots" / study.PLOT).stat().st_size > 5000
    assert study.problems(record) == []
    bad = json.loads(json.dumps(record))
    bad["models"]["tiny"]["ours"]["mismatches"] = 3
    assert study.problems(bad) == ["tiny: 3 RTL simulation mismatches"]


def test_da4ml_export_holds_the_ir(tmp_path):
    fw = bench_rtl.mlp((4, 3, 2))
    x = bench_rtl._float_inputs(fw, 10)
    bench_rtl.export_program(fw, x, tmp_path)
    program = json.loads((tmp_path / "program.json").read_text())
    arrays = np.load(tmp_path / "arrays.npz")
    assert [op["kind"] for op in program["ops"]] == [op.kind for op in fw.ops]
    dense = next(op for op in fw.ops if op.kind == "dense")
    assert np.array_equal(arrays[f"{dense.name}.w_raw"], dense.w_raw)
    # the exported test inputs are the quantized values the RTL's ports carry
    q = arrays["test_inputs"]
    assert not np.array_equal(q, x) and np.array_equal(fw.predict(q), fw.predict(x))

"""Smoke test of the QKeras benchmark's data and its BENCHMARKS.md section (no training, no QKeras)."""

from __future__ import annotations

import numpy as np

from bench import bench_qkeras
from bench.studies import qkeras as study


def test_synthetic_jets_are_on_the_input_grid_and_learnable():
    data = bench_qkeras.make_data(600, 200, 200, seed=3)
    x, y = data["x_train"], data["y_train"]
    assert x.shape == (600, 16) and x.dtype == np.float32 and set(np.unique(y)) == set(range(5))
    scaled = x.astype(np.float64) * 2.0 ** bench_qkeras.INPUT_F
    assert np.array_equal(scaled, np.round(scaled)) and np.abs(x).max() < 32     # ap_fixed<16,6>
    again = bench_qkeras.make_data(600, 200, 200, seed=3)
    assert all(np.array_equal(data[k], again[k]) for k in data)
    # class structure: nearest class mean (from training data) beats chance on validation by far
    means = np.stack([x[y == c].mean(0) for c in range(5)])
    pred = np.argmin(((data["x_val"][:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(pred == data["y_val"]) > 0.4


def record(mismatches: int = 0, rtl: bool = True) -> dict:
    side = {"train_s": 10.0, "ebops": 1234, "val_accuracy": 0.75, "test_accuracy": 0.74, "epochs": 3}
    r = {"LUT": 100, "FF": 50, "CARRY": 10, "latency_cycles": 4, "latency_ns": 20.0, "clock_period_ns": 5.0}
    qk = {**side, "import_s": 3.0, "to_firmware_s": 1.0, "mismatches": {"val": mismatches, "test": 0}}
    hgq = {**side, "beta": [1e-7, 3e-5], "tolerance": 0.005, "reached_target": True, "front": []}
    if rtl:
        qk["rtl"], hgq["rtl"] = r, dict(r, LUT=80)
    return {"data": {"kind": "synthetic", "n_train": 10, "n_val": 5, "n_test": 5, "input_type": "ap_fixed<16,6>"},
            "qkeras": qk, "hgq": hgq}


def test_study_renders_the_record_and_reports_problems(tmp_path):
    text = study.render(record(), tmp_path, tmp_path)
    assert text.startswith("## ") and "| RTL LUTs (Yosys) | 100 | 80 |" in text and "synthetic" in text.lower()
    assert "| EBOPs | 1,234 | 1,234 |" in text and "0 mismatches" in text
    assert study.problems(record()) == []
    assert any("differs" in p for p in study.problems(record(mismatches=2)))
    assert len(study.problems(record(rtl=False))) == 2
    assert "not synthesised" in study.render(record(rtl=False), tmp_path, tmp_path)

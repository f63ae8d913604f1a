"""Reports: per-layer numbers from the firmware IR, report.md/json, PNG figures, Pareto choice.

A hand-built firmware with known weight codes makes every reported number checkable by hand.
No Keras here: the report needs only numpy and matplotlib.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.ir import FirmwareBuilder
from hgq_fpga.app.report import summarize, write_report
from hgq_fpga.app.report.markdown import render_markdown
from hgq_fpga.pareto import ParetoPoint, choose, front_from_checkpoint, front_from_dicts

DATA = Path(__file__).parent / "data"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: weight codes of the first dense layer; |code| bits: 1 0 2 / 3 3 0 / 0 1 2 / 3 3 3
W1 = np.array([[1, 0, -3], [4, 7, 0], [0, -1, 2], [5, 5, 5]])


def known_firmware():
    """input (4 elements, the last one dead) → dense → relu → cast → tanh table → dense → cast."""
    b = FirmwareBuilder()
    x = b.input("x", (4,), k=[1, 1, 1, 0], i=[2, 2, 2, 0], f=[3, 3, 3, 0])
    h = b.dense(x, W1, 2, [1, 0, -1], 2, name="dense1_acc")
    h = b.cast(b.relu(h, name="dense1_relu"), 0, 3, 2, "RND", "SAT", name="dense1")
    a = b.table(h, np.tanh, 1, 0, 5, "RND", "SAT", label="tanh", name="act")
    y = b.dense(a, [[3, 0], [-2, 1], [0, 0]], 3, name="out_acc")
    y = b.cast(y, 1, 3, 4, "TRN", "WRAP", name="out")
    return b.build([y])


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (and a check that the file is a PNG)."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_layer_rows_match_hand_counts():
    fw = known_firmware()
    stats = summarize(fw)
    assert [l.name for l in stats.layers] == ["x", "dense1", "act", "out"]
    assert [l.kind for l in stats.layers] == ["input", "dense", "activation (tanh)", "dense"]
    x, d1, act, out = stats.layers
    assert x.weight_bits is None and x.activation_bits.tolist() == [6, 6, 6, 0]
    assert (d1.weights, d1.kept, d1.pruned) == (12, 9, 3)
    kept = d1.kept_weight_stats()
    assert (kept.min, kept.max, kept.count) == (1, 3, 9)
    assert kept.mean == pytest.approx(21 / 9)
    assert d1.activation_bits.tolist() == [5, 5, 5]
    assert act.weight_bits is None and act.activation_bits.tolist() == [6, 6, 6]
    assert (out.weights, out.kept) == (6, 3)
    # EBOPs = Σ input width × weight bits: rows (1+0+2, 3+3+0, 0+1+2) × 6 bits, the dead input adds 0
    assert d1.ebops == 6 * (3 + 6 + 3)
    assert out.ebops == 6 * (2 + 2 + 1)
    assert stats.ebops == fw.resources().ebops == d1.ebops + out.ebops
    assert (stats.weights, stats.kept, stats.pruned) == (18, 12, 6)
    assert stats.latency_adder_levels == fw.resources().latency > 0


def test_layer_adder_levels_add_up_to_the_latency():
    """A chain of layers: the per-layer column must sum to the total the summary prints."""
    fw = known_firmware()
    stats = summarize(fw)
    levels = {r.name: r.adder_levels for r in fw.resources().ops}
    x, d1, act, out = stats.layers
    assert x.adder_levels == 0
    assert d1.adder_levels == levels["dense1_acc"] + levels["dense1_relu"] + levels["dense1"]
    assert act.adder_levels == levels["act"]
    assert out.adder_levels == levels["out_acc"] + levels["out"]
    assert sum(l.adder_levels for l in stats.layers) == stats.latency_adder_levels


def test_report_files_hold_the_numbers(tmp_path):
    fw = known_firmware()
    run = {"name": "tiny", "board": {"name": "vu9p", "part": "xcvu9p-flga2104-2L-e", "clock_period_ns": 5.0},
           "metrics": {"test accuracy": 0.8125},
           "verification": {"data": "test set", "samples": 321, "mismatches": 0, "ok": True,
                            "details": "✔ 321 samples × 2 outputs: Keras = emulator = C++ (0 mismatches)"}}
    data = write_report(fw, tmp_path / "rep", run)
    files = sorted(p.name for p in (tmp_path / "rep").iterdir())
    from hgq_fpga.folders import WRITTEN          # the folder's own list of what hgq_fpga wrote

    assert files == sorted([WRITTEN, "bit_widths.png", "ebops.png", "report.json", "report.md", "weight_heatmap.png"])
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert saved == json.loads(json.dumps(data))
    assert saved["design"]["ebops"] == fw.resources().ebops == 102
    assert saved["design"]["pruned"] == 6 and saved["verification"]["mismatches"] == 0
    layer = {l["name"]: l for l in saved["design"]["layers"]}["dense1"]
    assert layer["weight_bits"]["histogram"] == {"1": 2, "2": 2, "3": 5}
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "# Firmware report: tiny" in md
    assert "| EBOPs (exact, from the firmware) | 102 |" in md
    assert "| test accuracy | 81.25 % |" in md
    assert "0 mismatches on 321 samples (test set): Keras = emulator = C++" in md
    assert "| dense1 | dense | 9 / 12 | 1 / 2.33 / 3 | 5 / 5.00 / 5 | 72 |" in md
    assert "No synthesis report" in md and "Pareto" not in md
    for name in data["figures"].values():
        assert f"]({name})" in md
        width, height = png_size(tmp_path / "rep" / name)
        assert width > 300 and height > 200
        assert (tmp_path / "rep" / name).stat().st_size > 5000  # drawn, not blank


def test_markdown_renders_a_mismatch_visibly():
    fw = known_firmware()
    data = {"name": "bad", "design": summarize(fw).to_dict(),
            "verification": {"data": "d", "samples": 10, "mismatches": 3, "ok": False, "details": "✘ ..."}}
    md = render_markdown(data)
    assert "3 mismatches on 10 samples (d): MISMATCH" in md


def test_pareto_choice_is_smallest_within_tolerance():
    pts = front_from_dicts([{"metric": 0.97, "ebops": 900}, {"metric": 0.965, "ebops": 500},
                            {"metric": 0.955, "ebops": 300}, {"metric": 0.90, "ebops": 100}])
    assert choose(pts, 0.01).ebops == 500  # 0.965 >= 0.97 - 0.01, 0.955 is not
    assert choose(pts, 0.02).ebops == 300
    assert choose(pts, 0.0).ebops == 900
    assert choose(pts, 1.0).ebops == 100
    with pytest.raises(ValueError, match="empty"):
        choose([], 0.01)
    with pytest.raises(ValueError, match="metric"):
        front_from_dicts([{"ebops": 1}])
    cb = front_from_checkpoint([(0.9, 50.0, "/x/epoch0007-val_accuracy=0.9000-ebops=50.keras")])
    assert cb == [ParetoPoint(0.9, 50.0, "/x/epoch0007-val_accuracy=0.9000-ebops=50.keras", 7)]


def test_training_and_synthesis_sections(tmp_path):
    fw = known_firmware()
    project = tmp_path / "prj"
    report_dir = project / "myproject_prj" / "solution1" / "syn" / "report"
    report_dir.mkdir(parents=True)
    shutil.copy(DATA / "fake_csynth.xml", report_dir / "myproject_csynth.xml")
    front = [{"metric": 0.95, "ebops": 4000.0, "epoch": 3, "path": "checkpoints/a.keras"},
             {"metric": 0.90, "ebops": 1500.0, "epoch": 9, "path": "checkpoints/b.keras"}]
    run = {"name": "myproject",
           "training": {"metric": "val_accuracy", "tolerance": 0.01, "front": front, "chosen": front[0],
                        "epochs": [[6000.0, 0.5], [4000.0, 0.95], [1500.0, 0.9]], "deployed": [102, 0.93]}}
    from hgq_fpga.backends.hls.project import HLSProject

    run["synthesis"] = {"hls": HLSProject(fw, project, top="myproject").report()}   # the project's figures
    data = write_report(fw, tmp_path / "rep", run)
    assert set(data["figures"].values()) >= {"pareto.png", "synthesis.png"}
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| 3 | 95.00 % | 4,000 | ★ |" in md and "| 9 | 90.00 % | 1,500 |  |" in md
    assert "within 1 percentage point(s)" in md and "exactly 102 EBOPs" in md
    # the numbers of tests/data/fake_csynth.xml: 23117 LUT, 3 DSP, 7 cycles at 5 ns
    comparison = data["synthesis"]["hls"]["comparison"]
    assert comparison["lut_plus_55_dsp"] == 23117 + 55 * 3
    assert comparison["ebops_estimate"] == 102
    assert "| LUT + 55·DSP | 23,282 | 102 EBOPs (ratio 228.25) |" in md
    assert "7 cycles = 35 ns" in md
    for name in ("pareto.png", "synthesis.png"):
        assert png_size(tmp_path / "rep" / name)[0] > 300

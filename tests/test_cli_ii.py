"""``hgq-fpga convert --ii N``: the design's RTL and HLS projects take a new sample every N clock
cycles, the RTL still equals the emulator (the design is verified), and the II is in the project
records, the report and the terminal summary."""

from __future__ import annotations

import json

from test_cli import error_line, files, no_output, run  # noqa: F401  (files: the module's fixture)


def test_convert_with_ii_folds_the_rtl_and_says_so(files):  # noqa: F811
    out = files / "design_ii"
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out,
                 "--backend", "hls,rtl", "--ii", "3")
    assert result.exit_code == 0, result.output
    rtl = json.loads((out / "rtl" / "project.json").read_text())
    assert rtl["ii"] == 3 and rtl["folding"]
    assert json.loads((out / "hls" / "project.json").read_text())["ii"] == 3
    assert "#pragma HLS PIPELINE II=3" in (out / "hls" / "firmware" / "myproject.cpp").read_text()
    manifest = json.loads((out / "hgq_fpga.json").read_text())
    assert manifest["verification"]["mismatches"] == 0
    assert f"latency {rtl['latency_cycles']} cycles, II = 3" in (out / "report" / "report.md").read_text()
    assert "II = 3" in " ".join(result.output.split())


def test_convert_refuses_a_bad_ii(files):  # noqa: F811
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", files / "bad_ii",
                 "--backend", "rtl", "--ii", "0")
    assert "--ii" in error_line(result)
    assert no_output(files, "bad_ii")

"""The RTL project from every entry point: ``hgq-fpga convert --backend rtl|both [--synth]``, the
design folder's ``verify`` and ``report``, and ``hgq_fpga.verify(..., project=rtl_project)``.

One small model (8-6-3) keeps Verilator and Yosys quick; the Yosys run here is real.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import hgq_fpga
from hgq_fpga.checks.design_folder import DesignError, open_design
from hgq_fpga.backends.rtl import write_project
from test_cli import error_line, files, run  # noqa: F401  (files is a fixture)


@pytest.fixture(scope="module")
def both(files):  # noqa: F811
    out = files / "both"
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out,
                 "--name", "tiny", "--backend", "both", "--synth")
    assert result.exit_code == 0, result.output
    return out, result.output


def test_convert_both_verifies_the_rtl_and_reports_yosys_numbers(both):
    out, output = both
    run_record = json.loads((out / "hgq_fpga.json").read_text())
    assert list(run_record["backends"]) == ["hls", "rtl"]
    ver = run_record["verification"]
    assert ver["chain"] == ["Keras", "emulator", "C++", "RTL"]
    assert ver["emulator_vs"] == {"C++": 0, "RTL": 0} and ver["mismatches"] == 0
    assert "Keras = emulator = C++ = RTL on 200 samples" in output
    assert (out / "hls" / "Makefile").is_file() and (out / "rtl" / "Makefile").is_file()
    info = json.loads((out / "rtl" / "project.json").read_text())
    assert run_record["backends"]["rtl"]["latency_cycles"] == info["latency_cycles"]
    synth = json.loads((out / "rtl" / "reports" / "report.json").read_text())
    assert synth["tool"] == "yosys" and synth["resources"]["LUT"] > 0 and synth["resources"]["FF"] > 0
    # the report puts the Yosys numbers beside the EBOPs; the summary prints them
    report = json.loads((out / "report" / "report.json").read_text())
    rtl = report["synthesis"]["rtl"]
    assert rtl["figures"]["resources"] == synth["resources"]
    assert rtl["comparison"]["ebops_estimate"] == report["design"]["ebops"]
    assert rtl["comparison"]["lut_plus_55_dsp"] == synth["resources"]["LUT"] + 55 * synth["resources"]["DSP"]
    md = (out / "report" / "report.md").read_text()
    assert "## RTL synthesis (yosys, vu9p" in md and "Whole model" in md
    assert f"| LUT | {synth['resources']['LUT']:,} | 1,182,240 |" in md
    lat = f"{info['latency_cycles']} clock cycles = {info['latency_cycles'] * 5:g} ns at 5 ns"
    assert lat in md and lat in output
    assert f"{synth['resources']['LUT']:,} = " in output and "of vu9p" in output
    assert "Keras = emulator = C++ = RTL" in md
    # issue 35: a timing estimate from the RTL's stages, labelled as one, in the report and the summary
    timing = report["timing"]
    assert timing["stage_levels"] == info["stage_levels"] and timing["critical_levels"] == max(info["stage_levels"])
    assert "timing.png" in report["figures"].values() and "## Timing (estimate, without Vivado)" in md
    assert "RTL timing (estimate)" in output and f"≈ {timing['fmax_mhz']:g} MHz estimated" in output


def test_verify_and_report_find_the_rtl_of_a_design_folder(both, files):  # noqa: F811
    out, _ = both
    result = run("verify", out, "--data", files / "test.npz", "--array", "x")
    assert result.exit_code == 0, result.output
    assert "Keras = emulator = C++ = RTL (0 mismatches)" in result.output
    result = run("report", out, "--out", files / "both_report")
    assert result.exit_code == 0, result.output
    assert "## RTL synthesis" in (files / "both_report" / "report.md").read_text()


def test_convert_rtl_only(files):  # noqa: F811
    out = files / "rtl_only"
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out,
                 "--backend", "rtl")
    assert result.exit_code == 0, result.output
    assert not (out / "hls").exists() and (out / "rtl" / "src" / "myproject.v").is_file()
    assert "Keras = emulator = RTL on 200 samples" in result.output
    assert f"cd {out / 'rtl'} && make synth BOARD=vu9p" in result.output
    assert "## RTL synthesis" not in (out / "report" / "report.md").read_text()   # not synthesized
    result = run("verify", out, "--data", files / "test.npz", "--array", "x")
    assert result.exit_code == 0 and "Keras = emulator = RTL (0 mismatches)" in result.output
    with pytest.raises(DesignError, match="holds no hls project"):
        open_design(out).project("hls")


def test_synth_needs_the_rtl(files):  # noqa: F811
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out",
                 files / "never", "--synth")
    assert "--synth synthesizes the RTL project" in error_line(result)
    assert not (files / "never").exists()


class OffByOne:
    """An implementation whose first output value is one LSB too large."""

    name = "RTL"

    def __init__(self, fw) -> None:
        self.fw = fw

    def predict(self, x):
        y = np.array(self.fw.predict(x))
        y[0, 0] += 2.0 ** -int(self.fw.types[self.fw.outputs[0]].f.flat[0])
        return y


def test_verify_with_an_rtl_project_counts_exactly(both, tmp_path):
    out, _ = both
    found = open_design(out)
    fw, model = found.firmware(), found.keras_model()
    x = np.load(out.parent / "calib.npy")[:50]
    prj = write_project(fw, tmp_path / "rtl")
    report = hgq_fpga.verify(model, x, firmware=fw, project=prj)
    assert report.ok and report.emulator_vs == {"RTL": 0} and report.emulator_vs_csim is None
    assert "Keras = emulator = RTL (0 mismatches)" in str(report)
    bad = hgq_fpga.verify(model, x, firmware=fw, project=[found.project("hls", fw), OffByOne(fw)])
    assert bad.emulator_vs == {"C++": 0, "RTL": 1} and bad.mismatches == 1 and bad.emulator_vs_csim == 0
    assert re.search(r"emulator vs RTL:\s+1 of 150 values differ", str(bad)) and "≠ RTL" in str(bad)
    with pytest.raises(ValueError, match="same name"):
        hgq_fpga.verify(model, x, firmware=fw, project=[prj, OffByOne(fw)])

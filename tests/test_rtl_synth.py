"""Synthesis of the generated RTL: one real (small) Yosys run, Vivado's path with a fake
``vivado`` that writes reports in Vivado's own format, the report parsers, and the messages for
missing tools."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.backends.rtl import ReportError, ToolMissingError, write_project
from hgq_fpga.backends.rtl.synth_report import (parse_vivado_utilization, parse_vivado_wns,
                                                parse_yosys_stat)
from hgq_fpga.ir import FirmwareBuilder

DATA = Path(__file__).parent / "data"


def _small_model():
    rng = np.random.default_rng(0)
    b = FirmwareBuilder()
    x = b.input("x", (4,), k=1, i=2, f=3)
    h = b.cast(b.dense(x, rng.integers(-20, 20, (4, 3)), 3, rng.integers(-5, 5, 3), 2),
               1, 3, 2, "RND", "SAT")
    return b.build([b.relu(h)])


def test_yosys_synthesis_and_make_sim_without_hgq_fpga(tmp_path):
    prj = write_project(_small_model(), tmp_path / "p")
    rep = prj.synth(tool="yosys")
    res = rep["resources"]
    assert rep["tool"] == "yosys" and rep["board"] == "vu9p"
    assert res["LUT"] > 10 and res["FF"] > 0 and res["CARRY"] > 0 and res["DSP"] == 0
    assert rep["latency_cycles"] == prj.latency and rep["latency_ns"] == prj.latency * 5.0
    assert 0 < rep["utilisation"]["LUT"] < 1e-3
    md = (prj.path / "reports" / "report.md").read_text()
    assert "| LUT |" in md and f"{prj.latency} cycles" in md
    # the folder simulates on its own: make sim with no hgq_fpga on the Python path
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(["make", "-C", str(prj.path), "sim"], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "RTL simulation = emulator" in out.stdout


def _fake_vivado(bin_dir: Path, log: Path) -> None:
    script = bin_dir / "vivado"
    script.write_text(f"""#!/bin/sh
echo "$@" > {log}
mkdir -p reports
cp {DATA / 'vivado_utilization_synth.rpt'} reports/vivado_utilization.rpt
cp {DATA / 'vivado_timing_summary.rpt'} reports/vivado_timing.rpt
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_vivado_path_with_a_fake_vivado(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "vivado_args.txt"
    _fake_vivado(bin_dir, log)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    prj = write_project(_small_model(), tmp_path / "p", board="vu9p")
    rep = prj.synth(board="vu13p")                      # vivado is on PATH: it is chosen
    args = log.read_text().split()
    assert args[:6] == ["-mode", "batch", "-nojournal", "-nolog", "-source", "synth/vivado.tcl"]
    assert args[6:] == ["-tclargs", "xcvu13p-flga2577-2-e", "5.0"]
    tcl = (prj.path / "synth" / "vivado.tcl").read_text()
    assert "-mode out_of_context" in tcl and "report_utilization" in tcl
    assert rep["tool"] == "vivado" and rep["board"] == "vu13p"
    assert rep["resources"] == {"LUT": 812, "FF": 955, "CARRY": 62, "DSP": 2, "BRAM_18K": 3,
                                "SRL": 15, "LUTRAM": 0}
    assert rep["wns_ns"] == 1.234
    assert rep["available"]["LUT"] > 1_182_240                 # vu13p, not the vu9p default


def test_report_parsers(tmp_path):
    counts = parse_vivado_utilization(DATA / "vivado_utilization_synth.rpt")
    assert counts["LUT"] == 812 and counts["SRL"] == 15
    assert parse_vivado_wns(DATA / "vivado_timing_summary.rpt") == 1.234
    assert parse_vivado_wns(tmp_path / "absent.rpt") is None
    ys = tmp_path / "stat.json"
    ys.write_text('{"creator": "Yosys", "design": {"num_cells_by_type": {"LUT2": 3, "LUT6": 1, '
                  '"INV": 1, "FDRE": 4, "CARRY8": 2, "RAMB36E2": 1, "SRLC32E": 2, "DSP48E2": 1}}}')
    assert parse_yosys_stat(ys) == {"LUT": 5, "FF": 4, "CARRY": 2, "DSP": 1, "BRAM_18K": 2,
                                    "SRL": 2, "LUTRAM": 0}
    bad = tmp_path / "bad.rpt"
    bad.write_text("not a report\n")
    with pytest.raises(ReportError, match="bad.rpt"):
        parse_vivado_utilization(bad)
    prj = write_project(_small_model(), tmp_path / "p")
    assert prj.report() is None                       # the protocol: no figures before synthesis
    from hgq_fpga.backends.rtl.synth_report import make_report
    with pytest.raises(ReportError, match="run `make synth` first"):
        make_report(prj.path)


def test_missing_tools_say_what_to_install(tmp_path, monkeypatch):
    prj = write_project(_small_model(), tmp_path / "p")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(ToolMissingError, match=r"apt-get install verilator=5\.006"):
        prj.compile()
    with pytest.raises(ToolMissingError, match=r"apt-get install yosys=0\.23"):
        prj.synth(tool="yosys")

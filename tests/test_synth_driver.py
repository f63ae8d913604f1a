"""The synthesis driver, tested with a fake `vitis_hls` that records its call and writes a real-format report."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from hgq_fpga.backends.common.board import load_board
from hgq_fpga.backends.common.templates import render
from hgq_fpga.backends.hls.synth import run_synthesis
from hgq_fpga.backends.common.toolchain import ToolchainError

REPORT = Path(__file__).parent / "data" / "fake_csynth.xml"

FAKE_TOOL = f"""#!{sys.executable}
import os, re, sys, pathlib
script = pathlib.Path(sys.argv[sys.argv.index('-f') + 1]).read_text()
name = re.search(r'^open_project -reset (\\S+)', script, re.M).group(1)
top = re.search(r'^set_top (\\S+)', script, re.M).group(1)
log = pathlib.Path(os.environ['FAKE_HLS_LOG'])
steps = ' '.join(f'{{k}}={{v}}' for k, v in sorted(os.environ.items()) if k.startswith('HGQ_'))
log.write_text(f"{{pathlib.Path(sys.argv[0]).name}} {{' '.join(sys.argv[1:])}}\\n{{steps}}\\n")
if os.environ.get('HGQ_CSYNTH') == '1':
    out = pathlib.Path(name) / 'solution1' / 'syn' / 'report'
    out.mkdir(parents=True, exist_ok=True)
    xml = pathlib.Path({str(REPORT)!r}).read_text()
    xml = xml.replace('xcvu9p-flga2104-2L-e', os.environ.get('HGQ_PART', 'xcvu9p-flga2104-2L-e'))
    (out / f'{{top}}_csynth.xml').write_text(xml.replace('myproject', top))
    (out / f'{{top}}_csynth.rpt').write_text(f"== Vitis HLS Report for '{{top}}'\\n* Part: {{os.environ.get('HGQ_PART', 'default')}}\\n")
print("fake HLS log line")
"""


@pytest.fixture
def project(tmp_path):
    prj = tmp_path / "prj"
    prj.mkdir()
    (prj / "build_prj.tcl").write_text(render("hls/build_prj.tcl.j2", name="myproject", top="myproject",
                                              board=load_board("vu9p"), clock_period_ns=5.0))
    return prj


@pytest.fixture
def fake_vitis(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "vitis_hls"
    tool.write_text(FAKE_TOOL)
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_HLS_LOG", str(tmp_path / "calls.log"))
    return tmp_path / "calls.log"


def test_tcl_names_the_part_and_clock(project):
    tcl = (project / "build_prj.tcl").read_text()
    assert "xcvu9p-flga2104-2L-e" in tcl and "HGQ_CLOCK_NS 5.0" in tcl
    assert "set_clock_uncertainty 12.5%" in tcl


def test_synth_runs_tool_and_writes_reports(project, fake_vitis):
    report = run_synthesis(project, board="vu13p")
    calls = fake_vitis.read_text()
    assert calls.startswith("vitis_hls -f build_prj.tcl")
    assert "HGQ_CSYNTH=1" in calls and "HGQ_COSIM=0" in calls and "HGQ_PART=xcvu13p-flga2577-2-e" in calls
    assert report.part == "xcvu13p-flga2577-2-e"
    assert report.resources["LUT"] == 23117
    assert report.latency_cycles_worst == 7
    assert not (project / "report.md").exists()  # the design's one report.md is report/report.md


def test_cli_without_tool_says_what_to_do(project, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no vitis_hls, no vivado_hls
    proc = subprocess.run([sys.executable, "-m", "hgq_fpga.backends.hls.synth", str(project), "--board", "vu9p"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "vitis_hls" in proc.stderr and "vivado_hls" in proc.stderr and "settings64.sh" in proc.stderr
    assert not (project / "report.json").exists()


def test_no_tool_raises_toolchain_error(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="vivado_hls"):
        run_synthesis(project)


def test_unknown_step_named(project, fake_vitis):
    with pytest.raises(ValueError, match="bitstream"):
        run_synthesis(project, steps=("bitstream",))


def test_generated_makefile_drives_synthesis(tmp_path, fake_vitis):
    """`make synth BOARD=...`, `make cosim` and `make report` in a written project."""
    import numpy as np

    from hgq_fpga.backends.hls.writer import write_project
    from hgq_fpga.ir import FirmwareBuilder

    b = FirmwareBuilder()
    x = b.input("x", (3,), k=1, i=1, f=2)
    fw = b.build([b.cast(b.dense(x, np.array([[1, 2], [3, 0], [0, -1]]), 1), 1, 2, 1, "RND", "SAT")])
    prj = write_project(fw, tmp_path / "prj", board="vu9p", name="trigger")
    make = ["make", "-s", "-C", str(prj.path)]
    out = subprocess.run([*make, "report"], capture_output=True, text=True)
    assert out.returncode != 0 and "Error: no synthesis report yet: run make synth" in out.stderr
    out = subprocess.run([*make, "synth", "BOARD=vu13p"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    calls = fake_vitis.read_text()
    assert "HGQ_CSYNTH=1" in calls and "HGQ_PART=xcvu13p-flga2577-2-e" in calls
    assert "fake HLS log line" in (prj.path / "trigger_prj" / "hls.log").read_text()
    out = subprocess.run([*make, "report"], capture_output=True, text=True)
    assert "Report for 'trigger'" in out.stdout and "xcvu13p-flga2577-2-e" in out.stdout
    out = subprocess.run([*make, "synth", "BOARD=nosuchboard"], capture_output=True, text=True)
    assert out.returncode != 0 and "Error: unknown board 'nosuchboard'" in out.stderr and "vu13p" in out.stderr
    out = subprocess.run([*make, "synth", "BOARD=XCVU13P"], capture_output=True, text=True)  # alias, any case
    assert out.returncode == 0, out.stderr
    subprocess.run([*make, "cosim"], capture_output=True, text=True, check=True)
    calls = fake_vitis.read_text()
    assert "HGQ_COSIM=1" in calls and "HGQ_PART" not in calls      # written board: no override


def test_unknown_board_is_named_before_looking_for_a_tool(project, tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # no HLS tool either: the board error comes first
    proc = subprocess.run([sys.executable, "-m", "hgq_fpga.backends.hls.synth", str(project),
                           "--board", "vu13x"], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "vu13x" in proc.stderr and "vitis_hls" not in proc.stderr


def test_failing_tool_names_its_log(project, fake_vitis):
    tool = Path(os.environ["PATH"].split(os.pathsep)[0]) / "vitis_hls"
    tool.write_text(f"#!{sys.executable}\nprint('ERROR: [HLS 200-70] out of licences')\nraise SystemExit(3)\n")
    with pytest.raises(RuntimeError, match=r"exit code 3; see its output in .*synth\.log"):
        run_synthesis(project)
    assert "out of licences" in (project / "synth.log").read_text()

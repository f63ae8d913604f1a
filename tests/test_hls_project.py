"""The generated HLS project: its files, its C++ text, `make csim`, and the writer's guarantees."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from hgq_fpga.backends.common.board import known_boards
from hgq_fpga.backends.hls.writer import write_project
from hgq_fpga.ir import FirmwareBuilder, load_firmware


def small_model(name_x="x", rnd="RND", ovf="SAT"):
    """Input with mixed per-element types, a pruned dense, per-element casts, ReLU."""
    b = FirmwareBuilder()
    x = b.input(name_x, (4,), k=1, i=[0, 1, 2, 2], f=[3, 2, 2, 0], round="RND", overflow="SAT")
    w = np.array([[3, 0, -5], [0, 0, 7], [12, -1, 0], [0, 4, 2]])
    h = b.dense(x, w, [[2, 0, 3], [0, 0, 1], [4, 1, 0], [0, 2, 2]], [1, 0, -3], 2, name="dense")
    h = b.cast(h, [1, 1, 0], [2, 1, 3], [2, 3, 1], rnd, ovf, name="act")
    return b.build([b.relu(h, name="out")])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return write_project(small_model(), tmp_path_factory.mktemp("w") / "prj", board="vu9p")


def test_project_layout(project):
    for rel in ("firmware/myproject.cpp", "firmware/myproject.h", "firmware/myproject_bridge.cpp",
                "tb/myproject_test.cpp", "tb/tb_data/tb_input.dat", "tb/tb_data/tb_output.dat",
                "build_prj.tcl", "Makefile", "README.md", "project.json"):
        assert (project.path / rel).is_file(), rel
    readme = (project.path / "README.md").read_text()
    for command in ("make csim", "make synth BOARD=vu9p", "make cosim", "make report"):
        assert command in readme
    assert not (project.path / "ir").exists()          # the IR is written once, by the design folder
    assert json.loads((project.path / "project.json").read_text())["top"] == "myproject"


def test_cpp_uses_per_element_ap_fixed_types(project):
    cpp = (project.path / "firmware/myproject.cpp").read_text()
    hdr = (project.path / "firmware/myproject.h").read_text()
    # input quantizer: one typedef per distinct element type, with the input's modes
    assert "typedef ap_fixed<4,1,AP_RND,AP_SAT> q_fx;" in hdr         # k=1 i=0 f=3
    assert "typedef ap_fixed<3,3,AP_RND,AP_SAT> q_fx;" in hdr         # k=1 i=2 f=0
    assert "typedef ap_fixed<6,3> x_t;" in hdr                           # container: k1 i2 f3
    # the cast: three distinct element types, one of them unsigned
    assert "typedef ap_fixed<5,3,AP_RND,AP_SAT> q_fx;" in cpp
    assert "typedef ap_fixed<5,2,AP_RND,AP_SAT> q_fx;" in cpp
    assert "typedef ap_ufixed<4,3,AP_RND,AP_SAT> q_fx;" in cpp
    assert re.search(r"out\[e( \+ \d+)?\] = \(q_fx\) in0\[e( \+ \d+)?\];", cpp)
    # weights: integer code table of the 7 nonzero weights only, loaded with setBits
    assert re.search(r"static const signed char code\[7\] = \{", cpp)
    assert "w.setBits(code[q]);" in cpp and "acc += in0[src[q]] * w;" in cpp
    # no hand-written rounding, no raw 64-bit element storage in what HLS reads (the integer
    # C-simulation block sits behind a macro HLS never defines)
    assert cpp.count("#ifdef HGQ_CSIM_INTEGER_MACS") == 1                  # one Dense
    hls_text = re.sub(r"#ifdef HGQ_CSIM_INTEGER_MACS\n.*?#else\n", "", cpp, flags=re.S)
    assert "HGQ_CSIM_INTEGER_MACS" not in hls_text
    assert "long long" not in hls_text and "hgq_cast" not in cpp
    # top function
    assert "void myproject(" in cpp and "#pragma HLS PIPELINE II=1" in cpp
    assert "#pragma HLS INTERFACE ap_vld port=x_in" in cpp
    assert "#pragma HLS ARRAY_PARTITION variable=x_in complete" in cpp
    assert "#pragma HLS ARRAY_PARTITION variable=dense complete" in cpp
    bridge = (project.path / "firmware/myproject_bridge.cpp").read_text()
    assert 'extern "C" void myproject_batch(' in bridge and "to_double()" in bridge
    assert "myproject_bridge" not in (project.path / "build_prj.tcl").read_text()


def test_make_csim_in_the_project_folder(project, tmp_path):
    prj = tmp_path / "copy"
    shutil.copytree(project.path, prj)
    run = subprocess.run(["make", "csim"], cwd=prj, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "32 samples, 0 mismatching outputs" in run.stdout
    # the testbench can fail: change one expected value
    data = prj / "tb/tb_data/tb_output.dat"
    rows = data.read_text().splitlines()
    first = rows[0].split()
    first[0] = repr(float(first[0]) + 0.125)
    data.write_text("\n".join([" ".join(first), *rows[1:]]) + "\n")
    run = subprocess.run(["make", "csim"], cwd=prj, capture_output=True, text=True)
    assert run.returncode != 0
    assert "1 mismatching outputs" in run.stdout and "sample 0, output 'out'[0]" in run.stdout


def test_make_csim_two_inputs_two_outputs(tmp_path):
    b = FirmwareBuilder()
    x = b.input("x", (3,), k=1, i=1, f=[1, 2, 3], round="RND_CONV", overflow="SAT_SYM")
    y = b.input("y", (2, 2), k=0, i=2, f=2, round="RND_INF", overflow="WRAP")
    h = b.dense(b.flatten(y), [[1, -2, 0], [0, 3, 1], [2, 0, 0], [-1, 1, 1]], 1)
    s = b.cast(b.add(h, x), 1, 2, 1, "RND", "SAT")
    fw = b.build([s, b.relu(b.cast(y, 1, 1, 1, "TRN", "SAT"))])
    prj = write_project(fw, tmp_path / "p", test_data=[np.linspace(-3, 3, 60).reshape(20, 3),
                                                      np.linspace(-5, 9, 80).reshape(20, 2, 2)])
    run = subprocess.run(["make", "csim"], cwd=prj.path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "20 samples, 0 mismatching outputs" in run.stdout


def test_tb_data_round_trips_exactly(project):
    x = np.loadtxt(project.path / "tb/tb_data/tb_input.dat")
    y = np.loadtxt(project.path / "tb/tb_data/tb_output.dat")
    assert np.array_equal(project.fw.predict(x), y)


@pytest.mark.parametrize("board", sorted(known_boards()))
def test_tcl_names_the_board_part(tmp_path, board):
    b = known_boards()[board]
    prj = write_project(small_model(), tmp_path / "p", board=board)
    tcl = (prj.path / "build_prj.tcl").read_text()
    assert f"set part  [hgq_env HGQ_PART {b.part}]" in tcl
    assert f"HGQ_CLOCK_NS {b.clock_period_ns}" in tcl
    assert f"({b.name}, part {b.part}, {b.clock_period_ns} ns)" in (prj.path / "Makefile").read_text()


def test_clock_override_and_ap_none(tmp_path):
    prj = write_project(small_model(), tmp_path / "p", board="pynq-z2", clock_period=7.5,
                        protocol="ap_none", name="trigger")
    assert "HGQ_CLOCK_NS 7.5" in (prj.path / "build_prj.tcl").read_text()
    assert "#pragma HLS INTERFACE ap_none port=x_in" in (prj.path / "firmware/trigger.cpp").read_text()


def test_missing_compiler_says_what_to_install(project, monkeypatch, tmp_path):
    from hgq_fpga.backends.hls.project import HLSProject
    from hgq_fpga.backends.common.toolchain import ToolchainError
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    fresh = HLSProject(project.fw, project.path, project.top, cache_dir=tmp_path / "cache")
    with pytest.raises(ToolchainError, match=r"g\+\+ not found.*apt-get install g\+\+"):
        fresh.compile()


def test_unknown_csim_build_is_named(project):
    with pytest.raises(ValueError, match=r"macs must be one of \['ap_fixed', 'integer'\], got 'fast'"):
        project.compile(macs="fast")


def test_existing_non_empty_dir_refused(tmp_path):
    d = tmp_path / "x"
    d.mkdir()
    (d / "keep").write_text("1")
    with pytest.raises(FileExistsError, match="not empty"):
        write_project(small_model(), d)
    assert os.listdir(d) == ["keep"]
    (d / "keep").unlink()
    assert write_project(small_model(), d).path == d           # an empty folder is fine


def test_replace_swaps_only_an_earlier_hgq_project(tmp_path):
    d = tmp_path / "p"
    write_project(small_model(), d)
    (d / "stale.txt").write_text("from the earlier run")                   # as if hgq_fpga had written it
    written = json.loads((d / ".hgq_fpga-files.json").read_text())
    (d / ".hgq_fpga-files.json").write_text(json.dumps(written + ["stale.txt"]))
    (d / "mine.txt").write_text("a user's file")
    with pytest.raises(FileExistsError, match="replace=True"):
        write_project(small_model(), d)
    with pytest.warns(UserWarning, match="kept 1 file.*mine.txt"):
        write_project(small_model(), d, replace=True)
    assert not (d / "stale.txt").exists() and (d / "build_prj.tcl").is_file()
    assert (d / "mine.txt").read_text() == "a user's file"
    assert sorted(os.listdir(tmp_path)) == ["p"]                # no staging folder left behind
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("do not touch")
    with pytest.raises(FileExistsError, match="not written by hgq_fpga"):
        write_project(small_model(), foreign, replace=True)
    assert os.listdir(foreign) == ["thesis.tex"]


def test_failure_leaves_no_partial_folder(tmp_path, monkeypatch):
    import hgq_fpga.backends.hls.writer as writer

    def boom(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(writer, "render", boom)
    with pytest.raises(RuntimeError, match="boom"):
        write_project(small_model(), tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_clear_errors_for_bad_names_and_wide_outputs(tmp_path):
    with pytest.raises(ValueError, match="name .my-project. cannot name the design: it must start with an ASCII letter"):
        write_project(small_model(), tmp_path / "a", name="my-project")
    b = FirmwareBuilder()
    x = b.input("x", (2,), k=1, i=20, f=30)
    fw = b.build([b.dense(x, [[1 << 20], [3]], 0)])
    with pytest.raises(ValueError, match="53 bits"):
        write_project(fw, tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_odd_tensor_names_compile_and_match(tmp_path):
    """Names that clash with C++ keywords, template locals and each other's derived names."""
    b = FirmwareBuilder()
    x = b.input("int", (3,), k=1, i=1, f=2)
    h = b.dense(x, [[1, 2], [0, 3], [4, 0]], 1, name="acc")
    h = b.cast(h, 1, 2, 1, "RND", "SAT", name="int_t")
    h2 = b.relu(h, name="layer 1/out")
    h3 = b.cast(h2, 0, 2, 0, "TRN", "WRAP", name="layer_1_out")
    fw = b.build([b.add(h2, h3, name="myproject")])
    prj = write_project(fw, tmp_path / "p", cache_dir=tmp_path / "c")
    x = np.random.default_rng(0).normal(0, 2, (200, 3))
    assert np.array_equal(prj.predict(x), fw.predict(x))

"""Issue 30's faults, each with a test that failed on the code before the fix: data files read exactly or
refused, files the user owns never replaced or deleted, numbers in flags and specs checked, and the
smaller ones (spaces in paths, case-differing names, quoted hints, hidden-file errors)."""

from __future__ import annotations

import json
import os
import subprocess
import warnings
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import yaml

from hgq_fpga.app.datafile import DataError, load_array
from hgq_fpga.folders import UserFilesKept, write_file
from test_cli import error_line, files, run  # noqa: F401  (files is a fixture)
from test_sweep import BASE, project  # noqa: F401  (project is a fixture)


# ----------------------------------------------------------------------------- data read exactly

def test_csv_header_is_a_row_without_numbers(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("1.2.3,2,3\n4,5,6\n")                       # was taken as a header: one row lost
    with pytest.raises(DataError, match=r"bad.csv line 1, column 1: '1.2.3' is not a number"):
        load_array(bad)
    good = tmp_path / "good.csv"
    good.write_text("a,b,c\n4,5,6\n7,8,9\n")
    assert load_array(good).tolist() == [[4, 5, 6], [7, 8, 9]]
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("x,2,3\n4,5,6\n")                        # a number in it: not a header
    with pytest.raises(DataError, match="line 1, column 1: 'x' is not a number"):
        load_array(mixed)
    huge = tmp_path / "huge.csv"
    huge.write_text("1,2\n9007199254740993,4\n")             # was read as ...992, as .npy integers were
    with pytest.raises(DataError, match=r"line 2, column 1: the integer 9007199254740993 is beyond float64"):
        load_array(huge)
    edge = tmp_path / "edge.csv"
    edge.write_text("9007199254740992,-9007199254740992\n")
    assert load_array(edge).tolist() == [[2.0 ** 53, -2.0 ** 53]]


@pytest.mark.parametrize("array, expected", [
    (np.ones((2, 2), np.complex128), "holds complex numbers"),
    (np.array([["a", "b"]]), "holds text"),
    (np.array([[np.datetime64("2026-01-01")]]), "not numbers"),
    (np.array([[2 ** 53 + 1, 0]], np.int64), "integers beyond 2\\*\\*53"),
    (np.array([[2 ** 63]], np.uint64), "integers beyond 2\\*\\*53"),
])
def test_data_float64_would_change_is_refused(tmp_path, array, expected):
    path = tmp_path / "x.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=expected):
        load_array(path)


def test_exact_dtypes_are_taken_as_they_are(tmp_path):
    for array in (np.array([[True, False]]), np.array([[0.5, -2]], np.float16),
                  np.array([[2 ** 53, -2 ** 53]], np.int64), np.array([[7, 200]], np.uint8)):
        np.save(tmp_path / "x.npy", array)
        assert np.array_equal(load_array(tmp_path / "x.npy"), array.astype(np.float64))


def test_python_api_refuses_complex_inputs():
    from hgq_fpga.ir.builder import FirmwareBuilder

    b = FirmwareBuilder()
    fw = b.build([b.input("x", (2,), 1, 2, 3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # numpy's ComplexWarning was the only sign
        with pytest.raises(ValueError, match="input 'x' holds complex numbers"):
            fw.predict(np.ones((3, 2), np.complex128))


@pytest.mark.parametrize("batch, expected", [
    (np.ma.array([[1.0, 2.0]], mask=[[0, 1]]), "masked array with masked values"),   # the mask was dropped
    (np.array([[np.longdouble(1) + np.longdouble(2) ** -60, 0]], np.longdouble), "float128 values that float64 would round"),
    (np.array([[Fraction(1, 3), 0]], dtype=object), r"holds a Fraction \(Fraction\(1, 3\)\)"),
    (np.array([[Decimal("0.1"), 0]], dtype=object), "holds a Decimal"),
    (np.array([[None, 0]]), "holds None"),
    (np.array([[2 ** 70, 0]], dtype=object), "integers beyond 2\\*\\*53"),
    ([[2 ** 53 + 1, 0]], "integers beyond 2\\*\\*53"),
])
def test_python_api_refuses_values_float64_would_change(batch, expected):
    """Variants of the complex-data fault: every other way a batch could silently change on its way to
    float64 is refused too."""
    from hgq_fpga.ir.builder import FirmwareBuilder

    b = FirmwareBuilder()
    fw = b.build([b.input("x", (2,), 1, 2, 3)])
    with pytest.raises(ValueError, match=f"input 'x' {'is a' if 'masked' in expected else ''}.*{expected}"):
        fw.predict(batch)


def test_narrow_float_and_object_numbers_are_taken_exactly():
    import ml_dtypes

    from hgq_fpga.ir.builder import FirmwareBuilder

    b = FirmwareBuilder()
    fw = b.build([b.input("x", (2,), 1, 4, 3)])
    want = fw.predict(np.array([[1.5, -2.25]]))
    for batch in (np.array([[1.5, -2.25]], ml_dtypes.bfloat16), np.array([[1.5, -2.25]], np.longdouble),
                  np.array([[np.float32(1.5), -2.25]], dtype=object), np.ma.array([[1.5, -2.25]])):
        assert np.array_equal(fw.predict(batch), want)


# -------------------------------------------------------------------------- files the user owns

def test_sweep_refuses_a_folder_that_is_not_a_sweep_folder(project, tmp_path):  # noqa: F811
    from hgq_fpga.app.sweep import SpecError, run_sweep

    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "front.json").write_text("my own")
    spec = project / "s.yaml"
    spec.write_text(yaml.safe_dump(BASE))
    with pytest.raises(SpecError, match="is not empty and is not a sweep folder"):
        run_sweep(spec, mine)
    assert (mine / "front.json").read_text() == "my own" and sorted(p.name for p in mine.iterdir()) == ["front.json"]


def test_files_are_written_with_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert oct(os.stat(write_file(tmp_path / "a.json", "{}")).st_mode & 0o777) == "0o644"
        os.umask(0o077)
        assert oct(os.stat(write_file(tmp_path / "b.json", "{}")).st_mode & 0o777) == "0o600"
    finally:
        os.umask(old)


def test_write_file_never_replaces_without_asking_and_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "pred.npy"
    target.write_text("mine")
    with pytest.raises(FileExistsError, match="pred.npy exists; pass --force"):
        write_file(target, "new", option="--force")
    assert target.read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["pred.npy"]
    import tempfile

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".pred.npy.x.partial.npy"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError, match=f"cannot write {tmp_path / 'other.npy'}: permission denied"):
        write_file(tmp_path / "other.npy", "x")


def test_emulate_and_junit_outputs_need_force_and_never_overwrite_the_data(files, tmp_path):  # noqa: F811
    out = files / "reliable"
    assert run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out).exit_code == 0
    data = tmp_path / "data.npy"
    np.save(data, np.load(files / "calib.npy")[:10])
    before = data.read_bytes()
    assert "is the input data file" in error_line(run("emulate", out, "--data", data, "--out", data, "--force"))
    assert data.read_bytes() == before
    pred = tmp_path / "pred.npy"
    assert run("emulate", out, "--data", data, "--out", pred).exit_code == 0
    assert "pred.npy exists; pass --force" in error_line(run("emulate", out, "--data", data, "--out", pred))
    assert run("emulate", out, "--data", data, "--out", pred, "--force").exit_code == 0
    folder = tmp_path / "folder.npy"
    folder.mkdir()
    assert "is a folder" in error_line(run("emulate", out, "--data", data, "--out", folder))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]        # no partial file left
    junit = tmp_path / "ci.xml"
    junit.write_text("my CI record")
    assert "--junit" in error_line(run("verify", out, "--data", data, "--junit", junit))
    assert junit.read_text() == "my CI record"
    assert run("verify", out, "--data", data, "--junit", junit, "--force").exit_code == 0
    assert junit.read_text().startswith("<?xml")


def test_replacing_a_design_keeps_the_users_files_and_says_so(files):  # noqa: F811
    out = files / "kept"
    args = ["convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out, "--backend", "hls,cpp"]
    assert run(*args).exit_code == 0
    (out / "hls" / "myproject_prj" / "solution1").mkdir(parents=True)
    (out / "hls" / "myproject_prj" / "solution1" / "vivado_hls.log").write_text("three hours of synthesis")
    (out / "cpp" / "BuildFile.xml").write_text("<library/>")
    (out / "report" / "notes.md").write_text("my notes")
    result = run(*args, "--force")
    assert result.exit_code == 0, result.output
    note = [line for line in result.output.splitlines() if line.startswith("Note: kept")]
    assert note == [f"Note: kept 3 file(s) that hgq_fpga did not write in {out}: cpp/BuildFile.xml, "
                    "hls/myproject_prj/solution1/vivado_hls.log, report/notes.md"]
    assert (out / "hls" / "myproject_prj" / "solution1" / "vivado_hls.log").read_text() == "three hours of synthesis"
    assert (out / "cpp" / "BuildFile.xml").read_text() == "<library/>"
    assert (out / "report" / "notes.md").read_text() == "my notes"
    # the report command and export-emulator keep them too
    assert run("report", out).exit_code == 0 and (out / "report" / "notes.md").read_text() == "my notes"
    emu = files / "kept_emu"
    assert run("export-emulator", out, "--out", emu).exit_code == 0
    (emu / "BuildFile.xml").write_text("<library/>")
    with pytest.warns(UserFilesKept, match="BuildFile.xml"):
        from hgq_fpga.backends.registry import get_backend
        from hgq_fpga.ir.model import load_firmware

        get_backend("cpp").write_project(load_firmware(out / "ir"), emu, replace=True)
    assert (emu / "BuildFile.xml").read_text() == "<library/>"


# --------------------------------------------------------------------------- numbers and names

def test_clock_must_be_finite(files):  # noqa: F811
    for value in ("inf", "nan", "0", "-5"):
        line = error_line(run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out",
                              files / "clock", "--clock", value))
        assert "--clock must be a positive, finite clock period in ns" in line
    assert not (files / "clock").exists()


@pytest.mark.parametrize("change, message", [
    ({"beta": [1e-7, float("inf")]}, r"beta: must be a finite number, got inf"),
    ({"tolerance": float("nan")}, r"tolerance: must be a finite number, got nan"),
    ({"learning_rate": float("nan")}, r"learning_rate: must be a finite number"),
    ({"architecture": "tinymodels:mpl"}, r"architecture: 'tinymodels:mpl': module 'tinymodels' defines no 'mpl' "
                                         r"\(did you mean 'mlp'\?\)"),
    ({"architecture": "tinymodel:mlp"}, r"architecture: 'tinymodel:mlp': no module 'tinymodel'"),
    ({"callbacks": ["tinymodels:slo"]}, r"callbacks: 'tinymodels:slo': module 'tinymodels' defines no 'slo'"),
])
def test_spec_numbers_and_entry_points_are_checked_up_front(project, change, message):  # noqa: F811
    from hgq_fpga.app.sweep import SpecError, parse

    with pytest.raises(SpecError, match=message):
        parse({**BASE, **change}, project, "sweep.yaml")


# ------------------------------------------------------------------------------ smaller faults

def _tiny_firmware():
    from hgq_fpga.ir.builder import FirmwareBuilder

    b = FirmwareBuilder()
    x = b.input("x", (3,), 1, 2, 3)
    acc = b.dense(x, np.array([[1, 2], [3, -1], [0, 2]]), np.zeros((3, 2), np.int64), np.array([1, 0]),
                  np.zeros(2, np.int64))
    return b.build([b.cast(acc, 1, 4, 2)])


def test_rtl_make_sim_in_a_folder_with_a_space(tmp_path):
    from hgq_fpga.backends.registry import get_backend

    project = get_backend("rtl").write_project(_tiny_firmware(), tmp_path / "my designs" / "rtl")
    done = subprocess.run(["make", "sim"], cwd=project.path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "RTL simulation = emulator on all" in done.stdout


def test_emulators_whose_names_differ_in_case_link_together(tmp_path):
    from hgq_fpga.backends.common.toolchain import find_compiler
    from hgq_fpga.backends.registry import get_backend

    fw = _tiny_firmware()
    cpp = get_backend("cpp")
    for name in ("Net", "net"):
        cpp.write_project(fw, tmp_path / name, name=name)
    main = tmp_path / "both.c"
    main.write_text('#include "Net.h"\n#include "net.h"\nint main(void) { return Net_N_INPUTS + net_N_INPUTS - 2; }\n')
    done = subprocess.run([find_compiler(), "-x", "c++", "-I", str(tmp_path / "Net" / "include"), "-I",
                           str(tmp_path / "net" / "include"), str(main), "-o", str(tmp_path / "both")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert subprocess.run([str(tmp_path / "both")]).returncode == 0


def test_next_command_is_quoted(tmp_path):
    from hgq_fpga.app.design import next_command

    run_record = {"board": {"name": "vu9p"}, "backends": {"hls": {"path": "hls"}, "rtl": {"path": "rtl"}}}
    assert next_command(tmp_path / "my design", run_record) == \
        f"cd '{tmp_path / 'my design' / 'rtl'}' && make synth BOARD=vu9p"


def test_corrupt_model_in_a_design_is_named(files):  # noqa: F811
    out = files / "reliable"
    if not out.exists():
        assert run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out).exit_code == 0
    (out / "model.keras").write_bytes(b"garbage")
    line = error_line(run("verify", out, "--data", files / "calib.npy"))
    assert "model.keras" in line and "File not found" not in line
    manifest = json.loads((out / "hgq_fpga.json").read_text())
    assert manifest["format"] == "hgq_fpga.design"

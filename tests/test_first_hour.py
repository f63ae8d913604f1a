"""What a new user meets in the first hour (issue 20): portable projects, documented commands that
work as written, the demo's held-out data, latency in ns, reports and small things."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.backends.hls.writer import write_project
from hgq_fpga.ir import FirmwareBuilder

REPO = Path(__file__).resolve().parents[1]


def tiny_firmware():
    b = FirmwareBuilder()
    x = b.input("x", (3,), k=1, i=1, f=2)
    return b.build([b.cast(b.dense(x, np.array([[1, 2], [3, 0], [0, -1]]), 1), 1, 2, 1, "RND", "SAT")])


def machine_paths(tmp: Path) -> list[str]:
    """Absolute paths of the writing machine that must not appear in a generated folder."""
    paths = {str(tmp), str(tmp.resolve()), sys.prefix, sys.exec_prefix, str(Path(sys.executable).parent),
             str(REPO), str(Path.home())}
    return sorted(p for p in paths if len(p) > 1)


def grep_paths(folder: Path, paths: list[str]) -> list[str]:
    hits = []
    for f in folder.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            hits += [f"{f.relative_to(folder)}: {p}" for p in paths if p.encode() in data]
    return hits


@pytest.mark.skipif(shutil.which("g++") is None or shutil.which("make") is None, reason="needs g++ and make")
def test_project_is_portable_and_csim_runs_elsewhere_without_python(tmp_path):
    written = tmp_path / "writer"
    prj = write_project(tiny_firmware(), written / "prj", board="vu9p", name="trigger")
    assert grep_paths(prj.path, machine_paths(written)) == []
    assert (prj.path / "ap_types" / "ap_fixed.h").is_file()
    assert "Apache License" in (prj.path / "ap_types" / "LICENSE").read_text()
    elsewhere = tmp_path / "server" / "copy"
    shutil.copytree(prj.path, elsewhere)
    shutil.rmtree(written)  # nothing of the writer's folder may be needed
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(["make", "-s", "csim"], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 mismatch" in out.stdout.lower() or "pass" in out.stdout.lower(), out.stdout


def test_makefile_names_no_python_and_knows_every_board(tmp_path):
    from hgq_fpga.backends.common.board import known_boards

    text = (write_project(tiny_firmware(), tmp_path / "p", board="vu9p").path / "Makefile").read_text()
    assert "PYTHON" not in text and "-m hgq_fpga" not in text
    for board in known_boards().values():
        assert f"BOARD_PART_{board.name.lower()} := {board.part}" in text

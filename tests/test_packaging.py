"""A non-editable install carries the templates and board files, not only a source checkout."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_boards_and_templates(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(ROOT)], check=True)
    (wheel,) = (tmp_path / "dist").glob("hgq_fpga-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (ROOT / "hgq_fpga").rglob("*.py"):
        if "__pycache__" not in module.parts:
            assert module.relative_to(ROOT).as_posix() in names, f"{module} missing from the wheel"
    for board in (ROOT / "boards").glob("*.yaml"):
        assert f"hgq_fpga/boards/{board.name}" in names
    for template in (ROOT / "templates").rglob("*"):
        if template.is_file() and "__pycache__" not in template.parts:
            assert f"hgq_fpga/templates/{template.relative_to(ROOT / 'templates').as_posix()}" in names

    # Unpacked on its own (no source tree on the path), the package still finds its boards.
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    probe = ("import hgq_fpga.backends.common.board as b, pathlib; "
             "assert str(pathlib.Path(b.__file__).resolve()).startswith(%r); "
             "print(b.load_board('vu9p').part)" % str(target.resolve()))
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "xcvu9p-flga2104-2L-e"

    # ... and the RTL writer renders its templates from the wheel (no fallback to a source tree)
    probe = ("import pathlib; from hgq_fpga.backends.rtl import writer; from hgq_fpga.ir import FirmwareBuilder; "
             "from hgq_fpga.backends.common.templates import environment; "
             "root = environment().loader.searchpath[0]; assert root.startswith(%r), root; "
             "b = FirmwareBuilder(); x = b.input('x', (2,), k=1, i=2, f=1); "
             "p = writer.write_project(b.build([b.relu(x)]), 'rtl_prj'); "
             "print((p.path / 'Makefile').is_file() and (p.path / 'sim' / 'tb.cpp').is_file())"
             % str(target.resolve()))
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {probe}"],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"

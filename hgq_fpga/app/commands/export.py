"""``hgq-fpga export-emulator``: the C++ emulator library (backend ``cpp``) of a design folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export-emulator")
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, metavar="EMU", type=click.Path(path_type=Path),
              help="Folder to create for the C++ library.")
@click.option("--name", default=None, help="C prefix of the API, NAME_predict [default: the design's name].")
@click.option("--force", is_flag=True, help="Replace EMU if it holds an earlier export.")
def export_emulator(design: Path, out: Path, name: str | None, force: bool) -> None:
    """Write a self-contained, bit-exact C++17 emulator library of DIR into EMU.

    DIR is a design folder (or a firmware IR folder). EMU holds the C API header, the firmware
    C++, the ap_types headers, a CMakeLists.txt, a Makefile and a test: `cd EMU && make test`.
    """
    from hgq_fpga.backends.registry import get_backend
    from hgq_fpga.checks.design_folder import is_design_folder, open_design
    from hgq_fpga.ir.model import load_firmware

    if is_design_folder(design):
        found = open_design(design)
        fw, name = found.firmware(), name or found.name
    elif (design / "model.json").is_file():
        fw = load_firmware(design)
    else:
        raise click.ClickException(f"{design} is not a design folder (hgq-fpga convert) or a firmware IR folder")
    project = get_backend("cpp").write_project(fw, out, name=name or "myproject", replace=force)
    click.echo(f"wrote the C++ emulator library of {design} to {project.path}; build and test it with "
               f"`make -C {project.path} test`")

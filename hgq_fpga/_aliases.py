"""Module paths of earlier hgq_fpga versions, before the package was arranged by layer.

``import hgq_fpga.layers``, ``from hgq_fpga.hls.writer import write_project`` and the like keep
working: each old path is the *same module object* as its new home (no second copy whose classes
would differ), and ``python -m`` on an old path runs the new module.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

#: old module path -> where it lives now (a prefix maps its submodules too)
MOVED = {
    "hgq_fpga.layers": "hgq_fpga.nn.layers",
    "hgq_fpga.quantizer": "hgq_fpga.nn.quantizers.hgq",
    "hgq_fpga.calibration": "hgq_fpga.nn.calibration",
    "hgq_fpga.cost": "hgq_fpga.nn.ebops",
    "hgq_fpga.callbacks": "hgq_fpga.nn.callbacks",
    "hgq_fpga.recipe": "hgq_fpga.nn.recipe",
    "hgq_fpga.convert": "hgq_fpga.nn.freeze",
    "hgq_fpga.ir.casting": "hgq_fpga.ir.emulator.casting",
    "hgq_fpga.ir.kernels": "hgq_fpga.ir.emulator.kernels",
    "hgq_fpga.ir.linear": "hgq_fpga.ir.emulator.linear",
    "hgq_fpga.board": "hgq_fpga.backends.common.board",
    "hgq_fpga.toolchain": "hgq_fpga.backends.common.toolchain",
    "hgq_fpga.cxx_build": "hgq_fpga.backends.common.cxx_build",
    "hgq_fpga.hls": "hgq_fpga.backends.hls",
    "hgq_fpga.cli": "hgq_fpga.app.cli",
    "hgq_fpga.deploy": "hgq_fpga.app.design",
    "hgq_fpga.demo": "hgq_fpga.app.demo",
    "hgq_fpga.datafile": "hgq_fpga.app.datafile",
    "hgq_fpga.report": "hgq_fpga.app.report",
    "hgq_fpga.report.pareto": "hgq_fpga.pareto",
}


def new_name(name: str) -> str | None:
    """The current path of module ``name`` if it is an old one, else None."""
    for old, new in sorted(MOVED.items(), key=lambda item: -len(item[0])):
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return None


class _AliasLoader(importlib.abc.Loader):
    """Loads an old path as the already imported module of its new path."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        return None

    def get_code(self, fullname: str):
        """For ``python -m OLD.PATH``: the code of the new module."""
        return importlib.util.find_spec(self.target).loader.get_code(self.target)


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        new = new_name(name)
        if new is None:
            return None
        real = importlib.util.find_spec(new)
        if real is None:
            return None
        return importlib.util.spec_from_loader(
            name, _AliasLoader(new), is_package=real.submodule_search_locations is not None)


def install() -> None:
    """Put the alias finder first on ``sys.meta_path`` (once), ahead of the path-based finder, so
    that an old path never loads a second copy of a module."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())

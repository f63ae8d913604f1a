"""The C++ emulator library as a backend (:mod:`hgq_fpga.backends.registry`): ``cpp``.

Its project is the exported library folder (:func:`~hgq_fpga.backends.emulator.export.export_emulator`);
``compile`` runs the folder's own Makefile and ``predict`` calls the built library, so a
verification checks exactly what a user links into their software.
"""

from __future__ import annotations

import json
from pathlib import Path

from hgq_fpga.backends.emulator.export import MANIFEST, export_emulator
from hgq_fpga.backends.emulator.library import EmulatorLibrary, build


class EmulatorProject:
    """An exported emulator library folder, built and called from Python."""

    #: how a verification names this implementation
    name = "C++ library"

    def __init__(self, fw, path: str | Path) -> None:
        self.fw = fw
        self.path = Path(path)
        self.info = json.loads((self.path / MANIFEST).read_text())
        self._library: EmulatorLibrary | None = None

    def compile(self) -> Path:
        """``make`` in the folder (the static and shared library); returns the build folder."""
        built = build(self.path)
        self._library = EmulatorLibrary(self.path)
        return built

    def predict(self, x):
        if self._library is None:
            self.compile()
        return self._library.predict(x)

    def synth(self, board: str | None = None) -> dict:
        raise NotImplementedError("the C++ emulator library is software: it has no synthesis")

    def report(self) -> dict | None:
        return None


class CppBackend:
    """A self-contained C++17 emulator library (C API, CMake and make), for software outside Python."""

    name = "cpp"
    description = "standalone C++17 emulator library (C API), built with make"
    synth_in_design = False

    def write_project(self, fw, out_dir: str | Path, *, name: str = "myproject", test_data=None,
                      replace: bool = False, board=None, clock_period=None) -> EmulatorProject:
        """The library of ``fw`` in ``out_dir``; ``board`` and ``clock_period`` do not apply to software."""
        return EmulatorProject(fw, export_emulator(fw, out_dir, name=name, test_data=test_data, replace=replace))

    def open_project(self, fw, path: str | Path) -> EmulatorProject:
        return EmulatorProject(fw, path)

    def require_tools(self, synth: bool = False) -> None:
        from hgq_fpga.backends.common.toolchain import find_ap_types_include, find_compiler

        find_compiler()
        find_ap_types_include()


BACKEND = CppBackend()

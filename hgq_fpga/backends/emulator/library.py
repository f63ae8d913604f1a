"""Build an exported emulator folder and call its C API from Python (ctypes).

For checking an export against :meth:`hgq_fpga.ir.FirmwareModel.predict` and for timing it; the
library itself needs no Python.  :func:`build` runs the folder's own ``Makefile`` (so what is
tested is what a user builds), :class:`EmulatorLibrary` binds ``NAME_predict`` and
``NAME_predict_raw`` of the built shared library.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from hgq_fpga.backends.emulator.export import MANIFEST
from hgq_fpga.backends.common.cxx_build import CompileError
from hgq_fpga.backends.common.toolchain import find_compiler
from hgq_fpga.ir.model import by_input_name


def read_manifest(folder: str | Path) -> dict:
    """The ``hgq_emulator.json`` of an exported folder."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not an emulator folder written by export_emulator "
                                f"(no {MANIFEST})")
    return json.loads(path.read_text())


def build(folder: str | Path, target: str = "all", cxxflags: str = "-O2",
          build_dir: str | Path = "build", extra: Sequence[str] = ()) -> Path:
    """``make TARGET`` in ``folder``; returns the build folder.  ``CompileError`` on failure,
    with make's output."""
    if shutil.which("make") is None:
        raise CompileError("make not found on PATH: install it with `apt-get install make`")
    cmd = ["make", "-C", str(folder), target, f"CXX={find_compiler()}", f"CXXFLAGS={cxxflags}",
           f"BUILD={build_dir}", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompileError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                           f"{proc.stderr[-3000:]}")
    return Path(folder) / build_dir


class EmulatorLibrary:
    """The shared library ``library`` of the exported emulator in ``folder``."""

    def __init__(self, folder: str | Path, library: str | Path | None = None) -> None:
        self.folder = Path(folder)
        self.manifest = read_manifest(folder)
        name = self.manifest["name"]
        lib_path = Path(library) if library is not None else self.folder / "build" / f"lib{name}.so"
        self._lib = ctypes.CDLL(str(lib_path.resolve()))
        ports = len(self.manifest["inputs"]) + len(self.manifest["outputs"])
        self._predict = getattr(self._lib, f"{name}_predict")
        self._predict.argtypes = [ctypes.c_void_p] * ports + [ctypes.c_size_t]
        self._predict.restype = None
        self._raw = getattr(self._lib, f"{name}_predict_raw")
        self._raw.argtypes = [ctypes.c_void_p] * ports + [ctypes.c_size_t]
        self._raw.restype = ctypes.c_size_t

    def _arrays(self, x) -> list:
        """``x`` as one array per input: an array, a list in input order, or a dict by name."""
        specs = self.manifest["inputs"]
        if isinstance(x, Mapping):
            return by_input_name(x, [(s["name"], s.get("source", "")) for s in specs])
        listed = isinstance(x, (list, tuple)) and (len(specs) > 1 or (len(x) == 1 and np.ndim(x[0]) > 1))
        xs = list(x) if listed else [x]
        if len(xs) != len(specs):
            raise ValueError(f"the emulator has {len(specs)} inputs, got {len(xs)} arrays")
        return xs

    def _call(self, fn, x, dtype) -> tuple[list[np.ndarray], int]:
        xs = [np.ascontiguousarray(a, dtype=dtype) for a in self._arrays(x)]
        n = len(xs[0])
        for a, s in zip(xs, self.manifest["inputs"]):
            if a.shape != (n, *s["shape"]):
                raise ValueError(f"input {s['name']!r}: expected shape (n, {s['shape']}), got {a.shape}")
        ys = [np.empty((n, *o["shape"]), np.float64) for o in self.manifest["outputs"]]
        bad = fn(*(a.ctypes.data for a in xs), *(y.ctypes.data for y in ys), n)
        return ys, int(bad or 0)

    def predict(self, x) -> np.ndarray | list[np.ndarray]:
        """``NAME_predict`` on double inputs, taken and returned as ``FirmwareModel.predict``
        does (one array, or a list/dict for several inputs; a list for several outputs)."""
        ys = self._call(self._predict, x, np.float64)[0]
        return ys[0] if len(ys) == 1 else ys

    def predict_raw(self, codes) -> tuple[np.ndarray | list[np.ndarray], int]:
        """``NAME_predict_raw`` on integer input codes: the outputs and the out-of-range count."""
        ys, bad = self._call(self._raw, codes, np.int64)
        return (ys[0] if len(ys) == 1 else ys), bad

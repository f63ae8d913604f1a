"""Compile C++ that uses ``ap_fixed`` into an executable or a shared library, with a build cache.

Every C++ check in the project (the fixed-point proof, the C simulation of generated firmware) goes
through here, so that the compiler, the ``ap_types`` include path, the flags and the error messages are
decided in one place. Builds are cached by a hash of the sources and flags: a second compile of the
same firmware costs nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

from hgq_fpga.backends.common.toolchain import ToolchainError, find_ap_types_include, find_compiler

DEFAULT_FLAGS = ("-O1", "-std=c++14", "-w")


class CompileError(RuntimeError):
    """g++ rejected the code; the message holds the command and the first compiler errors."""


def default_cache_dir() -> Path:
    """Where compiled artefacts are kept: ``$HGQ_FPGA_CACHE`` or ``~/.cache/hgq_fpga``."""
    return Path(os.environ.get("HGQ_FPGA_CACHE", Path.home() / ".cache" / "hgq_fpga"))


def _digest(files: Sequence[Path], flags: Sequence[str], kind: str, compiler: str) -> str:
    h = hashlib.sha256()
    for part in (kind, compiler, *flags):
        h.update(part.encode() + b"\0")
    for src in files:
        h.update(Path(src).name.encode() + b"\0" + Path(src).read_bytes() + b"\0")
    return h.hexdigest()[:20]


def _compile_one(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = "\n".join(proc.stderr.strip().splitlines()[:30])
        raise CompileError(f"compilation failed ({' '.join(cmd)}):\n{errors}")


def compile_cpp(sources: Sequence[str | Path], *, kind: str = "shared",
                flags: Sequence[str] = DEFAULT_FLAGS, include_dirs: Sequence[str | Path] = (),
                cache_dir: str | Path | None = None, jobs: int | None = None,
                depends: Sequence[str | Path] = ()) -> Path:
    """Compile ``sources`` against the ``ap_types`` headers and return the built file.

    ``kind`` is ``"shared"`` (a ``.so`` for ctypes) or ``"executable"``. Each source file is compiled
    on its own (in parallel, ``jobs`` at a time, default the CPU count) and then linked, so that
    generated code split over several files builds on every core.  ``depends`` lists further
    files (included headers and sources) whose content must be part of the cache key.
    """
    if kind not in ("shared", "executable"):
        raise ValueError(f"kind must be 'shared' or 'executable', got {kind!r}")
    sources = [Path(s) for s in sources]
    depends = [Path(d) for d in depends]
    missing = [str(s) for s in [*sources, *depends] if not s.is_file()]
    if missing:
        raise FileNotFoundError(f"C++ source(s) not found: {', '.join(missing)}")
    compiler = find_compiler()
    includes = [f"-I{find_ap_types_include()}", *(f"-I{d}" for d in include_dirs)]
    pic = ["-fPIC"] if kind == "shared" else []
    key = _digest([*sources, *depends], [*flags, *includes], kind, compiler)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache / f"{key}{'.so' if kind == 'shared' else '.bin'}"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        objects = [Path(work) / f"{n}.o" for n in range(len(sources))]
        commands = [[compiler, *flags, *pic, *includes, "-c", str(src), "-o", str(obj)]
                    for src, obj in zip(sources, objects)]
        _run_parallel(commands, jobs or os.cpu_count() or 1)
        link = [compiler, *flags, *pic, *(["-shared"] if kind == "shared" else []),
                *map(str, objects), "-o", str(Path(work) / "out")]
        _compile_one(link)
        os.replace(Path(work) / "out", target)  # atomic: a cached file is always complete
    return target


def _run_parallel(commands: list[list[str]], jobs: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for future in [pool.submit(_compile_one, cmd) for cmd in commands]:
            future.result()


def clear_cache(cache_dir: str | Path | None = None) -> None:
    """Delete every cached build."""
    shutil.rmtree(Path(cache_dir) if cache_dir is not None else default_cache_dir(), ignore_errors=True)


__all__ = ["CompileError", "ToolchainError", "compile_cpp", "clear_cache", "default_cache_dir"]

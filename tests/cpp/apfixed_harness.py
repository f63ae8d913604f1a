"""Build and run the ``ap_fixed`` reference casts that ``tests/test_fixed_vs_apfixed.py`` compares with.

A *case* is one target type ``ap_[u]fixed<W, I, Q, O>`` and a cast kind: ``"double"`` casts a double
to it, ``"fixed"`` casts an exact ``ap_fixed<50, 25>`` to it. Each case becomes one template
instantiation in a generated table; the table is split into translation units compiled in parallel,
and every object file and the linked program are cached under the temp dir by a hash of their
source, so repeated runs only pay for the program run. Data travels as binary files (doubles in,
raw bits as uint64 out), and the whole table runs in one process.

Compile time is the cost that matters: one instantiation takes about 25 ms of g++ at ``-O0`` and
parsing the headers about 1.7 s per translation unit, so there are only as many units as cores
(capped in size).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hgq_fpga.backends.common.toolchain import find_ap_types_include, find_compiler

HERE = Path(__file__).resolve().parent
#: Source type of the ``"fixed"`` cases, as in ``cast_kernels.h``.
SRC_W, SRC_I = 50, 25
SRC_F = SRC_W - SRC_I
#: -O0 and no unwind tables: the fastest compile (the run itself takes well under a second).
CXXFLAGS = ("-std=c++17", "-O0", "-fno-exceptions", "-fno-asynchronous-unwind-tables", "-w")
#: Most instantiations per translation unit, which bounds g++'s memory on the full grid.
MAX_CASES_PER_UNIT = 1000


@dataclass(frozen=True)
class Case:
    """One target type and cast kind (``"double"`` or ``"fixed"``)."""

    kind: str
    signed: bool
    W: int
    I: int
    Q: str
    O: str

    @property
    def kif(self) -> tuple[int, int, int]:
        """The ``(k, i, f)`` triple of the target type."""
        k = int(self.signed)
        return k, self.I - k, self.W - self.I

    def decode(self, bits: np.ndarray) -> np.ndarray:
        """Values of the raw bits the program wrote for this case (the low ``W`` bits)."""
        mask = np.uint64((1 << self.W) - 1)
        code = (bits & mask).astype(np.int64)
        if self.signed:
            code = np.where(code >= 1 << (self.W - 1), code - (1 << self.W), code)
        return np.ldexp(code.astype(np.float64), -self.kif[2])

    def cpp_call(self) -> str:
        fn = "from_double" if self.kind == "double" else "from_fixed"
        sign = "true" if self.signed else "false"
        return f"{fn}<{self.W}, {self.I}, {sign}, AP_{self.Q}, AP_{self.O}>"


def _cache_dir() -> Path:
    path = Path(tempfile.gettempdir()) / "hgq_fpga_apfixed_cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def _compile(cxx: str, include: Path, source: str, cwd: Path, out: Path, link: bool = False,
             objects: tuple[Path, ...] = ()) -> None:
    """Compile ``source`` (or link ``objects``) into ``out`` atomically; raise with g++'s output."""
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    if link:
        cmd = [cxx, *map(str, objects), "-o", str(tmp)]
    else:
        src = out.with_name(f"{out.name}.{os.getpid()}.cpp")
        src.write_text(source)
        cmd = [cxx, *CXXFLAGS, f"-I{include}", f"-I{HERE}", "-c", str(src), "-o", str(tmp)]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if not link:
        src.unlink(missing_ok=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"compilation failed: {' '.join(cmd)}\n{proc.stderr[-4000:]}")
    os.replace(tmp, out)


def build(cases: list[Case]) -> Path:
    """Return the path of a program running ``cases`` in order (built, or taken from the cache).

    Raises :class:`hgq_fpga.backends.common.toolchain.ToolchainError` when g++ or the headers are missing.
    """
    cxx = find_compiler()
    include = find_ap_types_include()
    cache = _cache_dir()
    kernels = (HERE / "cast_kernels.h").read_text()
    main_src = (HERE / "cast_main.cpp").read_text()
    salt = _digest(cxx, str(include), " ".join(CXXFLAGS), kernels)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    per_unit = max(1, min(MAX_CASES_PER_UNIT, -(-len(cases) // max(cores or 1, 1))))
    units: list[str] = []
    names: list[str] = []
    for start in range(0, len(cases), per_unit):
        chunk = cases[start:start + per_unit]
        body = "\n".join(f"  {c.cpp_call()}(in + {j} * n, out + {j} * n, n);"
                         for j, c in enumerate(chunk))
        name = f"run_unit_{_digest(salt, body)}"
        names.append(name)
        units.append('#include "cast_kernels.h"\n'
                     f"void {name}(const double* in, std::uint64_t* out, std::size_t n) {{\n{body}\n}}\n")
    decls = "".join(f"void {n}(const double*, std::uint64_t*, std::size_t);\n" for n in names)
    calls = "".join(f"  {n}(in + {per_unit * j} * n, out + {per_unit * j} * n, n);\n"
                    for j, n in enumerate(names))
    dispatch = (f"#include <cstddef>\n#include <cstdint>\n{decls}"
                f"extern const std::size_t n_types = {len(cases)};\n"
                f"void run_all(const double* in, std::uint64_t* out, std::size_t n) {{\n{calls}}}\n")
    sources = [main_src, dispatch, *units]
    objects = tuple(cache / f"{_digest(salt, s)}.o" for s in sources)
    exe = cache / f"cast_{_digest(salt, *(o.name for o in objects))}"
    if exe.exists():
        return exe
    todo = [(s, o) for s, o in zip(sources, objects) if not o.exists()]
    jobs = max(1, min(len(todo), cores or 1))
    with ThreadPoolExecutor(jobs) as pool:
        for fut in [pool.submit(_compile, cxx, include, s, cache, o) for s, o in todo]:
            fut.result()
    _compile(cxx, include, "", cache, exe, link=True, objects=objects)
    return exe


def run(exe: Path, inputs: np.ndarray) -> np.ndarray:
    """Run the program on ``inputs`` of shape ``(n_cases, per_case)``; return the raw bits."""
    inputs = np.ascontiguousarray(inputs, dtype=np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        inputs.tofile(src)
        proc = subprocess.run([str(exe), str(src), str(dst), str(inputs.shape[1])],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"{exe} failed ({proc.returncode}): {proc.stderr}")
        return np.fromfile(dst, dtype=np.uint64).reshape(inputs.shape)

"""A written HLS project, and its C simulation from Python.

``compile()`` builds the very C++ that HLS synthesises, plus the batch bridge, into a shared
library (cached by content hash); ``predict(x)`` passes a whole batch of doubles to it in one C
call.  Inputs are quantized inside C++ by ``ap_fixed`` itself, so the C simulation checks the
input quantization too.

Two builds of the same sources, chosen by ``macs``:

* ``"ap_fixed"``: exactly the text HLS synthesises (and what ``make csim`` and Vitis csim run).
* ``"integer"`` (the default): the Dense/Conv multiply-accumulates run on 64-bit integer codes
  (``-DHGQ_CSIM_INTEGER_MACS``; the block sits next to the ``ap_fixed`` loop in the firmware
  file, and HLS never sees it); every cast, activation, table, pooling and the input
  quantization stay ``ap_fixed``.  The sums are exact in both builds, so the outputs are equal
  bit for bit (the test suite compares both builds with the emulator); the integer build runs
  several times faster, because ``ap_fixed`` arithmetic in software goes through ``volatile``
  members of ``ap_private`` (about 10 ns per operation).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from hgq_fpga.backends.common.cxx_build import compile_cpp

#: Flags of the C-simulation library: -O1 compiles about twice as fast as -O2 on this code and
#: runs as fast (ap_fixed arithmetic in C simulation is bound by ap_private's volatile accesses).
CSIM_FLAGS = ("-O1", "-std=c++14", "-w", "-pthread")

#: ``macs`` choices of :meth:`HLSProject.compile` and the g++ flags each adds
MAC_BUILDS = {"integer": ("-DHGQ_CSIM_INTEGER_MACS",), "ap_fixed": ()}

#: the project's record of itself: top, board, clock (see :func:`~hgq_fpga.backends.hls.writer.write_project`)
PROJECT_FILE = "project.json"

#: System headers that the generated bridge includes.
BRIDGE_SYSTEM_HEADERS = ("thread", "vector")


def default_threads() -> int:
    """Threads of a C-simulation batch: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                                  # not on Linux
        return max(1, os.cpu_count() or 1)


class HLSProject:
    """The HLS project folder ``path`` of firmware ``fw``, with top function ``top``.

    ``macs`` picks the build :meth:`compile` makes by default (see the module doc): ``"integer"``
    (fast) or ``"ap_fixed"`` (exactly the text HLS synthesises, as design folders verify it).
    """

    #: how a verification names this implementation
    name = "C++"

    def __init__(self, fw, path: str | Path, top: str | None = None, cache_dir: str | Path | None = None,
                 macs: str = "integer") -> None:
        if macs not in MAC_BUILDS:
            raise ValueError(f"macs must be one of {sorted(MAC_BUILDS)}, got {macs!r}")
        self.fw = fw
        self.path = Path(path)
        info = self.path / PROJECT_FILE
        self.info = json.loads(info.read_text()) if info.is_file() else {"top": top}
        self.top = top or self.info["top"]
        self.cache_dir = cache_dir
        self.macs = macs
        self._lib = self._fn = None

    @property
    def sources(self) -> list[Path]:
        """The C++ compiled for the C simulation: the firmware and the batch bridge."""
        fw_dir = self.path / "firmware"
        return [fw_dir / f"{self.top}.cpp", fw_dir / f"{self.top}_bridge.cpp"]

    @property
    def header(self) -> Path:
        return self.path / "firmware" / f"{self.top}.h"

    def compile(self, cache_dir: str | Path | None = None, flags: Sequence[str] = CSIM_FLAGS,
                macs: str | None = None) -> Path:
        """Build (or fetch from the cache) the C-simulation library; returns its path.

        ``macs`` (default: the project's): ``"ap_fixed"`` builds exactly what HLS synthesises;
        ``"integer"`` (several times faster) does the multiply-accumulates on integer codes.
        """
        return compile_projects([self], cache_dir=cache_dir if cache_dir is not None
                                else self.cache_dir, flags=flags, macs=macs or self.macs)

    def bind(self, library: str | Path) -> None:
        """Use the ``<top>_batch`` entry point of an already built library."""
        lib = ctypes.CDLL(str(library))
        fn = getattr(lib, f"{self.top}_batch")
        n_ports = len(self.fw.inputs) + len(self.fw.outputs)
        fn.argtypes = [ctypes.c_void_p] * n_ports + [ctypes.c_long, ctypes.c_int]
        fn.restype = None
        self._lib, self._fn = lib, fn

    def predict(self, x, threads: int | None = None) -> np.ndarray | list[np.ndarray]:
        """Outputs of the C simulation for a batch (float64; a list when there are several).

        ``x`` is what :meth:`FirmwareModel.predict` takes: one array ``(batch, *shape)``, or a
        list/dict for several inputs.  The whole batch runs in one C call, split over
        ``threads`` threads (default :func:`default_threads`).
        """
        if self._fn is None:
            self.compile()
        fw = self.fw
        xs = [np.ascontiguousarray(a, dtype=np.float64) for a in fw.as_inputs(x)]  # checks sample counts
        n = xs[0].shape[0]
        ys = [np.empty((n, *fw.types[o].shape), dtype=np.float64) for o in fw.outputs]
        threads = default_threads() if threads is None else int(threads)
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self._fn(*(a.ctypes.data for a in xs), *(y.ctypes.data for y in ys), n, threads)
        return ys[0] if len(ys) == 1 else ys

    def synth(self, board: str | None = None, steps: Sequence[str] = ("csynth",)) -> dict | None:
        """Run Vitis HLS (``make synth``; needs ``vitis_hls`` on PATH) and return :meth:`report`."""
        from hgq_fpga.backends.hls.synth import run_synthesis

        run_synthesis(self.path, board, steps)
        return self.report()

    def report(self) -> dict | None:
        """The C-synthesis figures (:mod:`hgq_fpga.backends.common.synthesis`), or None before synthesis."""
        from hgq_fpga.backends.common.synthesis import figures
        from hgq_fpga.backends.common.toolchain import ToolchainError
        from hgq_fpga.backends.hls.synth import find_csynth_xml
        from hgq_fpga.backends.hls.synth_report import parse_csynth_xml

        try:
            rep = parse_csynth_xml(find_csynth_xml(self.path, self.top))
        except ToolchainError:
            return None
        return figures(backend="hls", tool=rep.tool_version, top=rep.top, board=self.info.get("board", rep.part),
                       part=rep.part, resources=rep.resources, available=rep.available,
                       latency_cycles=rep.latency_cycles_worst, clock_period_ns=rep.target_clock_ns,
                       ii=rep.interval_max, estimated_clock_ns=rep.estimated_clock_ns)

    def __repr__(self) -> str:
        return f"HLSProject({str(self.path)!r}, top={self.top!r})"


def _content_hash(files: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def compile_projects(projects: Sequence[HLSProject], cache_dir: str | Path | None = None,
                     flags: Sequence[str] = CSIM_FLAGS, macs: str = "integer") -> Path:
    """Build the C simulations of several projects into one library and bind each to it.

    All firmware and bridge sources become one translation unit, each project inside its own
    C++ namespace, so the ``ap_fixed`` headers are parsed once and shared ``ap_fixed`` types are
    instantiated once: compiling ten small models together costs little more than one.  The
    top function names must differ (the ``extern "C"`` entry points ``<name>_batch`` share
    one namespace).  ``macs`` picks the build (see the module doc).  Returns the library path
    (cached by the content of every source and the flags).

    The namespace is named after a hash of the project's sources.  Inline template functions
    get process-wide ("unique") linkage from g++, so two libraries loaded in one Python process
    would otherwise share, say, the input quantizer of two different projects whose mangled
    names agree.
    """
    if macs not in MAC_BUILDS:
        raise ValueError(f"macs must be one of {sorted(MAC_BUILDS)}, got {macs!r}")
    names = [p.top for p in projects]
    if not names:
        raise ValueError("compile_projects needs at least one project")
    if len(set(names)) != len(names):
        raise ValueError(f"projects compiled together need distinct top functions, got {names}")
    # Every system header the generated files include comes first: its include guard then keeps
    # it out of the namespaces below.
    lines = ['// C simulation of several hgq_fpga projects, one namespace each.',
             *(f"#include <{h}>" for h in BRIDGE_SYSTEM_HEADERS), '#include "ap_fixed.h"']
    for p in projects:
        lines.append(f"namespace hgq_{p.top}_{_content_hash([*p.sources, p.header])} {{")
        lines += [f'#include "{src.resolve()}"' for src in p.sources]
        lines.append("}")
    with tempfile.TemporaryDirectory() as work:
        unit = Path(work) / "csim_unit.cpp"
        unit.write_text("\n".join(lines) + "\n")
        so = compile_cpp([unit], kind="shared", flags=[*flags, *MAC_BUILDS[macs]],
                         include_dirs=sorted({str(p.header.parent) for p in projects}),
                         depends=[f for p in projects for f in (*p.sources, p.header)],
                         cache_dir=cache_dir if cache_dir is not None else projects[0].cache_dir)
    for p in projects:
        p.bind(so)
    return so

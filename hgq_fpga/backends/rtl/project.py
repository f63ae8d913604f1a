"""A written RTL project, and its Verilator simulation and synthesis from Python.

``compile()`` verilates ``src/`` with the testbench ``sim/tb.cpp`` into an executable, cached by
a hash of the sources, the flags and the Verilator version (a second compile of the same RTL
costs nothing).  ``predict(x)`` quantizes ``x`` to the IR input types exactly as the emulator does
(the RTL's input ports take those codes), streams the batch through the simulated pipeline at
one sample per clock and returns the output values, which must equal ``fw.predict(x)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from hgq_fpga.backends.rtl import vectors
from hgq_fpga.backends.rtl.lower import Port
from hgq_fpga.backends.rtl.tools import require, version

#: Verilator options of every build (``make sim`` uses the same ones).
VERILATOR_FLAGS = ("--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                   "-Wno-fatal", "-Wno-lint", "-Wno-style", "-CFLAGS", "-O1")


def verilator_command(top: str, sources: list[str], tb: str, mdir: str) -> list[str]:
    """The command that builds ``<mdir>/Vtb`` from ``sources`` and the testbench."""
    return ["verilator", *VERILATOR_FLAGS, "-j", "2", "--top-module", top, "--Mdir", mdir,
            "-o", "Vtb", *sources, tb]


#: make variables of the C++ build of the verilated model (fast to compile; the model is small)
MAKE_OPTS = ("OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O1")
#: Verilog larger than this builds its evaluation code at ``-O0`` too: the g++ time of a large
#: model dominates a verification (a Deep Sets of 16 particles x 32 hidden, 1.7 MB: 43 CPU s at
#: ``-O0`` against 83 s at ``-O1``), its simulation runs about 2.3 times slower, still thousands
#: of samples a second
LARGE_VERILOG_BYTES = 256_000


def make_options(verilog_bytes: int) -> tuple[str, ...]:
    """The make variables of the C++ build of a model of ``verilog_bytes`` bytes of Verilog."""
    if verilog_bytes > LARGE_VERILOG_BYTES:
        return ("OPT_FAST=-O0", *MAKE_OPTS[1:])
    return MAKE_OPTS


def _run(cmd: list[str], cwd: Path, project: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise RuntimeError(f"Verilator build of {project} failed ({' '.join(cmd[:2])} ...):\n{tail}")


def _save_runtime(obj: Path, runtime: Path) -> None:
    """Keep the Verilator runtime objects of a build for later builds (atomically)."""
    tmp = Path(tempfile.mkdtemp(dir=runtime.parent, prefix=".runtime."))
    for o in obj.glob("verilated*.o"):
        shutil.copy(o, tmp / o.name)
    try:
        os.replace(tmp, runtime)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def default_cache_dir() -> Path:
    """``$HGQ_FPGA_CACHE/rtl`` or ``~/.cache/hgq_fpga/rtl``."""
    return Path(os.environ.get("HGQ_FPGA_CACHE", Path.home() / ".cache" / "hgq_fpga")) / "rtl"


def input_codes(fw, x) -> list[np.ndarray]:
    """Raw codes of the IR input types for float inputs ``x``, quantized as ``fw.predict`` does
    (the RTL's input ports take those codes)."""
    from hgq_fpga.ir.emulator.casting import InputQuantizer

    return [InputQuantizer(s.type, s.round, s.overflow)(a) for s, a in zip(fw.inputs, fw.as_inputs(x))]


class RTLProject:
    """The folder ``path`` that :func:`~hgq_fpga.backends.rtl.write_project` wrote for ``fw``."""

    #: how a verification names this implementation
    name = "RTL"

    def __init__(self, fw, path: str | Path, cache_dir: str | Path | None = None) -> None:
        self.fw = fw
        self.path = Path(path)
        self.info = json.loads((self.path / "project.json").read_text())
        self.top = self.info["top"]
        self.inputs = [Port(**p) for p in self.info["inputs"]]
        self.outputs = [Port(**p) for p in self.info["outputs"]]
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._binary: Path | None = None

    @property
    def latency(self) -> int:
        """Clock cycles from input to output (``in_valid`` to ``out_valid``)."""
        return int(self.info["latency_cycles"])

    def sources(self) -> list[Path]:
        return sorted((self.path / "src").glob("*.v"))

    # ------------------------------------------------------------------ simulation
    def compile(self) -> Path:
        """Build (or find in the cache) the Verilator simulation; returns the executable.

        The Verilator runtime (``verilated*.o``, most of a small build's compile time) is built
        once per Verilator version and reused by every later build."""
        require("verilator")
        files = [*self.sources(), self.path / "sim" / "tb.cpp"]
        options = make_options(sum(f.stat().st_size for f in self.sources()))
        h = hashlib.sha256()
        for part in (version("verilator"), self.top, *VERILATOR_FLAGS, *options):
            h.update(part.encode() + b"\0")
        for f in files:
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        target = self.cache_dir / h.hexdigest()[:20]
        binary = target / "Vtb"
        if not binary.is_file():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.cache_dir) as work:
                w = Path(work)
                for f in files:
                    shutil.copy(f, w / f.name)
                cmd = [c for c in verilator_command(self.top, [f.name for f in files[:-1]], "tb.cpp", "obj")
                       if c not in ("--build", "-j", "2")]
                _run(cmd, w, self.path)
                runtime = self.cache_dir / ("runtime-" + hashlib.sha256(
                    version("verilator").encode()).hexdigest()[:12])
                have_runtime = runtime.is_dir()
                if have_runtime:
                    for o in runtime.iterdir():
                        shutil.copy(o, w / "obj" / o.name)
                        os.utime(w / "obj" / o.name)     # newer than its sources: make skips it
                _run(["make", "-s", "-C", "obj", "-f", f"V{self.top}.mk", "-j2", "Vtb", *options],
                     w, self.path)
                if not have_runtime:
                    _save_runtime(w / "obj", runtime)
                final = w / "bin"
                final.mkdir()
                os.replace(w / "obj" / "Vtb", final / "Vtb")
                try:
                    os.replace(final, target)          # atomic: a cached build is always complete
                except OSError:
                    if not binary.is_file():
                        raise
        self._binary = binary
        return binary

    def predict_raw(self, codes: list[np.ndarray]) -> tuple[list[np.ndarray], int]:
        """Output codes for input codes (one array per input port), and the measured latency."""
        binary = self._binary or self.compile()
        n = len(codes[0])
        with tempfile.TemporaryDirectory(prefix="hgq_rtl_sim.") as work:
            fin, fout = Path(work) / "input.bin", Path(work) / "output.bin"
            vectors.write_inputs(fin, self.inputs, codes)
            proc = subprocess.run([str(binary), str(fin), str(fout)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"RTL simulation failed ({proc.returncode}): {proc.stderr.strip()}")
            latency = int(proc.stdout.split()[1])
            return vectors.read_outputs(fout, self.outputs, n), latency

    def predict(self, x):
        """Output values of the simulated RTL for inputs ``x`` (as ``fw.predict``: an array, or a
        list for several outputs).  Raises if the pipeline's measured latency differs from the
        one written in ``project.json``."""
        codes = input_codes(self.fw, x)
        raw, latency = self.predict_raw(codes)
        if len(codes[0]) and latency != self.latency:
            raise RuntimeError(f"simulated latency {latency} cycles differs from the declared "
                               f"{self.latency} cycles")
        outs = [np.ldexp(r.astype(np.float64), -self.fw.types[p.tensor].f) + 0.0
                for r, p in zip(raw, self.outputs)]
        return outs[0] if len(outs) == 1 else outs

    # ------------------------------------------------------------------ synthesis
    def synth(self, board: str | None = None, tool: str | None = None, timeout: float | None = None):
        """``make synth`` in the project; returns :meth:`report`.

        ``tool``: ``"vivado"`` or ``"yosys"``; default Vivado when ``vivado`` is on PATH, else Yosys.
        """
        return self.start_synth(board, tool).wait(timeout)

    def start_synth(self, board: str | None = None, tool: str | None = None) -> "SynthRun":
        """Start ``make synth`` in the background (Yosys is single-threaded: other work, such as
        the simulations, can use the other cores meanwhile); ``.wait()`` returns :meth:`report`."""
        if tool not in (None, "vivado", "yosys"):
            raise ValueError(f"synthesis tool must be 'vivado' or 'yosys', got {tool!r}")
        if tool == "yosys" or (tool is None and shutil.which("vivado") is None):
            require("yosys")
        args = ["make", "-C", str(self.path), "synth"] + ([f"BOARD={board}"] if board else []) \
            + ([f"SYNTH_TOOL={tool}"] if tool else [])
        return SynthRun(self, board, subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                                      text=True))

    def report(self, board: str | None = None) -> dict | None:
        """The synthesis figures (:mod:`hgq_fpga.backends.common.synthesis`) of the last
        ``make synth``, or None before synthesis; ``reports/report.json`` and ``reports/report.md``
        are written again (:mod:`hgq_fpga.backends.rtl.synth_report`)."""
        from hgq_fpga.backends.common.synthesis import figures
        from hgq_fpga.backends.rtl.synth_report import has_report, make_report

        if not has_report(self.path):
            return None
        rep = make_report(self.path, board)
        return figures(backend="rtl", tool=rep["tool"], top=rep["top"], board=rep["board"], part=rep["part"],
                       resources=rep["resources"], available=rep["available"],
                       latency_cycles=rep["latency_cycles"], clock_period_ns=rep["clock_period_ns"],
                       ii=rep.get("ii", 1), wns_ns=rep.get("wns_ns"))


class SynthRun:
    """A ``make synth`` that runs in the background; a context manager that stops it on error."""

    def __init__(self, project: RTLProject, board: str | None, proc: subprocess.Popen) -> None:
        self.project, self.board, self.proc = project, board, proc

    def wait(self, timeout: float | None = None) -> dict:
        """Wait for the synthesis; its figures (a RuntimeError with the log's tail if it failed)."""
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        if self.proc.returncode != 0:
            tail = "\n".join(out.strip().splitlines()[-30:])
            raise RuntimeError(f"synthesis in {self.project.path} failed:\n{tail}")
        return self.project.report(self.board)

    def stop(self) -> None:
        """End the synthesis if it still runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def __enter__(self) -> "SynthRun":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

"""RTL of a particle network: write time and cold Verilator compile time of the Deep Sets model of
issue 31 (16 particles x 8 features, hidden width 32), against its target of 60 s on 2 cores.

    python -m bench run rtl_particles [--work build/bench_rtl_particles]

The model is built in the IR (:func:`deep_sets`) with the HGQ-like types of the RTL study's MLPs
(:func:`bench.studies.rtl.run.mlp`): 8-bit inputs, 5-bit weights with 30 % pruned, per-layer 8-bit
RND/SAT ReLU activations; phi (two dense layers on every particle), a sum over the particles, rho
(a dense layer and 5 logits). Write and compile run once each, cold (an empty Verilator cache: the Verilator runtime is built
too, as on a machine's first build; ``make_options`` are the g++ settings chosen for the size), and
the simulation is then checked equal (``==``) to ``fw.predict`` on values inside the range and four
times larger. The machine is shared: the record keeps the load average before and after, and CPU
seconds beside wall seconds.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from bench.cli import out_option
from bench.common.machine import describe
from bench.studies.rtl.run import _cpu
from hgq_fpga.backends.rtl import write_project
from hgq_fpga.backends.rtl.project import make_options
from hgq_fpga.ir import FirmwareBuilder

#: the issue's model and target
PARTICLES, FEATURES, HIDDEN, CLASSES = 16, 8, 32, 5
TARGET_S = 60.0
N_SIM = 500


def deep_sets(seed: int = 0, w_bits: int = 5, pruned: float = 0.3):
    """phi (two per-particle dense layers), a sum over the particles, rho (dense + logits)."""
    rng = np.random.default_rng(seed)
    b = FirmwareBuilder()
    h = b.input("x", (PARTICLES, FEATURES), k=1, i=2, f=5)

    def dense(h, a, o, act=True):
        w = rng.integers(-(1 << (w_bits - 1)) + 1, 1 << (w_bits - 1), (a, o))
        w[rng.random((a, o)) < pruned] = 0
        h = b.dense(h, w, 3, rng.integers(-8, 8, o), 2)
        return b.relu(b.cast(h, 1, 3, 4, "RND", "SAT")) if act else h
    h = dense(dense(h, FEATURES, HIDDEN), HIDDEN, HIDDEN)
    h = b.cast(b.sum(h, 0), 1, 6, 4, "RND", "SAT")
    return b.build([dense(dense(h, HIDDEN, HIDDEN), HIDDEN, CLASSES, act=False)])


def measure(work: Path) -> dict:
    """Write and cold-compile the Deep Sets RTL once; times, sizes and mismatches."""
    fw = deep_sets()
    load_before = [round(v, 2) for v in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="rtl_particles_cache.") as cache:
        t, c = time.perf_counter(), _cpu()
        prj = write_project(fw, work / "deep_sets", replace=True, cache_dir=cache)
        write_s, write_cpu = time.perf_counter() - t, _cpu() - c
        t, c = time.perf_counter(), _cpu()
        prj.compile()
        compile_s, compile_cpu = time.perf_counter() - t, _cpu() - c
        x = np.random.default_rng(1).normal(0, 2.0, (N_SIM, PARTICLES, FEATURES))
        bad = sum(int(np.sum(prj.predict(v) != fw.predict(v))) for v in (x, 4 * x))
    total = write_s + compile_s
    return {"model": {"particles": PARTICLES, "features": FEATURES, "hidden": HIDDEN, "classes": CLASSES,
                      "weights": "5-bit, 30 % pruned, random", "ebops": int(fw.resources().ebops)},
            "verilog_bytes": (prj.path / "src" / f"{prj.top}.v").stat().st_size,
            "make_options": list(make_options(sum(f.stat().st_size for f in prj.sources()))),
            "latency_cycles": prj.latency, "write_s": round(write_s, 2), "write_cpu_s": round(write_cpu, 2),
            "verilator_s": round(compile_s, 2), "verilator_cpu_s": round(compile_cpu, 2),
            "total_s": round(total, 2), "target_s": TARGET_S, "target_holds": total < TARGET_S,
            "mismatches": bad, "compared": 2 * N_SIM * CLASSES,
            "load_average_before": load_before, "load_average_after": [round(v, 2) for v in os.getloadavg()]}


@click.command()
@click.option("--work", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/bench_rtl_particles"), show_default=True, help="where the project is written")
@out_option
def main(work: Path, out) -> None:
    """Deep Sets 16x8, hidden 32: RTL write + cold Verilator compile against 60 s."""
    machine = describe()
    work.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine, **measure(work)}
    print(record, flush=True)
    out.store("rtl_particles", record)

"""Throughput of the exported C++ emulator library on one core, for the demo-sized 64-32-16-10 MLP.

``python -m bench run emulator_cpp [--quick]`` (not part of CI or the suite) exports the MLP of
:func:`bench.studies.speed.emulator.mlp` (random per-element types, widths 4..8, ~8-bit weights,
20 % pruned) with :func:`hgq_fpga.backends.emulator.export_emulator`, builds it with its own
Makefile at ``-O2`` (integer multiply-accumulates, the default, and the ``AP_FIXED_MACS=1`` build),
checks that the library equals ``fw.predict`` on the whole batch, and times ``NAME_predict`` and
``NAME_predict_raw`` with the process pinned to one CPU. Every entry point is timed once per round,
in turn, for several rounds (interleaved, so a noisy neighbour slows all of them alike); the record
keeps each one's median and the ratios to the numpy emulator.
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
from bench.studies.speed.emulator import mlp
from hgq_fpga.backends.emulator import export_emulator
from hgq_fpga.backends.emulator.library import EmulatorLibrary, build

SIZES = (64, 32, 16, 10)


def _interleaved_medians(entries: dict, rounds: int) -> dict[str, float]:
    """Median seconds of each callable in ``entries``, timed in turn for ``rounds`` rounds."""
    times: dict[str, list[float]] = {name: [] for name in entries}
    for _ in range(rounds):
        for name, fn in entries.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def run(quick: bool = False) -> dict:
    """Samples/s of each entry point and build; raises if the library is not bit-exact."""
    batch, repeats = (20_000, 3) if quick else (50_000, 7)
    machine = describe()  # before pinning, so it shows the machine's cores
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    fw = mlp(sizes=SIZES)
    x = np.random.default_rng(1).normal(scale=2.0, size=(batch, SIZES[0]))
    codes = fw.run_raw(x)["x"]
    want = fw.predict(x)
    entries = {"numpy_emulator": lambda: fw.predict(x)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_emulator(fw, Path(tmp) / "emu", name="mlp")
        for label, extra in (("integer_macs", ()), ("ap_fixed_macs", ("AP_FIXED_MACS=1",))):
            lib = EmulatorLibrary(folder, build(folder, "all", "-O2", f"build-{label}", extra) / "libmlp.so")
            if not np.array_equal(lib.predict(x), want):
                raise AssertionError(f"{label}: the C++ library differs from fw.predict")
            y, bad = lib.predict_raw(codes)
            if bad or not np.array_equal(y, want):
                raise AssertionError(f"{label}: predict_raw differs from fw.predict")
            entries[f"cpp_{label}"] = lambda lib=lib: lib.predict(x)
            entries[f"cpp_{label}_raw"] = lambda lib=lib: lib.predict_raw(codes)
        medians = _interleaved_medians(entries, repeats)
    rates = {name: batch / seconds for name, seconds in medians.items()}
    return {"model": "-".join(map(str, SIZES)), "batch": batch, "rounds": repeats, "cflags": "-O2",
            "bit_exact": True, "machine": machine,
            "samples_per_s": rates,
            "ratio_to_numpy": {name: rate / rates["numpy_emulator"] for name, rate in rates.items()}}


@click.command()
@click.option("--quick", is_flag=True, help="a smaller batch and fewer rounds (a noisier number)")
@out_option
def main(quick: bool, out) -> None:
    """Throughput of the exported C++ emulator library against the numpy emulator, one core."""
    out.store("emulator_cpp", run(quick=quick))

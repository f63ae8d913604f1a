"""Throughput of the exported C++ emulator library on one core, for the demo-sized 64-32-16-10 MLP.

Run: ``.venv/bin/python bench/bench_emulator_cpp.py [--quick] [--json OUT.json]`` (not part of CI
or ``make bench``).  Exports the MLP of :func:`bench.bench_emulator.mlp` (random per-element types,
widths 4..8, ~8-bit weights, 20 % pruned) with :func:`hgq_fpga.backends.emulator.export_emulator`,
builds it with its own Makefile at ``-O2`` (integer multiply-accumulates, the default, and the
``AP_FIXED_MACS=1`` build), checks that the library equals ``fw.predict`` on the whole batch, and
times ``NAME_predict`` and ``NAME_predict_raw`` with the process pinned to one CPU (best of
several repeats).  The numpy emulator is timed beside it for reference.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_emulator import mlp  # noqa: E402
from hgq_fpga.backends.emulator import export_emulator  # noqa: E402
from hgq_fpga.backends.emulator.library import EmulatorLibrary, build  # noqa: E402

SIZES = (64, 32, 16, 10)


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False) -> dict:
    """Samples/s of each entry point and build; raises if the library is not bit-exact."""
    batch, repeats = (20_000, 3) if quick else (200_000, 5)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    fw = mlp(sizes=SIZES)
    x = np.random.default_rng(1).normal(scale=2.0, size=(batch, SIZES[0]))
    codes = fw.run_raw(x)["x"]
    want = fw.predict(x)
    result = {"model": "-".join(map(str, SIZES)), "batch": batch, "repeats": repeats, "cflags": "-O2",
              "numpy_emulator_samples_per_s": batch / _best(lambda: fw.predict(x), repeats)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = export_emulator(fw, Path(tmp) / "emu", name="mlp")
        for label, extra in (("integer_macs", ()), ("ap_fixed_macs", ("AP_FIXED_MACS=1",))):
            lib = EmulatorLibrary(folder, build(folder, "all", "-O2", f"build-{label}", extra) / "libmlp.so")
            if not np.array_equal(lib.predict(x), want):
                raise AssertionError(f"{label}: the C++ library differs from fw.predict")
            y, bad = lib.predict_raw(codes)
            if bad or not np.array_equal(y, want):
                raise AssertionError(f"{label}: predict_raw differs from fw.predict")
            result[f"cpp_{label}_samples_per_s"] = batch / _best(lambda: lib.predict(x), repeats)
            result[f"cpp_{label}_raw_samples_per_s"] = batch / _best(lambda: lib.predict_raw(codes), repeats)
    return result


def main() -> None:
    args = sys.argv[1:]
    r = run(quick="--quick" in args)
    print(f"{r['model']} MLP, batch {r['batch']:,}, one core, best of {r['repeats']} (bit-exact: checked)")
    for key, value in r.items():
        if key.endswith("samples_per_s"):
            print(f"  {key.removesuffix('_samples_per_s'):<28} {value:>14,.0f} samples/s")
    if "--json" in args:
        out = Path(args[args.index("--json") + 1])
        out.write_text(json.dumps(r, indent=1) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

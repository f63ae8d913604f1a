"""Run the speed benchmarks of the suite (training time, emulator throughput, C simulation against
hls4ml) and check their targets.

Each module exposes ``run(quick: bool = False) -> dict``. A module without ``run`` is recorded as
"not available" and one whose ``run`` raises is recorded with its error, so one broken benchmark
never loses the rest of a long run; BENCHMARKS.md shows both plainly.

Targets: every result key named ``meets_*`` is a verdict the benchmark made itself; for the ones
this module knows (:data:`KNOWN_TARGETS`) the measured value and the target are shown beside it, and
the others are listed by their key.
"""

from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from bench.common.store import flatten, jsonable

#: benchmark name -> module
MODULES = {"training": "bench.studies.training_time.run", "emulator": "bench.studies.speed.emulator",
           "csim": "bench.studies.speed.csim"}

@dataclass(frozen=True)
class Target:
    """A target a speed benchmark checks, located in its (flattened) result.

    ``measured`` names one key or several (the worst is shown: "every model meets it"): their
    maximum for an upper bound (``<``, ``<=``), their minimum otherwise;
    ``target`` is a key of the result or a constant; ``verdict`` is the benchmark's own ``meets_*``.
    """

    benchmark: str
    what: str
    measured: tuple[str, ...]
    target: str | float
    comparison: str
    verdict: str


_SMALL, _BIG = "models.mlp_64_32_32_10", "models.mlp_784_64_32_32_10"
KNOWN_TARGETS = (
    Target("training", "HGQ / plain Keras epoch time (medians, interleaved), 784-64-32-32-10, batch 1024",
           ("ratio",),
           "target_ratio", "<=", "meets_target"),
    Target("emulator", "emulator throughput on 64-32-32-10 (samples/s)", ("samples_per_s",), "target",
           ">=", "meets_target"),
    Target("csim", "C sim compile time, 64-32-32-10 (s)", (f"{_SMALL}.ours.compile_s",),
           "targets.compile_s_small", "<=", "targets.meets_small_compile_le_10s"),
    Target("csim", "compile time hls4ml / ours, 784-64-32-32-10", (f"{_BIG}.compile_speedup",), 1.0, ">",
           "targets.meets_big_compile_faster_than_hls4ml"),
    Target("csim", "C sim predict throughput ours / hls4ml, 784-64-32-32-10 (the issue's reference)",
           (f"{_BIG}.predict_speedup",), "targets.predict_speedup", ">=",
           "targets.meets_predict_10x_hls4ml"),
    Target("csim", "g++ peak memory of our C sim compile, MB (the larger of the two MLPs)",
           (f"{_SMALL}.ours.compile_peak_rss_mb", f"{_BIG}.ours.compile_peak_rss_mb"),
           "targets.compile_rss_mb", "<", "targets.meets_compile_rss_below_4GB"),
    Target("csim", "C sim equals the emulator bit for bit (both MLPs)",
           (f"{_SMALL}.ours.bit_exact_vs_emulator", f"{_BIG}.ours.bit_exact_vs_emulator"), True, "==",
           "targets.meets_bit_exact"),
)


def run_one(module_name: str, quick: bool, importer: Callable[[str], Any] = importlib.import_module) -> dict:
    """Call ``module_name.run(quick=quick)``; never raises for a missing or failing benchmark."""
    try:
        module = importer(module_name)
    except ImportError as exc:
        return {"status": "not available", "reason": f"cannot import {module_name}: {exc}"}
    fn = getattr(module, "run", None)
    if not callable(fn):
        return {"status": "not available", "reason": f"{module_name} has no run(quick) function"}
    t0 = time.perf_counter()
    try:
        result = fn(quick=quick)
    except Exception as exc:  # noqa: BLE001 - recorded in results.json and shown in the report
        return {"status": "error", "reason": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=8), "seconds": round(time.perf_counter() - t0, 2)}
    if not isinstance(result, dict):
        return {"status": "error", "reason": f"{module_name}.run returned {type(result).__name__}, not a dict"}
    return {"status": "ok", "seconds": round(time.perf_counter() - t0, 2), "result": jsonable(result)}


def targets(benchmarks: dict[str, dict]) -> list[dict]:
    """One row per target: ``{benchmark, what, measured, target, comparison, meets}``.

    ``meets`` is None where the benchmark did not run.
    """
    rows = []
    for name, entry in benchmarks.items():
        flat = flatten(entry.get("result", {}))
        known = [t for t in KNOWN_TARGETS if t.benchmark == name]
        covered = set()
        for t in known:
            values = [flat[k] for k in t.measured if isinstance(flat.get(k), (int, float))]
            target = flat.get(t.target) if isinstance(t.target, str) else t.target
            worst = max if t.comparison in ("<", "<=") else min
            rows.append({"benchmark": name, "what": t.what, "measured": worst(values) if values else None,
                         "target": target, "comparison": t.comparison, "meets": flat.get(t.verdict)})
            covered.add(t.verdict)
        for key, value in flat.items():
            if key.rsplit(".", 1)[-1].startswith("meets") and key not in covered:
                rows.append({"benchmark": name, "what": key, "measured": None, "target": None,
                             "comparison": None, "meets": bool(value)})
        if entry.get("status") != "ok" and not known:
            rows.append({"benchmark": name, "what": "all targets", "measured": None, "target": None,
                         "comparison": None, "meets": None})
    return rows


def cross_targets(benchmarks: dict[str, dict]) -> list[dict]:
    """Targets that compare two benchmarks of the same run: the emulator against hls4ml's
    compiled ``predict()`` on the same 64-32-32-10 architecture (target: at least 10x)."""
    emulator = flatten(benchmarks.get("emulator", {}).get("result", {})).get("samples_per_s")
    hls4ml = flatten(benchmarks.get("csim", {}).get("result", {})).get(f"{_SMALL}.hls4ml.predict_per_s")
    if not (isinstance(emulator, (int, float)) and isinstance(hls4ml, (int, float)) and hls4ml > 0):
        return []
    ratio = emulator / hls4ml
    return [{"benchmark": "emulator", "what": "emulator throughput / hls4ml predict() throughput, 64-32-32-10",
             "measured": ratio, "target": 10.0, "comparison": ">=", "meets": ratio >= 10.0}]


def run(quick: bool, modules: dict[str, str] | None = None, log=print,
        importer: Callable[[str], Any] = importlib.import_module) -> dict:
    """Run every speed benchmark; return ``{"benchmarks": {name: entry}, "targets": [...]}``."""
    benchmarks = {}
    for name, module_name in (modules or MODULES).items():
        log(f"speed: {name} ({module_name}.run(quick={quick}))")
        entry = run_one(module_name, quick, importer)
        benchmarks[name] = entry
        log(f"  {entry['status']}" + (f": {entry['reason']}" if "reason" in entry else
                                      f" in {entry['seconds']:.0f} s"))
    return {"benchmarks": benchmarks, "targets": targets(benchmarks) + cross_targets(benchmarks)}

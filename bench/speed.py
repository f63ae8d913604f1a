"""Run the speed benchmarks (``bench_training``, ``bench_emulator``, ``bench_csim``) and check targets.

Each module exposes ``run(quick: bool = False) -> dict``. A module without ``run`` is recorded as
"not available" and one whose ``run`` raises is recorded with its error, so one broken benchmark
never loses the rest of a long run; BENCHMARKS.md shows both plainly.

Targets: every result key named ``meets_*`` is a verdict the benchmark made itself; for the keys
this module knows (:data:`KNOWN_TARGETS`) the measured value and the target are shown beside it.
"""

from __future__ import annotations

import importlib
import time
import traceback
from typing import Any, Callable

from .results import flatten, jsonable

#: benchmark name -> module
MODULES = {"training": "bench.bench_training", "emulator": "bench.bench_emulator", "csim": "bench.bench_csim"}

#: (benchmark, description, measured key, target key, comparison, verdict key)
KNOWN_TARGETS = (
    ("training", "HGQ step time / plain Keras step time, 784-64-32-32-10", "ratio", "target_ratio", "<=",
     "meets_target"),
    ("emulator", "emulator throughput on 64-32-32-10 (samples/s)", "samples_per_s", "target", ">=",
     "meets_target"),
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
        known = [k for k in KNOWN_TARGETS if k[0] == name]
        covered = set()
        for _, what, measured, target, cmp, verdict in known:
            rows.append({"benchmark": name, "what": what, "measured": flat.get(measured),
                         "target": flat.get(target), "comparison": cmp, "meets": flat.get(verdict)})
            covered.add(verdict)
        for key, value in flat.items():
            if key.rsplit(".", 1)[-1].startswith("meets") and key not in covered:
                rows.append({"benchmark": name, "what": key, "measured": None, "target": None,
                             "comparison": None, "meets": bool(value)})
        if entry.get("status") != "ok" and not known:
            rows.append({"benchmark": name, "what": "all targets", "measured": None, "target": None,
                         "comparison": None, "meets": None})
    return rows


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
    return {"benchmarks": benchmarks, "targets": targets(benchmarks)}

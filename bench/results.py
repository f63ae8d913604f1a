"""results.json: the one record of a benchmark run, from which BENCHMARKS.md and the plots are drawn.

Layout (``SCHEMA`` 1)::

    {"schema", "mode", "command", "wall_s",
     "machine":        bench.machine.describe(),
     "resource_study": {"dataset", "config", "architectures": {name: {...}}},
     "speed":          {"benchmarks": {name: {"status", ...}}, "targets": [...]},
     "exactness":      {"samples", "mismatches", "models_checked", "architectures": {name: [...]}},
     "studies":        {KEY: record of bench/studies/<module>}   (optional; see bench.studies)}

:func:`problems` lists what is missing or inconsistent, so the smoke test (and the bench itself,
before writing) can tell a well-formed record from a rotten one.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 1
SECTIONS = ("machine", "resource_study", "speed", "exactness")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars/arrays, tuples and non-finite floats made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Scalar leaves of nested dicts/lists as ``{"a.b.0.c": leaf}``."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return {prefix: value} if prefix else {"": value}
    for k, v in items:
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, (dict, list)):
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def save(results: dict, path: Path) -> None:
    """Write ``results`` as indented JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(jsonable(results), indent=1, sort_keys=False) + "\n")
    os.replace(tmp, path)


def load(path: Path) -> dict:
    """Read a results.json; a clear error if it is missing or from another schema."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `python -m bench [--quick]` first")
    results = json.loads(path.read_text())
    if results.get("schema") != SCHEMA:
        raise ValueError(f"{path} has schema {results.get('schema')!r}; this bench writes {SCHEMA}. "
                         "Run the bench again.")
    return results


def problems(results: dict) -> list[str]:
    """What is missing or inconsistent in ``results`` (empty when well formed)."""
    out = [f"missing section {s!r}" for s in SECTIONS if s not in results]
    if results.get("schema") != SCHEMA:
        out.append(f"schema is {results.get('schema')!r}, expected {SCHEMA}")
    study = results.get("resource_study", {})
    for name, arch in study.get("architectures", {}).items():
        for key in ("architecture", "hgq_points", "uniform_points", "hgq_front", "matched", "headline"):
            if key not in arch:
                out.append(f"resource_study.{name}: missing {key!r}")
        for p in arch.get("hgq_points", []) + arch.get("uniform_points", []):
            if not (isinstance(p.get("ebops"), int) and 0.0 <= p.get("accuracy", -1) <= 1.0):
                out.append(f"resource_study.{name}: bad point {p.get('label')!r}")
    if "resource_study" in results and not study.get("architectures"):
        out.append("resource_study has no architectures")
    for name, entry in results.get("speed", {}).get("benchmarks", {}).items():
        if entry.get("status") not in ("ok", "not available", "error"):
            out.append(f"speed.{name}: bad status {entry.get('status')!r}")
    exact = results.get("exactness", {})
    if "exactness" in results:
        rows = [r for rs in exact.get("architectures", {}).values() for r in rs]
        if exact.get("mismatches") != sum(r.get("mismatches", 0) for r in rows):
            out.append("exactness.mismatches is not the sum over the models")
        if exact.get("models_checked") != len(rows):
            out.append("exactness.models_checked does not count the models")
    from . import studies  # noqa: PLC0415 (studies import bench modules that import this one)

    out.extend(studies.problems(results.get("studies", {})))
    return out

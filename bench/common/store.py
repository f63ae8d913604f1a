"""bench/results.json: the one store of every benchmark number, keyed by study.

Layout (``SCHEMA`` 2)::

    {"schema":  2,
     "suite":   {"mode", "command", "machine", "wall_s"}  the last `python -m bench suite` run
     "status":  [{"part", "state"}, ...]                   the Status table of BENCHMARKS.md
     "studies": {name: record of bench/studies/<name>}}

A study run stores its record here itself (:func:`update`): under a lock, so that runs of different
studies side by side keep each other's records, checked first (a record with problems is refused and
the file stays as it was), and written atomically (a reader never sees half a file). Work in
progress lives elsewhere (``build/``, a study's resumable folder, ``results.partial.json``) and is
not committed.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

SCHEMA = 2
BENCH = Path(__file__).resolve().parents[1]
RESULTS = BENCH / "results.json"


@dataclass(frozen=True)
class Destination:
    """Where a run stores its record and renders the document: results.json, BENCHMARKS.md and the
    figure root (a study's figures go to ``<figures>/<name>/``)."""

    results: Path
    markdown: Path
    figures: Path

    @classmethod
    def at(cls, folder: Path | None = None) -> "Destination":
        """The committed places (``folder`` None: bench/results.json, BENCHMARKS.md at the
        repository root, bench/studies/), or all three in ``folder``."""
        if folder is None:
            return cls(RESULTS, BENCH.parent / "BENCHMARKS.md", BENCH / "studies")
        folder = Path(folder)
        return cls(folder / "results.json", folder / "BENCHMARKS.md", folder)


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


def save(store: dict, path: Path) -> None:
    """Write ``store`` as indented JSON, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(jsonable(store), indent=1) + "\n")
    os.replace(tmp, path)


def load(path: Path, missing_ok: bool = False) -> dict:
    """Read a results.json (an empty store for a missing file with ``missing_ok``); a clear error if
    it is missing or of another schema."""
    path = Path(path)
    if not path.is_file():
        if missing_ok:
            return {"schema": SCHEMA, "status": [], "studies": {}}
        raise FileNotFoundError(f"{path} not found: run `python -m bench suite [--quick]` first")
    store = json.loads(path.read_text())
    if store.get("schema") != SCHEMA:
        raise ValueError(f"{path} has schema {store.get('schema')!r}; this bench writes {SCHEMA}")
    return store


def update(path: Path, change: Callable[[dict], None],
           problems: Callable[[dict], list[str]] = lambda store: []) -> dict:
    """Apply ``change`` to the store at ``path`` (created when missing) and save it; return it.

    Raises:
        ValueError: ``problems`` finds something wrong in the changed store (the file is untouched).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.parent, os.O_RDONLY)        # the folder is the lock: no stray lock file
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        store = load(path, missing_ok=True)
        change(store)
        store = jsonable(store)
        bad = problems(store)
        if bad:
            raise ValueError(f"{path}: refusing to store: " + "; ".join(bad))
        save(store, path)
        return store
    finally:
        os.close(lock)

"""Benchmark studies beyond the main suite, each a module of this package.

A study is run by its own bench script (for example ``python -m bench.bench_rtl``), which writes a
raw record ``bench/<KEY>_results.json``. ``python -m bench.record KEY`` copies that record into
``bench/results.json`` under ``studies.<KEY>`` and re-renders BENCHMARKS.md, so every number in the
document still comes from the one record.

Each module here defines:

- ``KEY`` (str): the name under ``studies`` and of the raw file;
- ``ORDER`` (int): where its section goes in BENCHMARKS.md (smaller first);
- ``render(record: dict, md_dir: Path, plot_dir: Path) -> str``: the section's markdown,
  starting with a ``## `` heading, drawing any plot into ``plot_dir``;
- optionally ``problems(record: dict) -> list[str]``: what is missing or inconsistent.

Modules are discovered, so adding a study touches no shared file.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent


def modules() -> dict[str, ModuleType]:
    """Every study module, by ``KEY``, in ``ORDER``."""
    found = []
    for info in pkgutil.iter_modules([str(HERE)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for attr in ("KEY", "ORDER", "render"):
            if not hasattr(module, attr):
                raise AttributeError(f"bench study module {module.__name__} has no {attr!r} (see bench/studies)")
        found.append(module)
    found.sort(key=lambda m: (m.ORDER, m.KEY))
    by_key: dict[str, ModuleType] = {}
    for module in found:
        if module.KEY in by_key:
            raise ValueError(f"two bench study modules use KEY {module.KEY!r}")
        by_key[module.KEY] = module
    return by_key


def raw_path(key: str) -> Path:
    """Where a study's bench script writes its raw record."""
    return BENCH / f"{key}_results.json"


def render_all(studies: dict, md_dir: Path, plot_dir: Path) -> list[str]:
    """The sections of every recorded study, in ``ORDER``; a record without a module is an error."""
    known = modules()
    unknown = sorted(set(studies) - set(known))
    if unknown:
        raise KeyError(f"results.json has studies without a module in bench/studies: {', '.join(unknown)}")
    return [module.render(studies[key], md_dir, plot_dir) for key, module in known.items() if key in studies]


def problems(studies: dict) -> list[str]:
    """Problems of every recorded study, prefixed with ``studies.<KEY>``."""
    known = modules()
    out = []
    for key, record in studies.items():
        if key not in known:
            out.append(f"studies.{key}: no module in bench/studies")
        elif hasattr(known[key], "problems"):
            out.extend(f"studies.{key}: {p}" for p in known[key].problems(record))
    return out


def context(machine: dict | None) -> str:
    """One line saying when and on what a study ran (from :func:`bench.machine.describe`)."""
    if not machine:
        return "Machine not recorded."
    load = machine.get("load_average_at_start")
    return (f"Ran {machine.get('date')} on {machine.get('cpu')} ({machine.get('usable_cores')} usable cores"
            + (f", load average {load[0]} at start" if load else "") + ").")

"""The studies, one package each: ``bench/studies/<name>/`` (discovered: adding one touches no shared file).

A study's package holds

- ``section.py``: ``ORDER`` (where its section goes in BENCHMARKS.md, smaller first) and
  ``render(record, page) -> str`` (markdown starting with ``## ``); optionally
  ``figures(record, page) -> {file name: matplotlib figure}``, ``problems(record) -> list[str]``
  (what is missing or inconsistent: a record with problems is not stored) and, for the suite's
  studies, ``headline(record) -> rows`` of the Headline table;
- ``run.py``: the code that measures; with a click command ``main`` where the study runs on its
  own (``python -m bench run <name>``), while the suite's studies (:data:`SUITE`) run together
  (``python -m bench suite``);
- its figures, drawn from its record.

Its record is ``results.json["studies"][<name>]`` (:mod:`bench.common.store`).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

HERE = Path(__file__).resolve().parent
#: the studies of ``python -m bench suite``, in the order it runs them (the Headline's order)
SUITE = ("resource", "exactness", "speed")


@dataclass(frozen=True)
class Page:
    """What a section renderer sees besides its own record: the whole store (a section may draw on
    another study's record), its figure folder and the folder of BENCHMARKS.md."""

    results: dict
    folder: Path
    md_dir: Path

    def link(self, name: str) -> str:
        """The markdown path of figure ``name``, relative to BENCHMARKS.md."""
        return Path(os.path.relpath(self.folder / name, self.md_dir)).as_posix()


@cache
def names() -> tuple[str, ...]:
    """Every study, in ``ORDER``."""
    found = [p.name for p in HERE.iterdir() if (p / "section.py").is_file()]
    return tuple(sorted(found, key=lambda name: (section(name).ORDER, name)))


def section(name: str) -> ModuleType:
    """The ``section`` module of study ``name``."""
    return importlib.import_module(f"{__name__}.{name}.section")


def command(name: str) -> click.Command | None:
    """The click command of study ``name``; None for an unknown study or one of the suite."""
    if name not in names() or name in SUITE:
        return None
    return importlib.import_module(f"{__name__}.{name}.run").main


def problems(store: dict) -> list[str]:
    """What is wrong with the store's records, each line prefixed with ``studies.<name>``."""
    out = []
    for name, record in store.get("studies", {}).items():
        if name not in names():
            out.append(f"studies.{name}: no study bench/studies/{name}")
            continue
        check = getattr(section(name), "problems", lambda record: [])
        out.extend(f"studies.{name}: {p}" for p in check(record))
    return out

"""``python -m bench.record KEY [KEY ...] [--all]``: put studies' raw records into results.json.

A study's bench script writes ``bench/<KEY>_results.json`` (see :mod:`bench.studies`). This copies
each named record into ``bench/results.json`` under ``studies.<KEY>``, checks it, writes the record
atomically and re-renders BENCHMARKS.md and the plots. ``--all`` records every study whose raw
file exists.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

from . import studies
from .report import DEFAULT_MARKDOWN, DEFAULT_RESULTS, write
from .results import load, save


def record(results_path: Path, keys: Sequence[str], raw_dir: Path | None = None) -> dict:
    """``results.json`` with ``keys``' raw records stored under ``studies``; saved atomically."""
    known = studies.modules()
    results = load(results_path)
    for key in keys:
        if key not in known:
            raise KeyError(f"unknown study {key!r}; known: {', '.join(known) or 'none'}")
        raw = (Path(raw_dir) / f"{key}_results.json") if raw_dir else studies.raw_path(key)
        if not raw.is_file():
            raise FileNotFoundError(f"{raw} not found: run that study's bench script first")
        results.setdefault("studies", {})[key] = json.loads(raw.read_text())
    bad = studies.problems(results.get("studies", {}))
    if bad:
        raise ValueError("refusing to record: " + "; ".join(bad))
    save(results, results_path)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.record", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("keys", nargs="*", help="study keys (modules of bench/studies)")
    parser.add_argument("--all", action="store_true", help="every study whose raw record exists")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--markdown", type=Path, default=DEFAULT_MARKDOWN)
    args = parser.parse_args(argv)
    keys = list(args.keys)
    if args.all:
        keys += [k for k in studies.modules() if studies.raw_path(k).is_file() and k not in keys]
    if not keys:
        parser.error("name at least one study, or --all")
    results = record(args.results, keys)
    out = write(results, args.markdown, args.results.resolve().parent)
    print(f"recorded {', '.join(keys)}; wrote {out}")


if __name__ == "__main__":
    main()

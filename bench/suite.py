"""Run the whole benchmark suite once and write results.json, the plots and BENCHMARKS.md.

Order: load the data (fails at once, with the install command, if Fashion-MNIST is missing), the
resource study, the exactness check on the study's HGQ front models, then the speed benchmarks.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from . import exactness, machine, report, resource_study, results, speed
from .config import BenchConfig


class MalformedResultsError(RuntimeError):
    """The run produced a results record that :func:`bench.results.problems` rejects."""


def run_suite(cfg: BenchConfig, results_path: Path, markdown_path: Path, plot_dir: Path,
              command: str, speed_modules: dict[str, str] | None = None,
              importer: Callable[[str], Any] = importlib.import_module, log=print) -> dict:
    """Run every benchmark of ``cfg``; write and return the results record.

    ``speed_modules`` / ``importer`` replace the speed benchmarks (the smoke test uses stand-ins).
    """
    t0 = time.perf_counter()
    split = cfg.load_data()
    record: dict[str, Any] = {"schema": results.SCHEMA, "mode": cfg.mode, "command": command,
                              "machine": machine.describe()}
    log(f"bench ({cfg.mode}): {split.name}, {len(split.x_train)} training / {len(split.x_test)} test images")
    # a long run that fails late keeps what it measured: each finished stage is saved here
    partial_path = results_path.with_name(results_path.stem + ".partial.json")
    with tempfile.TemporaryDirectory(prefix="hgq_bench_") as work:
        record["resource_study"], fronts = resource_study.run(split, cfg.study, work, log=log)
        results.save(record, partial_path)
        record["exactness"] = exactness.run(fronts, split.x_test, Path(work) / "exactness",
                                            limits=cfg.exact_models, log=log)
        results.save(record, partial_path)
    record["speed"] = speed.run(cfg.speed_quick, speed_modules, log=log, importer=importer)
    record["wall_s"] = round(time.perf_counter() - t0, 1)
    if results_path.is_file():  # studies are run by their own scripts: a suite rerun keeps them
        try:
            record["studies"] = results.load(results_path).get("studies", {})
        except ValueError:
            log(f"{results_path}: an older schema; its studies are not carried over")
    record = results.jsonable(record)
    results.save(record, results_path)
    partial_path.unlink(missing_ok=True)
    bad = results.problems(record)
    if bad:
        raise MalformedResultsError(f"{results_path} is malformed: " + "; ".join(bad))
    report.write(record, markdown_path, plot_dir)
    log(f"wrote {results_path} and {markdown_path} in {record['wall_s'] / 60:.1f} min")
    return record

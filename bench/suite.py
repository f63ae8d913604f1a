"""The suite (``python -m bench suite``, ``make bench``): the resource study, the exactness check of its
HGQ front models, then the speed benchmarks, stored together with the run's facts (mode, command,
machine, wall time) that the page's introduction, Headline and Machine sections show.

Order: load the data (fails at once, with the install command, if Fashion-MNIST is missing), the
resource study, the exactness check, then the speed benchmarks. A long run that fails late keeps
what it measured in ``results.partial.json`` beside the store (not committed).
"""

from __future__ import annotations

import importlib
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from bench.cli import Output
from bench.common import machine
from bench.common.presets import BenchConfig
from bench.common.store import jsonable, save
from bench.render import put
from bench.studies.exactness import run as exactness
from bench.studies.resource import run as resource
from bench.studies.speed import run as speed


def run_suite(cfg: BenchConfig, out: Output, command: str, speed_modules: dict[str, str] | None = None,
              importer: Callable[[str], Any] = importlib.import_module, log=print) -> dict:
    """Run every benchmark of ``cfg`` and store their records; return them.

    ``speed_modules`` / ``importer`` replace the speed benchmarks (the smoke test uses stand-ins).
    """
    t0 = time.perf_counter()
    split = cfg.load_data()
    suite = {"mode": cfg.mode, "command": command, "machine": machine.describe()}
    records: dict[str, Any] = {}
    log(f"bench ({cfg.mode}): {split.name}, {len(split.x_train)} training / {len(split.x_test)} test images")
    partial = out.dest.results.with_name("results.partial.json")
    with tempfile.TemporaryDirectory(prefix="hgq_bench_") as work:
        records["resource"], fronts = resource.run(split, cfg.study, work, log=log)
        save({"suite": suite, "studies": records}, partial)
        records["exactness"] = exactness.run(fronts, split.x_test, Path(work) / "exactness",
                                             limits=cfg.exact_models, log=log)
        save({"suite": suite, "studies": records}, partial)
    records["speed"] = speed.run(cfg.speed_quick, speed_modules, log=log, importer=importer)
    suite["wall_s"] = round(time.perf_counter() - t0, 1)
    records = jsonable(records)
    out.change(put(records, suite), "the suite's studies")
    partial.unlink(missing_ok=True)
    log(f"the suite took {suite['wall_s'] / 60:.1f} min")
    return records

"""Sweeps: many HGQ trainings from one YAML spec, run in parallel on Dask, merged into one front.

    from hgq_fpga.app.sweep import run_sweep
    result = run_sweep("sweep.yaml", "build/sweep")              # local cluster, one worker per core
    result = run_sweep("sweep.yaml", "build/sweep", scheduler="tcp://HOST:8786")

Modules: :mod:`.spec` (the YAML format and its validation), :mod:`.run` (one run: train,
calibrate, score, publish atomically), :mod:`.engine` (Dask, resumption, retries),
:mod:`.merge` (the merged front and its plot), :mod:`.progress` (bars or plain lines).
"""

from .engine import SweepResult, connect, run_sweep, run_tasks
from .spec import RunSpec, SpecError, SweepSpec, load, parse

__all__ = ["run_sweep", "run_tasks", "connect", "SweepResult", "SpecError", "SweepSpec", "RunSpec", "load", "parse"]

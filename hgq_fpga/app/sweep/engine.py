"""Run a sweep on ``dask.distributed``: a local cluster by default, or any existing scheduler.

* **Default**: a ``LocalCluster`` with one worker process per core (``workers``), one thread per
  worker, and TensorFlow held to one thread per worker, so runs do not fight over the cores.
* **Existing cluster**: ``scheduler="tcp://HOST:8786"`` (or ``DASK_SCHEDULER_ADDRESS``), e.g. a
  ``dask_jobqueue.HTCondorCluster`` or ``SLURMCluster``. Its workers must see ``out_dir`` and the
  spec's files at the same paths (a shared file system) and import ``hgq_fpga``.
* **Resumable**: a run whose ``runs/NAME/DONE`` exists is skipped, so a rerun of the same spec
  only does what is missing; a finished run is never rewritten. A rerun whose spec changed the
  settings of a finished run is refused (use a new ``out_dir``).
* **Fault tolerant**: a worker that dies mid-run loses only that run, which the scheduler starts
  again elsewhere, at most ``retries`` more times (Dask's ``allowed-failures``, set on the local
  cluster; an existing scheduler uses its own setting). An exception inside a run is retried the
  same number of times. A run that still fails is reported; the others go on.

One sweep at a time per ``out_dir``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from .merge import write as write_merged
from .progress import TOPIC_PREFIX, SweepProgress
from .run import RUNS, execute, is_done, read_result, run_folder
from .spec import RunSpec, SpecError, SweepSpec, as_spec
from hgq_fpga.folders import write_file

MANIFEST = "sweep.json"
#: what ``sweep.json`` says it is
MANIFEST_FORMAT = "hgq_fpga.sweep"
#: environment of the local workers: one compute thread each (TensorFlow, BLAS)
WORKER_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
              "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass
class SweepResult:
    """What a call of :func:`run_sweep` did.

    Attributes:
        out_dir: the sweep folder.
        ran: runs finished by this call; ``skipped``: runs already finished before it;
        failed: run name -> the error of its last attempt;
        merged: the merged front of every finished run (``front.json``);
        spec: the spec that was run.
    """

    out_dir: Path
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    merged: dict = field(default_factory=dict)
    spec: SweepSpec | None = None

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def chosen_checkpoint(self) -> Path | None:
        """The chosen model's checkpoint (``out_dir`` joined with ``front.json``'s relative path), or None."""
        chosen = self.merged.get("chosen")
        return None if not chosen else Path(self.out_dir) / chosen["checkpoint"]

    def chosen_run(self) -> RunSpec | None:
        """The run of the chosen model, or None."""
        chosen = self.merged.get("chosen")
        runs = {r.name: r for r in (self.spec.runs if self.spec else ())}
        return runs.get(chosen["run"]) if chosen else None


def _check_finished(spec: SweepSpec, out: Path) -> list[str]:
    """Names of finished runs; a finished run whose settings differ from the spec is an error."""
    done = []
    for run in spec.runs:
        folder = run_folder(out, run.name)
        if is_done(folder):
            if read_result(folder).get("fingerprint") != run.fingerprint():
                raise SpecError(f"{out}: run {run.name!r} was finished with other settings; a finished run "
                                "is never rewritten, so write this sweep to a new --out folder")
            done.append(run.name)
    return done


def _write_manifest(spec: SweepSpec, out: Path) -> None:
    manifest = {"format": MANIFEST_FORMAT, "name": spec.name, "tolerance": spec.tolerance,
                "runs": [{"name": r.name, "settings": r.settings} for r in spec.runs]}
    write_file(out / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True), replace=True)


def check_sweep_folder(out: Path) -> None:
    """Refuse ``out`` unless it is new, empty or a sweep folder (its ``sweep.json`` says so): a sweep
    never writes its files into a folder of the user's."""
    if not out.exists():
        return
    if not out.is_dir():
        raise SpecError(f"--out {out} is a file; give a folder for the sweep")
    if not any(out.iterdir()):
        return
    try:
        ours = json.loads((out / MANIFEST).read_text()).get("format") == MANIFEST_FORMAT
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise SpecError(f"--out {out} is not empty and is not a sweep folder (no {MANIFEST} written by "
                        "hgq-fpga sweep); give a new folder")


def _clear_staging(out: Path, names: list[str]) -> None:
    """Remove staging folders that killed attempts of the runs ``names`` left behind."""
    for name in names:
        for stale in (out / RUNS).glob(f".{name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int | None = None, retries: int = 2) -> Iterator:
    """A ``distributed.Client``: on ``scheduler`` (or ``DASK_SCHEDULER_ADDRESS``) if given, else on
    a new local cluster of ``workers`` processes (default: one per core) that retries a run
    whose worker died up to ``retries`` times."""
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        if workers is not None:
            raise ValueError("workers applies to the local cluster only; an existing cluster (--scheduler or "
                             "DASK_SCHEDULER_ADDRESS) has the workers it was started with")
        with Client(address) as client:
            yield client
        return
    n = workers if workers is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ValueError(f"workers must be >= 1, got {n}")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      scheduler_kwargs={"allowed_failures": retries, "dashboard": False},
                      env=WORKER_ENV) as cluster, \
            Client(cluster) as client:
        yield client


def run_sweep(spec_or_path: SweepSpec | Mapping | str | Path, out_dir: str | Path,
              scheduler: str | None = None, workers: int | None = None, retries: int = 2,
              progress: SweepProgress | None = None, client=None) -> SweepResult:
    """Run every unfinished run of a sweep and merge the fronts of all finished runs.

    Args:
        spec_or_path: a YAML spec file, a spec mapping (paths relative to the working folder) or a
            parsed :class:`~hgq_fpga.app.sweep.spec.SweepSpec`.
        out_dir: the sweep folder: ``runs/NAME/`` per run, ``front.json``, ``front.png``,
            ``sweep.json`` (the expanded runs).
        scheduler: address of an existing Dask scheduler (default: ``DASK_SCHEDULER_ADDRESS``, else a
            local cluster).
        workers: processes of the local cluster (default: one per core).
        retries: how many more times a run is started after its worker died (on a local cluster; a
            run that raises is not retried).
        progress: the display (default: bars on a terminal, plain lines otherwise).
        client: an existing ``distributed.Client`` to use instead (then ``scheduler``/``workers``
            are not used).

    Raises:
        SpecError: the spec is invalid, or a finished run in ``out_dir`` has other settings.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    spec = as_spec(spec_or_path)
    out = Path(out_dir)
    check_sweep_folder(out)
    (out / RUNS).mkdir(parents=True, exist_ok=True)
    done = _check_finished(spec, out)
    _write_manifest(spec, out)
    result = SweepResult(out, skipped=list(done), spec=spec)
    todo = [r for r in spec.runs if r.name not in done]
    _clear_staging(out, [r.name for r in todo])
    if todo:
        display = (progress or SweepProgress()).plan([(r.name, r.settings["epochs"]) for r in todo], len(done))
        with contextlib.ExitStack() as stack:
            if client is None:
                client = stack.enter_context(connect(scheduler, workers, retries))
            result.ran, result.failed = run_tasks(
                client, [(r.name, execute, (r, str(out.resolve()))) for r in todo], display)
        _clear_staging(out, result.ran)  # what killed attempts of now finished runs left
    result.merged = write_merged(out, [r.name for r in spec.runs if is_done(run_folder(out, r.name))],
                                 spec.tolerance, spec.name)
    return result


def run_tasks(client, tasks: Sequence[tuple[str, Callable, tuple]], display: SweepProgress) -> tuple[list[str], dict[str, str]]:
    """Submit ``(name, function, args)`` tasks (``function(*args, topic)``, where ``topic`` is the
    progress topic), the first with the highest priority, so that they start in this order; wait for all. Returns the finished names and, per failed name, its error. Each
    function must publish its own result (see :func:`hgq_fpga.app.sweep.run.produce`).

    A task whose worker died is started again (the scheduler's ``allowed-failures``, ``retries`` on
    a local cluster); a task that raised is not: the same settings raise the same error again."""
    from distributed import as_completed

    token = uuid.uuid4().hex[:8]
    topic = f"{TOPIC_PREFIX}{token}"
    client.subscribe_topic(topic, display.event)
    # started in the order given (the scheduler may otherwise order a batch of submissions by key)
    futures = {client.submit(fn, *args, topic, key=f"hgq-sweep-{name}-{token}", pure=False,
                             priority=len(tasks) - i): name
               for i, (name, fn, args) in enumerate(tasks)}
    ran: list[str] = []
    failed: dict[str, str] = {}
    try:
        with display:
            for future in as_completed(futures):
                name = futures[future]
                try:
                    future.result()
                except Exception as exc:  # noqa: BLE001 - one failed task must not stop the others
                    failed[name] = f"{type(exc).__name__}: {exc}"
                    display.finished(name, ok=False, error=failed[name])
                else:
                    ran.append(name)
                    display.finished(name)
    finally:
        client.unsubscribe_topic(topic)
    return ran, failed

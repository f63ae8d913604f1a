"""Build a design folder: from a trained model to a verified, self-contained folder, in steps.

The steps, each public so that a user can run any of them alone:

1. quantize or import, when the model is not an HGQ model (:func:`hgq_fpga.nn.ptq.quantize_float`,
   :func:`hgq_fpga.nn.importers.qkeras.import_qkeras`);
2. calibrate: :func:`hgq_fpga.nn.calibration.calibrate`;
3. freeze: :func:`hgq_fpga.nn.freeze.to_firmware`;
4. write each backend's project: :func:`write_projects`;
5. compile: :func:`compile_projects`;
6. verify: :func:`hgq_fpga.checks.verify.verify`, on every data set (:func:`verify_all`);
7. report: :func:`hgq_fpga.app.report.writer.write_report`.

:func:`build_design` runs them into a hidden staging folder and renames it into place only when
everything is written, so a failure leaves no half-written folder and an earlier design is replaced
in one step. The folder layout is :mod:`hgq_fpga.checks.design_folder`'s: a manifest, the IR once,
``model.keras``, one folder per backend, ``report/``. Keras is imported only by the steps that need
it, so the command line checks its arguments before TensorFlow loads.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from hgq_fpga import __version__
from hgq_fpga.app.report.classification import LabelledData, classification_record, model_scores
from hgq_fpga.app.report.profile import profile_record
from hgq_fpga.app.report.writer import write_report
from hgq_fpga.app.stages import QUIET, Stages, stages_for
from hgq_fpga.backends.common.board import Board, clock_period, load_board
from hgq_fpga.backends.common.names import check_design_name
from hgq_fpga.backends.registry import Project, backend_names, get_backend
from hgq_fpga.checks.design_folder import (FIRMWARE_DIR, KERAS_FILE, MANIFEST, MANIFEST_FORMAT, MANIFEST_VERSION,
                                           REPORT_DIR, DesignError, is_design_folder)
from hgq_fpga.folders import move_into_place, observe, staging_folder

#: ``backend`` shorthands: the projects a design folder holds
BACKEND_SETS = {"both": ("hls", "rtl")}
#: samples of the calibration data written as each project's own test vectors
TESTBENCH_SAMPLES = 100


def backend_list(backend: str | Sequence[str]) -> tuple[str, ...]:
    """``"hls"``, ``"hls,rtl"``, ``"both"`` or a sequence, as registered backend names (checked)."""
    names = backend.split(",") if isinstance(backend, str) else list(backend)
    expanded = [n for name in names for n in BACKEND_SETS.get(name.strip(), (name.strip(),))]
    known = backend_names()
    unknown = [n for n in expanded if n not in known]
    if unknown or not expanded:
        raise ValueError(f"unknown backend {', '.join(unknown) or repr(backend)}; choose from "
                         f"{', '.join([*known, *BACKEND_SETS])} (several: separated by commas)")
    return tuple(dict.fromkeys(expanded))


@dataclass(frozen=True)
class Target:
    """What a design is built for: the board, the projects and their options.

    ``backends``: registered backend names (``backend_list`` reads ``"both"`` and commas);
    ``synth``: also synthesize the projects whose backend synthesizes within a design (the RTL,
    with Yosys); ``options``: further ``write_project`` options per backend (``{"rtl": {"levels": 3}}``).
    """

    board: str = "vu9p"
    name: str = "myproject"
    clock_period: float | None = None
    backends: tuple[str, ...] = ("hls",)
    synth: bool = False
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def checked(self) -> tuple["Target", Board]:
        """This target with its backends checked, and its board; a ValueError naming what is wrong."""
        backends = backend_list(self.backends)
        board = load_board(self.board)
        clock_period(board, self.clock_period)
        check_design_name(self.name)
        if self.synth and not any(get_backend(b).synth_in_design for b in backends):
            able = [n for n in backend_names() if get_backend(n).synth_in_design]
            raise ValueError(f"synth synthesizes the {'/'.join(able).upper()} project: add backend "
                             f"{' or '.join(able)} (got {', '.join(backends)})")
        stray = sorted(set(self.options) - set(backends))
        if stray:
            raise ValueError(f"options for backends the design does not build: {', '.join(stray)}")
        return Target(self.board, self.name, self.clock_period, backends, self.synth, dict(self.options)), board

    def require_tools(self) -> None:
        """Fail before any work when a tool of a chosen backend is missing (the message says what to install)."""
        for name in self.backends:
            backend = get_backend(name)
            backend.require_tools(synth=self.synth and backend.synth_in_design)


def write_projects(fw, folder: Path, target: Target, test_data=None, stages: Stages = QUIET) -> list[Project]:
    """Write each backend's project of ``fw`` into ``folder/<backend>`` (not yet compiled)."""
    common = dict(board=target.board, name=target.name, clock_period=target.clock_period, test_data=test_data)
    projects = []
    for name in target.backends:
        with stages.stage(f"{name}: writing the project"):
            projects.append(get_backend(name).write_project(fw, Path(folder) / name, **common,
                                                            **target.options.get(name, {})))
    return projects


def compile_projects(projects: Sequence[Project], stages: Stages = QUIET) -> list[Project]:
    """Compile every project's simulation (or library); returns them."""
    for project in projects:
        with stages.stage(f"compiling the {project.name} implementation"):
            project.compile()
    return list(projects)


def verify_all(model, checks: Mapping[str, Any], fw, projects: Sequence[Project],
               stages: Stages = QUIET) -> dict[str, Any]:
    """Keras = emulator = every project, on each data set of ``checks`` (``{label: inputs}``)."""
    from hgq_fpga.checks.verify import verify

    verified = {}
    for label, x in checks.items():
        with stages.stage(f"verifying on {label}"):
            verified[label] = verify(model, x, firmware=fw, project=list(projects), data=label)
    return verified


def verification_record(report, data_label: str) -> dict:
    """The JSON form of a :class:`~hgq_fpga.checks.verify.VerificationReport`, as the manifest keeps it."""
    return {"data": data_label, "samples": int(report.samples), "mismatches": int(report.mismatches),
            "keras_vs_emulator": int(report.keras_vs_emulator),
            "emulator_vs": {name: int(n) for name, n in (report.emulator_vs or {}).items()},
            "chain": report.implementations, "ok": bool(report.ok),
            "overflow": None if report.overflow is None else report.overflow.to_dict(),
            "details": str(report).rstrip("\n")}


def manifest(target: Target, board: Board, projects: Sequence[Project], verified: Mapping[str, Any],
             synthesis: Mapping[str, dict]) -> dict:
    """The manifest ``hgq_fpga.json`` of a design (the caller adds metrics, training, ...)."""
    first, *rest = verified.items()
    run = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "name": target.name,
           "board": {"name": board.name, "part": board.part, "clock_period_ns": clock_period(board, target.clock_period),
                     "clock_uncertainty": board.clock_uncertainty},
           "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "hgq_fpga_version": __version__,
           "keras_model": KERAS_FILE, "firmware": FIRMWARE_DIR,
           "backends": {name: {"path": name, **project.info} for name, project in zip(target.backends, projects)},
           "verification": verification_record(first[1], first[0]),
           "checks": [verification_record(r, label) for label, r in rest]}
    if synthesis:
        run["synthesis"] = dict(synthesis)
    return run


@dataclass
class DesignResult:
    """What :func:`build_design` produced: the folder, the firmware, its verifications and report data."""

    path: Path
    firmware: Any
    #: the :class:`~hgq_fpga.checks.verify.VerificationReport` on the first data set
    verification: Any
    run: dict
    report: dict = field(default_factory=dict)
    #: the verifications on the ``checks`` data sets (held-out data), in their order
    checks: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when Keras, the emulator and every project agreed on every value of every data set."""
        return all(r.mismatches == 0 for r in (self.verification, *self.checks))

    def __str__(self) -> str:
        from hgq_fpga.app.report.console import summary_text

        return summary_text(self.report, self.path)


def check_destination(out: Path, replace: bool) -> None:
    """Raise :class:`DesignError` unless a design folder may be written at ``out``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise DesignError(f"output {out} exists and is a file, not a folder")
    if not any(out.iterdir()):
        return
    if not replace:
        raise DesignError(f"output folder {out} already exists; choose another folder, or replace it "
                          "(--force on the command line, replace=True in Python)")
    if not is_design_folder(out):
        raise DesignError(f"refusing to replace {out}: it is not a design folder written by hgq_fpga "
                          f"(no {MANIFEST} in it)")


def _synthesize(projects: Sequence[Project], target: Target, stack: ExitStack, stages: Stages) -> dict:
    """Start synthesis of every project whose backend synthesizes within a design; {name: run}."""
    if not target.synth:
        return {}
    runs = {}
    for name, project in zip(target.backends, projects):
        if get_backend(name).synth_in_design:
            runs[name] = stack.enter_context(project.start_synth(board=target.board))
            stages.note(f"{name}: synthesis started in the background")
    return runs


def _finish_synthesis(runs: dict, stages: Stages) -> dict:
    """Wait for the synthesis runs; their figures by backend."""
    figures = {}
    for name, job in runs.items():
        with stages.stage(f"{name}: waiting for synthesis"):
            figures[name] = job.wait()
    return figures


def build_design(model, calibration_data, out: str | Path, *, checks: Mapping[str, Any] | None = None,
                 labelled: LabelledData | tuple | None = None, calibrate: bool = True, replace: bool = False,
                 force: bool = False, record: Mapping[str, Any] | None = None,
                 evaluate: Callable[[Any], dict] | None = None, extra_files: Callable[[Path], None] | None = None,
                 progress: Stages | bool = True, target: Target | None = None, **target_options) -> DesignResult:
    """Calibrate ``model``, freeze it, write and compile each backend's project, verify, report.

    ``calibration_data`` fixes every activation's range. ``checks`` (``{label: inputs}``, default
    ``{"calibration data": calibration_data}``): the data sets on which Keras, the emulator and every
    project are compared; the first is the design's verification. ``labelled``: held-out inputs and
    integer labels of a classifier (a :class:`LabelledData`, or ``(x, y)``) for the per-class
    accuracy and ROC curves, Keras (``model`` before calibration) beside the firmware.
    ``calibrate=False`` keeps the fixed types of a model that has them (post-training
    quantization, imports). ``replace``: replace a design folder at ``out`` (never a folder hgq_fpga
    did not write); ``force`` also one that appeared while this ran. ``record``: more manifest
    entries (``metrics``, ``training``, ``input_image``); ``evaluate(fw)`` returns metrics measured on
    the firmware; ``extra_files(folder)`` adds files before the folder is moved into place.
    ``progress``: one line per stage with its time on standard error (``False``: none; or
    :class:`~hgq_fpga.app.stages.Stages` of your own console).
    ``target`` or its fields as keywords (``board``, ``name``, ``clock_period``, ``backends``,
    ``synth``, ``options``; see :class:`Target`; ``backend="both"`` is read as ``backends``).

    Returns a :class:`DesignResult`. A verification mismatch does not raise: check ``result.ok``.
    """
    from hgq_fpga.nn.calibration import calibrate as calibrate_model
    from hgq_fpga.nn.freeze import to_firmware

    if "backend" in target_options:
        target_options["backends"] = backend_list(target_options.pop("backend"))
    target, board = (target or Target(**target_options)).checked()
    out = Path(out).resolve()
    check_destination(out, replace or force)
    checks = dict(checks or {"calibration data": calibration_data})
    labelled = LabelledData.of(labelled)
    keras_scores = None if labelled is None else model_scores(model, labelled)
    seen = observe(out)
    stages = stages_for(progress)
    with staging_folder(out) as staging, ExitStack() as stack:
        if calibrate:
            with stages.stage(f"calibrating on {_samples(calibration_data):,} samples"):
                calibrate_model(model, calibration_data)
        with stages.stage("freezing into the firmware IR"):
            fw = to_firmware(model)  # refuses a model without fixed types
            fw.save(staging / FIRMWARE_DIR)
        projects = write_projects(fw, staging, target, _first_samples(calibration_data, TESTBENCH_SAMPLES), stages)
        synthesis = _synthesize(projects, target, stack, stages)   # Yosys runs while the simulations compile
        compile_projects(projects, stages)
        model.save(staging / KERAS_FILE)
        verified = verify_all(model, checks, fw, projects, stages)
        run = manifest(target, board, projects, verified, _finish_synthesis(synthesis, stages))
        run.update(record or {})
        run["metrics"] = {**(run.get("metrics") or {}), **(evaluate(fw) if evaluate is not None else {})}
        if labelled is not None:
            run["classification"] = classification_record(labelled, fw.predict(labelled.x), keras_scores)
        with stages.stage("profiling the weights and activations"):
            label, x_profile = list(checks.items())[-1]     # held-out data where there is some
            run["profile"] = profile_record(model, fw, x_profile, label)
        if extra_files is not None:
            extra_files(staging)
        (staging / MANIFEST).write_text(json.dumps(run, indent=1) + "\n")
        with stages.stage("writing the report"):
            data = write_report(fw, staging / REPORT_DIR, run)
        try:
            move_into_place(staging, out, seen=seen, ours=is_design_folder, force=force)
        except FileExistsError as e:
            raise DesignError(str(e)) from None
    reports = list(verified.values())
    return DesignResult(out, fw, reports[0], run, data, reports[1:])


def _samples(data) -> int:
    return len(data[0]) if isinstance(data, (list, tuple)) else len(data)


def _first_samples(data, n: int):
    """The first ``n`` samples of an array, or of each array of a list (several model inputs)."""
    return [np.asarray(a)[:n] for a in data] if isinstance(data, (list, tuple)) else np.asarray(data)[:n]


def next_command(path: Path, run: dict) -> str:
    """What to run next in a design folder: synthesis of the first project that a board tool builds."""
    from shlex import quote

    board = run["board"]["name"]
    backends = run.get("backends") or {}
    for name in ("rtl", "hls", *backends):
        if name in backends and name != "cpp":
            return f"cd {quote(str(Path(path) / backends[name]['path']))} && make synth BOARD={quote(board)}"
    return f"hgq-fpga verify {quote(str(path))} --data DATA"

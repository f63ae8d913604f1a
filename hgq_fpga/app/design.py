"""From a trained HGQ model to a verified, self-contained *design folder*; and back.

A design folder is an HLS project (``make csim``, ``make synth BOARD=...``), an RTL project in
``rtl/`` (``make sim``, ``make synth BOARD=...``), or both (``backend="hls"|"rtl"|"both"``), with
three additions that let every later step work from the folder alone:

    DIR/
      Makefile, build_prj.tcl, firmware/, tb/   the HLS project (hgq_fpga.backends.hls.writer)
      rtl/                                      the Verilog RTL project (hgq_fpga.backends.rtl)
      ir/                                       the integer firmware IR it was generated from
      model.keras                               the calibrated Keras model (calibrated mode)
      hgq_fpga.json                             the run record: board, verification, metrics, training
      report/                                   report.md, report.json and PNG figures

:func:`build_design` is used by ``hgq-fpga convert``, ``make demo`` and the examples, so all three
produce the same layout. It builds the folder in a hidden temporary sibling and renames it into
place only when everything is written, so a failure leaves no half-written folder and an earlier
result is replaced in one step.
"""

from __future__ import annotations

import json
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from hgq_fpga.folders import move_into_place, observe, staging_folder

MANIFEST = "hgq_fpga.json"
MANIFEST_FORMAT = "hgq_fpga.design"
MANIFEST_VERSION = 1
KERAS_FILE = "model.keras"
FIRMWARE_DIR = "ir"
REPORT_DIR = "report"
#: the RTL project inside a design folder
RTL_DIR = "rtl"
#: ``backend`` choices: which projects a design folder holds
BACKENDS = {"hls": ("hls",), "rtl": ("rtl",), "both": ("hls", "rtl")}
#: the default: see :func:`build_design` (``backend``)
DEFAULT_BACKEND = "hls"
#: samples of the calibration data written as the C testbench's vectors (``make csim``)
TESTBENCH_SAMPLES = 100


class DesignError(ValueError):
    """A folder is not a design folder, or cannot be written where asked; the message says why."""


@dataclass
class DesignResult:
    """What :func:`build_design` produced: the folder, the firmware, its verification and report data."""

    path: Path
    firmware: Any
    verification: Any
    run: dict
    report: dict = field(default_factory=dict)
    #: the verifications on the ``checks`` data sets (held-out data), in their order
    checks: list = field(default_factory=list)

    #: the synthesis report of the RTL project (``synth=True``), else None
    rtl_synthesis: dict | None = None

    @property
    def ok(self) -> bool:
        """True when Keras, the emulator and the C++ / RTL simulations agreed on every value of every data set."""
        return all(r.mismatches == 0 for r in (self.verification, *self.checks))


def verification_record(report, data_label: str) -> dict:
    """The JSON form of a :class:`hgq_fpga.checks.verify.VerificationReport`."""
    return {
        "data": data_label,
        "samples": int(report.samples),
        "mismatches": int(report.mismatches),
        "keras_vs_emulator": int(report.keras_vs_emulator),
        "emulator_vs_csim": None if report.emulator_vs_csim is None else int(report.emulator_vs_csim),
        "emulator_vs": {name: int(n) for name, n in (report.emulator_vs or {}).items()},
        "chain": report.implementations,
        "ok": bool(report.ok),
        "overflow": None if report.overflow is None else report.overflow.to_dict(),
        "details": str(report),
    }


def _first_samples(data, n: int):
    """The first ``n`` samples of an array, or of each array of a list (several model inputs)."""
    return [a[:n] for a in data] if isinstance(data, (list, tuple)) else data[:n]


def is_design_folder(path: Path) -> bool:
    """Whether ``path`` is a design folder that hgq_fpga wrote (it holds the run record)."""
    return (Path(path) / MANIFEST).is_file()


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
    if not (out / MANIFEST).is_file():
        raise DesignError(f"refusing to replace {out}: it is not a design folder written by hgq_fpga "
                          f"(no {MANIFEST} in it)")


def build_design(model, calibration_data: np.ndarray, out: str | Path, *, board: str = "vu9p",
                 name: str = "myproject", clock_period: float | None = None,
                 verification_data: np.ndarray | None = None,
                 verification_label: str = "calibration data", metrics: dict | None = None,
                 evaluate: Callable[[Any], dict] | None = None, training: dict | None = None,
                 checks: dict[str, np.ndarray] | None = None, replace: bool = False,
                 force: bool = False, extra_files: Callable[[Path], None] | None = None,
                 calibrate: bool = True, backend: str = DEFAULT_BACKEND, synth: bool = False,
                 rtl_options: dict | None = None,
                 labelled: tuple[np.ndarray, np.ndarray] | None = None,
                 labelled_label: str = "test data", class_names: list[str] | None = None,
                 input_image: tuple[int, ...] | None = None) -> DesignResult:
    """Calibrate ``model``, write its HLS and/or RTL project, compile the simulations, verify, report.

    Args:
        model: a trained HGQ Keras model (it is calibrated in place).
        calibration_data: inputs ``(batch, *input_shape)`` that fix every activation's range.
        out: the design folder to create.
        board: board name, alias or YAML file (see :mod:`hgq_fpga.backends.common.board`).
        name: the project and top-function name.
        clock_period: clock period in ns (default: the board's).
        verification_data: inputs on which Keras, the emulator and the C++ are compared
            (default: the calibration data); ``verification_label`` says what they are.
        metrics: numbers of the run to report, e.g. ``{"learning rate": 0.003}``.
        evaluate: called with the firmware IR once it exists; the numbers it returns (e.g.
            ``{"test accuracy": 0.97}`` computed with ``fw.predict``) join ``metrics``, so that
            reported accuracies are those of the firmware itself.
        training: the training record (Pareto front, chosen checkpoint, per-epoch numbers).
        checks: further data sets to verify on, ``{label: inputs}`` (held-out data, say); each
            gets its own record in ``run["checks"]`` and counts for ``result.ok``.
        replace: replace the design folder that is at ``out`` when the call starts (never a folder
            hgq_fpga did not write).
        force: also replace a design folder that appeared at ``out`` while this call ran (as
            ``--force`` does); without it, the call fails and leaves that folder as it is.
        extra_files: called with the staging folder to add files before it is moved into place.
        calibrate: calibrate ``model`` on the calibration data first; ``False`` keeps the fixed
            types of a model that already has them (e.g. from post-training quantization).
        backend: ``"hls"`` (default: the Vitis HLS project and its C simulation, needs only g++),
            ``"rtl"`` (the Verilog project in ``DIR/rtl/``, simulated with Verilator) or
            ``"both"``; every project written is verified against the emulator.
        synth: also synthesize the RTL project with Yosys (``make synth`` in ``DIR/rtl``; needs
            ``backend`` ``"rtl"`` or ``"both"``), so that the report shows LUTs and flip-flops.
        rtl_options: further arguments of :func:`hgq_fpga.backends.rtl.write_project`
            (``levels``, ``register_inputs``, ...).
        labelled: held-out inputs and their integer class labels ``(x, y)`` of a classifier
            (one output, one score per class): the report gets a per-class accuracy table and a
            ROC curve per class, Keras (``model`` before calibration) beside the firmware
            (:mod:`hgq_fpga.app.report.classification`); ``labelled_label`` says what they are,
            ``class_names`` names the classes (default 0, 1, 2, ...).
        input_image: ``(height, width[, channels])`` when the flat input is an image (``(8, 8)``
            for the digits): the report draws each first-layer unit's weight bits as an image.

    Returns:
        A :class:`DesignResult`. A verification mismatch does not raise: check ``result.ok``.
    """
    import hgq_fpga
    from hgq_fpga.backends.common.board import load_board
    from hgq_fpga.app.report import write_report

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if synth and "rtl" not in BACKENDS[backend]:
        raise ValueError(f"synth=True synthesizes the RTL project: use backend 'rtl' or 'both', not {backend!r}")
    target = load_board(board)
    if clock_period is not None and not clock_period > 0:
        raise ValueError(f"clock period must be a positive number of ns, got {clock_period}")
    out = Path(out).resolve()
    check_destination(out, replace or force)
    seen = observe(out)
    keras_scores = None
    if labelled is not None:   # before calibration: the model as trained; refused early if not a classifier
        from hgq_fpga.app.report.classification import check_classifier

        keras_scores = np.asarray(model.predict(labelled[0], verbose=0, batch_size=1024))
        check_classifier(keras_scores, labelled[1])
    with staging_folder(out) as staging, ExitStack() as stack:
        if calibrate:
            hgq_fpga.calibrate(model, calibration_data)
        fw = hgq_fpga.to_firmware(model)  # refuses a model without fixed types
        projects = _write_projects(fw, staging, BACKENDS[backend], board=board, name=name,
                                   clock_period=clock_period, rtl_options=rtl_options,
                                   tb_data=_first_samples(calibration_data, TESTBENCH_SAMPLES))
        # Yosys is single-threaded: it runs while the simulations are compiled and compared
        synthesis = projects[-1].start_synth(board=target.name, tool="yosys") if synth else None
        stack.enter_context(synthesis or nullcontext())
        compile_all(projects)
        model.save(staging / KERAS_FILE)
        measured = dict(metrics or {})
        if evaluate is not None:
            measured.update(evaluate(fw))
        x_check = calibration_data if verification_data is None else verification_data
        report = hgq_fpga.verify(model, x_check, firmware=fw, project=projects)
        checked = [(label, hgq_fpga.verify(model, x, firmware=fw, project=projects))
                   for label, x in (checks or {}).items()]
        rtl_synthesis = synthesis.wait() if synthesis is not None else None
        run = {
            "format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "name": name,
            "board": {"name": target.name, "part": target.part,
                      "clock_period_ns": float(clock_period or target.clock_period_ns),
                      "clock_uncertainty": target.clock_uncertainty},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "hgq_fpga_version": hgq_fpga.__version__,
            "keras_model": KERAS_FILE, "firmware": FIRMWARE_DIR,
            "backends": list(BACKENDS[backend]),
            **({"rtl": _rtl_record(projects[-1])} if "rtl" in BACKENDS[backend] else {}),
            "verification": verification_record(report, verification_label),
            "metrics": measured,
        }
        if checked:
            run["checks"] = [verification_record(r, label) for label, r in checked]
        if training:
            run["training"] = training
        if input_image is not None:
            run["input_image"] = [int(d) for d in input_image]
        if labelled is not None:
            from hgq_fpga.app.report.classification import classification_record

            run["classification"] = classification_record(labelled[1], fw.predict(labelled[0]), keras_scores,
                                                          labelled_label, class_names)
        if extra_files is not None:
            extra_files(staging)
        (staging / MANIFEST).write_text(json.dumps(run, indent=1) + "\n")
        data = write_report(fw, staging / REPORT_DIR, run, project_dir=staging)
        try:
            move_into_place(staging, out, seen=seen, ours=is_design_folder, force=force)
        except FileExistsError as e:
            raise DesignError(str(e)) from None
    return DesignResult(out, fw, report, run, data, [r for _, r in checked], rtl_synthesis)


def next_command(path: Path, run: dict) -> str:
    """What to run next in a design folder: synthesis of its HLS project, else of its RTL project."""
    board = run["board"]["name"]
    if "hls" in (run.get("backends") or ("hls",)):
        return f"cd {path} && make synth BOARD={board}"
    return f"cd {Path(path) / RTL_DIR} && make synth BOARD={board}"


def _write_projects(fw, folder: Path, backends: tuple[str, ...], *, board: str, name: str,
                    clock_period: float | None, rtl_options: dict | None, tb_data) -> list:
    """Write the projects of ``backends`` into ``folder`` (not yet compiled); the HLS one first.
    The C++ is compiled as HLS synthesises it (``macs="ap_fixed"``) for the verification."""
    projects = []
    if "hls" in backends:
        from hgq_fpga.backends.hls.writer import write_project as write_hls
        projects.append(write_hls(fw, folder, board=board, name=name, clock_period=clock_period,
                                  tb_data=tb_data))
    else:
        fw.save(folder / FIRMWARE_DIR)   # the HLS project holds it; without one, the folder does
    if "rtl" in backends:
        from hgq_fpga.backends.rtl import write_project as write_rtl
        projects.append(write_rtl(fw, folder / RTL_DIR, board=board, clock_period=clock_period,
                                  **(rtl_options or {})))
    return projects


def compile_all(projects: list) -> list:
    """Compile every project's simulation: the C++ exactly as HLS synthesises it, the RTL with
    Verilator; returns ``projects``."""
    for prj in projects:
        if prj.verification_name == "C++":
            prj.compile(macs="ap_fixed")
        else:
            prj.compile()
    return projects


def _rtl_record(project) -> dict:
    """What the run record keeps of the RTL project: where it is and its pipeline."""
    info = project.info
    return {"path": RTL_DIR, "top": info["top"], "latency_cycles": int(info["latency_cycles"]),
            "clock_period_ns": float(info["clock_period_ns"]), "levels_per_stage": int(info["levels_per_stage"]),
            "register_inputs": bool(info.get("register_inputs")),
            "register_outputs": bool(info.get("register_outputs"))}


@dataclass
class Design:
    """An existing design folder, opened for verification, emulation or reporting."""

    path: Path
    run: dict

    @property
    def name(self) -> str:
        return str(self.run.get("name", "myproject"))

    def firmware(self):
        """The firmware IR (numpy only)."""
        from hgq_fpga.ir import load_firmware

        return load_firmware(self.path / self.run.get("firmware", FIRMWARE_DIR))

    def keras_model(self):
        """The calibrated Keras model saved at conversion (checked before loading: a design folder
        may come from someone else, see docs/model_files.md)."""
        from hgq_fpga.nn.model_files import load_keras_model

        path = self.path / self.run.get("keras_model", KERAS_FILE)
        if not path.is_file():
            raise DesignError(f"{path} is missing: the design folder is incomplete")
        return load_keras_model(path)

    @property
    def backends(self) -> tuple[str, ...]:
        """The projects the folder holds (``("hls",)`` for folders written before the RTL backend)."""
        return tuple(self.run.get("backends") or ("hls",))

    def project(self, firmware=None):
        """The HLS project's C simulation (compiled on first use)."""
        from hgq_fpga.backends.hls.writer import HLSProject

        if "hls" not in self.backends:
            raise DesignError(f"{self.path} holds no HLS project (converted with --backend "
                              f"{'+'.join(self.backends)}); convert again with --backend hls or both")
        return HLSProject(firmware if firmware is not None else self.firmware(), self.path, self.name)

    def rtl_project(self, firmware=None):
        """The RTL project in ``rtl/`` (Verilator simulation compiled on first use)."""
        from hgq_fpga.backends.rtl import RTLProject

        folder = self.path / (self.run.get("rtl") or {}).get("path", RTL_DIR)
        if "rtl" not in self.backends or not (folder / "project.json").is_file():
            raise DesignError(f"{self.path} holds no RTL project; convert again with --backend rtl or both")
        return RTLProject(firmware if firmware is not None else self.firmware(), folder)

    def projects(self, firmware=None) -> list:
        """Every project of the folder, compiled, in verification order (C++ first, then RTL)."""
        fw = firmware if firmware is not None else self.firmware()
        found = ([self.project(fw)] if "hls" in self.backends else []) \
            + ([self.rtl_project(fw)] if "rtl" in self.backends else [])
        return compile_all(found)

    def save_run(self) -> None:
        """Write the run record back (after a new verification, for instance)."""
        (self.path / MANIFEST).write_text(json.dumps(self.run, indent=1) + "\n")


#: the earlier name of :func:`build_design`
convert = build_design


def open_design(path: str | Path) -> Design:
    """Open a design folder written by :func:`build_design`; a clear :class:`DesignError` otherwise."""
    path = Path(path)
    if not path.exists():
        raise DesignError(f"design folder {path} does not exist")
    if not path.is_dir():
        raise DesignError(f"{path} is a file; give the folder written by `hgq-fpga convert`")
    manifest = path / MANIFEST
    if not manifest.is_file() and (path / "build_prj.tcl").is_file() and (path / FIRMWARE_DIR).is_dir():
        raise DesignError(f"{path} is an HLS project (write_project), not a design folder: build the design "
                          "folder that every command reads with hgq_fpga.app.design.build_design(model, "
                          "calibration_data, DIR) or `hgq-fpga convert`")
    if not manifest.is_file():
        raise DesignError(f"{path} is not a design folder written by `hgq-fpga convert` (no {MANIFEST})")
    return Design(path, _read_run_record(manifest))


def _read_run_record(manifest: Path) -> dict:
    """The parsed run record; :class:`DesignError` if it is not JSON of the format this version writes."""
    try:
        run = json.loads(manifest.read_text())
    except json.JSONDecodeError as err:
        raise DesignError(f"{manifest} is not valid JSON ({err})") from None
    expected = (MANIFEST_FORMAT, MANIFEST_VERSION)
    found = (run.get("format"), run.get("version")) if isinstance(run, dict) else None
    if found != expected:
        raise DesignError(f"{manifest} is not a version-{MANIFEST_VERSION} {MANIFEST_FORMAT} record "
                          f"(found {found}); convert the model again with this hgq_fpga")
    return run

"""A design folder, opened to check, emulate or report it: its manifest, firmware, model and projects.

A *design folder* is what a user ships (``hgq-fpga convert``, :func:`hgq_fpga.app.design.build_design`).
Its manifest ``hgq_fpga.json`` says what it holds; everything else is found through it::

    DIR/
      hgq_fpga.json      the manifest: board, the projects (backend -> folder), verifications, metrics
      ir/                the firmware IR, written once (every project was generated from it)
      model.keras        the calibrated Keras model
      hls/, rtl/, cpp/   one project per backend (hgq_fpga.backends.registry), as the manifest lists
      report/            report.md, report.json and figures

The projects are reopened through the backend registry only, so a folder with a project of a
backend registered later (say ``vhdl``) opens like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hgq_fpga.backends.registry import Project, UnknownBackendError, get_backend

MANIFEST = "hgq_fpga.json"
MANIFEST_FORMAT = "hgq_fpga.design"
#: 2: projects in folders of their own, listed in the manifest (1: the folder was the HLS project)
MANIFEST_VERSION = 2
KERAS_FILE = "model.keras"
FIRMWARE_DIR = "ir"
REPORT_DIR = "report"


class DesignError(ValueError):
    """A folder is not a design folder, or cannot be written where asked; the message says why."""


def is_design_folder(path: Path) -> bool:
    """Whether ``path`` is a design folder that hgq_fpga wrote (it holds the manifest)."""
    return (Path(path) / MANIFEST).is_file()


@dataclass
class Design:
    """An existing design folder: ``path`` and its manifest ``run``."""

    path: Path
    run: dict

    @property
    def name(self) -> str:
        return str(self.run.get("name", "myproject"))

    @property
    def backends(self) -> list[str]:
        """The backends whose projects the folder holds, in the manifest's order."""
        return list(self.run.get("backends") or {})

    def firmware(self):
        """The firmware IR (numpy only)."""
        from hgq_fpga.ir.model import load_firmware

        return load_firmware(self.path / FIRMWARE_DIR)

    def keras_model(self):
        """The calibrated Keras model saved at conversion."""
        from hgq_fpga.nn.model_files import load_keras_model

        path = self.path / KERAS_FILE
        if not path.is_file():
            raise DesignError(f"{path} is missing: the design folder is incomplete")
        return load_keras_model(path)

    def project(self, backend: str, firmware=None) -> Project:
        """The project of ``backend`` (not compiled)."""
        record = (self.run.get("backends") or {}).get(backend)
        if record is None:
            raise DesignError(f"{self.path} holds no {backend} project (it holds "
                              f"{', '.join(self.backends) or 'none'}); convert again with --backend {backend}")
        try:
            found = get_backend(backend)
        except UnknownBackendError as err:
            raise DesignError(f"{self.path} holds a {backend} project, but {err}") from None
        return found.open_project(firmware if firmware is not None else self.firmware(),
                                  self.path / record["path"])

    def projects(self, firmware=None, compile: bool = True) -> list[Project]:
        """Every project of the folder, in the manifest's order; compiled unless ``compile=False``."""
        fw = firmware if firmware is not None else self.firmware()
        found = [self.project(name, fw) for name in self.backends]
        if compile:
            for project in found:
                project.compile()
        return found

    def save_run(self) -> None:
        """Write the manifest back (after a new verification, for instance)."""
        (self.path / MANIFEST).write_text(json.dumps(self.run, indent=1) + "\n")


def open_design(path: str | Path) -> Design:
    """Open a design folder; a clear :class:`DesignError` otherwise."""
    path = Path(path)
    if not path.exists():
        raise DesignError(f"design folder {path} does not exist")
    if not path.is_dir():
        raise DesignError(f"{path} is a file; give the folder written by `hgq-fpga convert`")
    manifest = path / MANIFEST
    kind = _project_kind(path)
    if not manifest.is_file() and kind is not None:
        raise DesignError(f"{path} is an {kind} project (a backend's write_project), not a design folder: build "
                          "the design folder that every command reads with hgq_fpga.app.design.build_design(model, "
                          "calibration_data, DIR) or `hgq-fpga convert`")
    if not manifest.is_file():
        raise DesignError(f"{path} is not a design folder written by `hgq-fpga convert` (no {MANIFEST})")
    return Design(path, read_manifest(manifest))


def _project_kind(path: Path) -> str | None:
    """``"HLS"``, ``"RTL"``, ... when ``path`` is a single project that a backend wrote, else None."""
    try:
        written_by = json.loads((path / "project.json").read_text()).get("written_by", "")
    except (OSError, ValueError, AttributeError):
        return None
    words = str(written_by).split()
    return words[1].upper() if len(words) == 3 and words[0] == "hgq_fpga" and words[2] == "project" else None


def read_manifest(manifest: Path) -> dict:
    """The parsed manifest; :class:`DesignError` if it is not JSON of the format this version writes."""
    try:
        run = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DesignError(f"{manifest} is not valid JSON ({err})") from None
    expected = (MANIFEST_FORMAT, MANIFEST_VERSION)
    found = (run.get("format"), run.get("version")) if isinstance(run, dict) else None
    if found != expected:
        raise DesignError(f"{manifest} is not a version-{MANIFEST_VERSION} {MANIFEST_FORMAT} record "
                          f"(found {found}); convert the model again with this hgq_fpga")
    return run

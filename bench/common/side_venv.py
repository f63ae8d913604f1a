"""Virtual environments of their own for benchmark-only tools (alkaid, HGQ2), created from PyPI on
first use and never mixed with the project's venv (HGQ2's wheel, for one, overwrites ``qkeras``)."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path
from typing import Sequence

#: the environment of a readiness probe: quiet TensorFlow, the TensorFlow backend, a minimal PATH
_PROBE_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "PATH": "/usr/bin:/bin"}


class VenvError(RuntimeError):
    """A benchmark venv could not be created or does not work."""


def venv_python(path: Path) -> Path:
    """The Python interpreter of the venv at ``path`` (not checked)."""
    return Path(path) / "bin" / "python"


def venv_ready(python: Path, probe: str) -> bool:
    """Whether ``python`` exists and runs the Python code ``probe`` without error."""
    if not Path(python).is_file():
        return False
    return subprocess.run([str(python), "-c", probe], capture_output=True, text=True,
                          env=_PROBE_ENV).returncode == 0


def ensure_venv(path: Path, packages: Sequence[str], probe: str, base_python: str | None = None) -> Path:
    """The Python of the venv at ``path``, created with ``pip install packages`` when ``probe``
    fails there (missing or broken venv).

    Raises:
        VenvError: ``venv`` or ``pip`` failed (their last output lines are in the message), or the
            new venv still fails ``probe``.
    """
    path = Path(path)
    python = venv_python(path)
    if venv_ready(python, probe):
        return python
    path.parent.mkdir(parents=True, exist_ok=True)
    # one creator at a time (several Dask workers may ask at once); the others wait, then reuse it
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if venv_ready(python, probe):
            return python
        _create(path, python, packages, probe, base_python)
    return python


def _create(path: Path, python: Path, packages: Sequence[str], probe: str, base_python: str | None) -> None:
    print(f"creating {path} with {' '.join(packages)} (minutes)", flush=True)
    _step([base_python or _base_python(), "-m", "venv", "--clear", str(path)], f"python -m venv {path}")
    _step([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *packages],
          f"pip install {' '.join(packages)} into {path}")
    if not venv_ready(python, probe):
        raise VenvError(f"{path}: created, but its python fails the check {probe!r}")


def _base_python() -> str:
    """A python3 with the ``venv`` module: this interpreter's base (not the project venv itself)."""
    base = Path(sys.base_prefix) / "bin" / "python3"
    return str(base) if base.is_file() else "python3"


def _step(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise VenvError(f"{what} failed (exit {proc.returncode}):\n{tail}")

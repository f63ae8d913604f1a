"""The separate virtual environment of HGQ2 (PyPI ``hgq2==0.2.0``), the reference of the
training-time benchmark.

HGQ2 must never be installed next to ``hgq_fpga``: its wheel ships a top-level ``qkeras`` package
that overwrites the real QKeras. So the bench creates a venv of its own (``python3 -m venv``) with
the same TensorFlow, Keras and NumPy as ours, pinned, and talks to it through
``bench/hgq2_worker.py`` (a subprocess that imports only numpy, keras and hgq).

hgq2 0.2.0's metadata asks for ``keras>=3.15``, ``quantizers>=1.2.2`` and ``tqdm``; all are pinned
here so that the comparison runs on the same Keras (3.15.1) and backend as ours.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DEFAULT_VENV = Path("/work/venvs/hgq2")
#: everything the HGQ2 venv holds, pinned: the same TensorFlow / Keras / NumPy as the project's venv
PACKAGES = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "numpy==2.4.6", "hgq2==0.2.0", "quantizers==1.2.2", "tqdm")
#: what ``ensure_hgq2_venv`` checks in an existing venv before trusting it
_PROBE = ("import importlib.metadata as m, keras, hgq; "
          "assert m.version('hgq2') == '0.2.0', m.version('hgq2'); print(keras.__version__)")


class HGQ2EnvError(RuntimeError):
    """The HGQ2 virtual environment could not be created or does not work."""


def venv_python(path: Path) -> Path:
    """The Python interpreter of the venv at ``path`` (not checked)."""
    return Path(path) / "bin" / "python"


def hgq2_ready(python: Path) -> bool:
    """Whether ``python`` exists and imports hgq2 0.2.0 and Keras."""
    if not Path(python).is_file():
        return False
    proc = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True,
                          env={"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "PATH": "/usr/bin:/bin"})
    return proc.returncode == 0


def ensure_hgq2_venv(path: Path = DEFAULT_VENV, base_python: str | None = None) -> Path:
    """The Python of the HGQ2 venv at ``path``, created from PyPI (``PACKAGES``) when missing or broken.

    Raises:
        HGQ2EnvError: ``venv`` or ``pip`` failed (pip's last output lines are in the message), or the
            new venv still cannot import hgq2 0.2.0.
    """
    path = Path(path)
    python = venv_python(path)
    if hgq2_ready(python):
        return python
    base = base_python or _base_python()
    print(f"creating {path} with {' '.join(PACKAGES)} (minutes)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _step([base, "-m", "venv", "--clear", str(path)], f"python -m venv {path}")
    _step([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PACKAGES],
          f"pip install {' '.join(PACKAGES)} into {path}")
    if not hgq2_ready(python):
        raise HGQ2EnvError(f"{path}: created, but its python cannot import hgq2 0.2.0 and keras")
    return python


def _base_python() -> str:
    """A python3 with the ``venv`` module: this interpreter's base (not the project venv itself)."""
    return str(Path(sys.base_prefix) / "bin" / "python3") if (Path(sys.base_prefix) / "bin" / "python3").is_file() \
        else "python3"


def _step(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HGQ2EnvError(f"{what} failed (exit {proc.returncode}):\n{tail}")

"""The separate virtual environment of HGQ2 (PyPI ``hgq2==0.2.0``), the reference of the
training-time and seeded studies, and the command line of its worker.

HGQ2 must never be installed next to ``hgq_fpga``: its wheel ships a top-level ``qkeras`` package
that overwrites the real QKeras. So the bench creates a venv of its own (``python3 -m venv``) with
the same TensorFlow, Keras and NumPy as ours, pinned, and talks to it through
``bench/contenders/hgq2_worker.py`` (a subprocess that imports only numpy, keras and hgq).

hgq2 0.2.0's metadata asks for ``keras>=3.15``, ``quantizers>=1.2.2`` and ``tqdm``; all are pinned
here so that the comparison runs on the same Keras (3.15.1) and backend as ours, and so is JAX
(the version of the project's ``jax`` extra), for the JAX timing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.common.side_venv import VenvError, ensure_venv, venv_ready

DEFAULT_VENV = Path("/work/venvs/hgq2")
WORKER = Path(__file__).resolve().parent / "hgq2_worker.py"
#: everything the HGQ2 venv holds, pinned: the same TensorFlow / Keras / NumPy as the project's venv
PACKAGES = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "numpy==2.4.6", "hgq2==0.2.0", "quantizers==1.2.2", "tqdm",
            "jax[cpu]==0.10.2")
#: what an existing venv must pass before it is trusted
_PROBE = ("import importlib.metadata as m, keras, hgq, jax; "
          "assert m.version('hgq2') == '0.2.0', m.version('hgq2'); print(keras.__version__)")
#: the HGQ2 venv could not be created or does not work
HGQ2EnvError = VenvError


def hgq2_ready(python: Path) -> bool:
    """Whether ``python`` exists and imports hgq2 0.2.0 and Keras."""
    return venv_ready(python, _PROBE)


def ensure_hgq2_venv(path: Path = DEFAULT_VENV, base_python: str | None = None) -> Path:
    """The Python of the HGQ2 venv at ``path``, created from PyPI (``PACKAGES``) when missing or broken.

    Raises:
        HGQ2EnvError: ``venv`` or ``pip`` failed, or the new venv still cannot import hgq2 0.2.0.
    """
    return ensure_venv(path, PACKAGES, _PROBE, base_python)


def worker_command(python: Path, mode: str, settings: dict) -> list[str]:
    """The command line of the HGQ2 worker in ``mode`` ("timing" or "front"), run by ``python``."""
    return [str(python), str(WORKER), mode, json.dumps(settings)]


def worker_env(backend: str = "tensorflow") -> dict[str, str]:
    """The HGQ2 worker's environment: ours without PYTHONPATH (hgq_fpga must not be importable
    there), TensorFlow's C++ log quiet, the Keras ``backend`` (TensorFlow unless told)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": backend}

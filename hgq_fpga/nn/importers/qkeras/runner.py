"""Run QKeras 0.9 in a subprocess with the legacy Keras 2 environment.

QKeras 0.9 needs Keras 2 (``tf_keras``), which TensorFlow selects only when ``TF_USE_LEGACY_KERAS=1``
is set *before* it is imported. The user's process runs Keras 3 and never sees that flag: each call
here starts ``python -m hgq_fpga.nn.importers.qkeras.keras2_reader`` (the same interpreter) with the flag
set, and exchanges files in a temporary folder.

A failed subprocess becomes one short line: a :class:`QKerasImportError` where the reader refused
the model (naming the layer or input), a :class:`LegacyEnvironmentError` otherwise. Its stderr (the
Keras 2 traceback) is the error's ``__cause__``, which ``hgq-fpga --debug`` prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from hgq_fpga.nn.importers.qkeras.description import FAILED, REFUSED, ModelDescription, short_line
from hgq_fpga.nn.importers.qkeras.file_check import TRUST_FLAG, check_qkeras_file, refuse_keras3_file
from hgq_fpga.nn.importers.qkeras.quantizers import QKerasImportError
from hgq_fpga.nn.model_files import offer

#: seconds one reader subprocess may take (loading TensorFlow alone takes several)
TIMEOUT_S = 600
_READER = "hgq_fpga.nn.importers.qkeras.keras2_reader"
_INSTALL_HINT = ("QKeras 0.9 and tf_keras are installed by `make install` (requirements-qkeras.txt, "
                 "installed with --no-deps so that TensorFlow and absl-py stay as they are)")


class LegacyEnvironmentError(RuntimeError):
    """The legacy QKeras subprocess failed for a reason other than the model (one line)."""


class Keras2Report(Exception):
    """What the Keras 2 subprocess wrote to stderr (its traceback): the cause of the error raised here."""


def legacy_env() -> dict[str, str]:
    """The subprocess environment: ours, plus ``TF_USE_LEGACY_KERAS=1`` and this package on the path."""
    env = dict(os.environ)
    env["TF_USE_LEGACY_KERAS"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    root = str(Path(__file__).resolve().parents[3])  # the folder that holds the hgq_fpga package
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def run_legacy(args: list[str], what: str) -> None:
    """Run ``python -m <module> *args`` in the legacy environment; raise with its stderr on failure."""
    cmd = [sys.executable, "-m", *args]
    try:
        done = subprocess.run(cmd, env=legacy_env(), capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise LegacyEnvironmentError(f"{what}: the legacy QKeras subprocess took more than {TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise _failure(done, what) from Keras2Report(done.stderr.strip()[-20000:])


def _failure(done: subprocess.CompletedProcess, what: str) -> Exception:
    """One line for a failed reader run: its own last REFUSED/FAILED line, else the likeliest cause."""
    lines = [l.strip() for l in done.stderr.splitlines() if l.strip()]
    said = [l for l in lines if l.startswith((REFUSED, FAILED))]
    if said and said[-1].startswith(REFUSED):
        return QKerasImportError(f"{what}: {short_line(said[-1][len(REFUSED):])}")
    if "No module named 'qkeras'" in done.stderr or "No module named 'tf_keras'" in done.stderr:
        return LegacyEnvironmentError(f"{what}: QKeras is not installed in {sys.executable}'s environment; "
                                      f"{_INSTALL_HINT}")
    if said:
        return LegacyEnvironmentError(f"{what}: {short_line(said[-1][len(FAILED):])}")
    last = short_line(lines[-1]) if lines else "no message"
    return LegacyEnvironmentError(f"{what}: the Keras 2 subprocess ended with exit status {done.returncode} "
                                  f"({last})")


def _checked(path: str | os.PathLike, trust: bool) -> Path:
    """``path``, resolved, after :func:`check_qkeras_file` (unless ``trust``): nothing loads it before."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"QKeras model {path} does not exist")
    refuse_keras3_file(path)
    if not trust:
        with offer("trust=True"):
            check_qkeras_file(path)
    return path.resolve()


def _trust_args(trust: bool) -> list[str]:
    return [TRUST_FLAG] if trust else []


def describe_qkeras(path: str | os.PathLike, trust: bool = False) -> ModelDescription:
    """Read a QKeras model file in the legacy subprocess and return its neutral description.

    The file is checked first (:func:`check_qkeras_file`: no layer that holds code, only layers the
    importer supports); ``trust=True`` skips that check for a file whose source you trust, and
    ``tf_keras`` then runs whatever code the file holds while it loads it (docs/model_files.md).
    """
    path = _checked(path, trust)
    with tempfile.TemporaryDirectory(prefix="hgq_qkeras_") as tmp:
        run_legacy([_READER, "describe", str(path), tmp, *_trust_args(trust)], f"reading QKeras model {path}")
        return ModelDescription.load(tmp)


def qkeras_predict(path: str | os.PathLike, x: np.ndarray | list[np.ndarray],
                   trust: bool = False) -> np.ndarray | list[np.ndarray]:
    """QKeras's own float32 ``model.predict(x)`` for the model file ``path`` (legacy subprocess).

    As ``model.predict``: ``x`` is an array, or a list of one per model input; the result is an
    array, or a list of one per model output. ``trust`` as in :func:`describe_qkeras`.
    """
    path = _checked(path, trust)
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    with tempfile.TemporaryDirectory(prefix="hgq_qkeras_") as tmp:
        np.savez(Path(tmp) / "x.npz", **{f"x{j}": np.asarray(a, np.float32) for j, a in enumerate(xs)})
        run_legacy([_READER, "predict", str(path), f"{tmp}/x.npz", f"{tmp}/y.npz", *_trust_args(trust)],
                   f"running QKeras model {path}")
        with np.load(Path(tmp) / "y.npz") as data:
            ys = [data[f"y{j}"] for j in range(len(data.files))]
    return ys[0] if len(ys) == 1 else ys


def qkeras_tables(requests: list[dict]) -> dict[str, np.ndarray]:
    """QKeras's own float32 activation quantizers on given input grids, in one legacy subprocess.

    ``requests``: ``[{"key", "quantizer": {"class", "config"}, "domain": [f, lo, hi]}]`` (see
    :func:`hgq_fpga.nn.importers.qkeras.keras2_reader.tables`); returns ``{key: outputs}``.
    """
    with tempfile.TemporaryDirectory(prefix="hgq_qkeras_") as tmp:
        (Path(tmp) / "requests.json").write_text(json.dumps(requests))
        keys = [r["key"] for r in requests]
        named = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        run_legacy([_READER, "table", f"{tmp}/requests.json", f"{tmp}/tables.npz"],
                   f"evaluating QKeras activation tables ({named})")
        with np.load(Path(tmp) / "tables.npz") as data:
            return {k: data[k] for k in data.files}

"""HGQ2's own paths to firmware, checked for exactness against HGQ2's own Keras model (issue 32).

A venv of its own (``/work/venvs/hgq2-firmware``: HGQ2 0.2.0, alkaid 0.8.2 and hls4ml 1.3.0 on the
same TensorFlow, Keras and NumPy as ours, pinned), never the project's: HGQ2 overwrites ``qkeras``,
and a saved HGQ2 model only loads where ``hgq`` is importable. There,
``hgq2_particles_worker.py firmware`` loads an HGQ2 model saved by its training, runs it on the
held-out inputs ``x`` and on ``4 * x`` (outside the trained range: overflow) through HGQ2's Keras
model, alkaid's HGQ2 converter (alkaid's interpreter of the traced logic) and hls4ml (its C++
compiled with g++), and saves every output. :func:`mismatches` then counts, with ``==``, the output
values of each tool that differ from HGQ2's Keras model. A tool that refuses the model is reported
with its error, never counted as 0.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.common.side_venv import VenvError, ensure_venv

DEFAULT_VENV = Path("/work/venvs/hgq2-firmware")
#: everything the firmware venv holds, pinned (TensorFlow, Keras and NumPy as in the project's venv)
PACKAGES = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "numpy==2.4.6", "hgq2==0.2.0", "quantizers==1.2.2",
            "alkaid==0.8.2", "hls4ml==1.3.0", "tqdm")
#: what an existing venv must pass before it is trusted
_PROBE = ("import importlib.metadata as m, keras, hgq, alkaid, hls4ml; "
          "assert (m.version('hgq2'), m.version('alkaid'), m.version('hls4ml')) == ('0.2.0', '0.8.2', '1.3.0')")
#: the tools of HGQ2's path to firmware, as the worker names them
TOOLS = ("alkaid", "hls4ml")
#: the inputs of the check: held out, and four times them (outside the trained range)
INPUTS = {"x": 1.0, "x4": 4.0}
#: the firmware venv could not be created or does not work
FirmwareEnvError = VenvError


def ensure_firmware_venv(path: Path = DEFAULT_VENV) -> Path:
    """The Python of the firmware venv at ``path``, created from PyPI (``PACKAGES``) when missing or broken."""
    return ensure_venv(path, PACKAGES, _PROBE)


def mismatches(reference: np.ndarray, got: np.ndarray) -> dict:
    """``{"values", "samples", "compared", "max_abs_diff"}``: output values of ``got`` that differ
    (``!=``, NaN counts as differing) from ``reference``, events with any such value, values compared
    and the largest difference."""
    reference, got = np.asarray(reference, np.float64), np.asarray(got, np.float64)
    if reference.shape != got.shape:
        raise ValueError(f"outputs of shape {got.shape}, expected {reference.shape}")
    differ = ~(reference == got)
    diff = np.abs(reference - got)[differ]
    return {"values": int(differ.sum()), "samples": int(differ.reshape(len(differ), -1).any(axis=1).sum()),
            "compared": int(differ.size), "max_abs_diff": float(np.nan_to_num(diff, nan=np.inf).max()) if diff.size else 0.0}


def check_hgq2_firmware(model_path: Path, x: np.ndarray, workdir: Path, tools=TOOLS,
                        timeout: float | None = None) -> dict:
    """Run HGQ2's saved model ``model_path`` through each of ``tools`` on ``x`` and ``4 * x``; per tool
    either ``{"ok": True, "seconds", "x": mismatches, "x4": mismatches}`` or ``{"ok": False, "error"}``."""
    from .hgq2_particles import run_worker

    python = ensure_firmware_venv()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        data = Path(tmp) / "x.npz"
        np.savez(data, **{name: (scale * x).astype(np.float32) for name, scale in INPUTS.items()})
        facts = run_worker(python, "firmware", {"model": str(model_path), "data": str(data), "out": tmp,
                                                "tools": list(tools)}, timeout)
        with np.load(Path(tmp) / "outputs.npz") as f:
            outputs = {k: f[k] for k in f.files}
    out = {}
    for tool, fact in facts["tools"].items():
        out[tool] = dict(fact)
        if fact["ok"]:
            out[tool].update({name: mismatches(outputs[f"keras_{name}"], outputs[f"{tool}_{name}"]) for name in INPUTS})
    return out

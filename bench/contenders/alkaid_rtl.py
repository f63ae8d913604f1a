"""alkaid 0.8.2 (the successor of da4ml that hls4ml's distributed-arithmetic strategy uses), the
contender of the RTL study: its own venv (from PyPI on first use), the firmware IR exported for it,
and its Verilog of the same function.

Each model's IR is exported (per-element input types, integer weights, casts) and rebuilt in the
alkaid venv with alkaid's tracing API by ``alkaid_emit.py`` (no hgq_fpga there), which also runs
alkaid's own interpreter on the test inputs, so that the study can check that both designs compute
the same function before it synthesizes both.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import numpy as np

from bench.common.side_venv import ensure_venv

ALKAID = "alkaid==0.8.2"
EMIT = Path(__file__).resolve().parent / "alkaid_emit.py"


def ensure_alkaid(venv: Path) -> Path:
    """The Python of the alkaid virtual environment, created (from PyPI) when missing."""
    return ensure_venv(venv, (ALKAID,), "import alkaid")


def export_program(fw, x: np.ndarray, out: Path) -> None:
    """The IR as ``program.json`` + ``arrays.npz`` for ``alkaid_emit.py``, with ``x`` quantized as the
    input ports carry it (``test_inputs``)."""
    from hgq_fpga.ir.emulator.casting import InputQuantizer

    out.mkdir(parents=True, exist_ok=True)
    arrays, ops = {}, []
    spec = fw.inputs[0]
    for field in "kif":
        arrays[f"{spec.name}.{field}"] = getattr(spec.type, field)
    for op in fw.ops:
        entry = {"name": op.name, "kind": op.kind, "inputs": list(op.inputs), "shape": list(op.shape)}
        if op.kind == "dense":
            for field in ("w_raw", "w_f", "b_raw", "b_f"):
                arrays[f"{op.name}.{field}"] = np.asarray(getattr(op, field), dtype=np.int64)
        elif op.kind == "cast":
            entry.update(round=op.round, overflow=op.overflow)
            for field in "kif":
                arrays[f"{op.name}.{field}"] = getattr(op.out, field)
        ops.append(entry)
    codes = [c.astype(np.float64) for c in fw.as_inputs(x)]
    # the values the input ports carry: quantized exactly as the emulator and the RTL do
    q = InputQuantizer(spec.type, spec.round, spec.overflow)(codes[0])
    arrays["test_inputs"] = np.ldexp(np.asarray(q, dtype=np.float64), -spec.type.f)
    np.savez(out / "arrays.npz", **arrays)
    (out / "program.json").write_text(json.dumps({"inputs": [{"name": spec.name, "shape": list(spec.shape)}],
                                                  "ops": ops, "outputs": list(fw.outputs)}))


def emit(fw, x: np.ndarray, python: Path, out: Path, stages: int) -> tuple[dict, np.ndarray, float]:
    """alkaid's Verilog of ``fw`` in ``out/alkaid`` (``stages`` pipeline stages between its input and
    output registers): its ``meta.json`` (sources, top, latency), its interpreter's outputs on ``x``
    and the seconds the emit took."""
    export_program(fw, x, out / "export")
    vdir = out / "alkaid"
    t = time.perf_counter()
    subprocess.run([str(python), str(EMIT), str(out / "export"), str(vdir), str(stages)], check=True)
    seconds = time.perf_counter() - t
    meta = json.loads((vdir / "meta.json").read_text())
    return meta, np.load(meta["outputs"]).reshape(len(x), -1), seconds

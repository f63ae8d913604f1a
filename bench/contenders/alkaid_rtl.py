"""alkaid 0.8.2 (the successor of da4ml that hls4ml's distributed-arithmetic strategy uses), the
contender of the RTL study: its own venv (from PyPI on first use), the firmware IR exported for it,
and its Verilog of the same function.

Each model's IR is exported (per-element input types, integer weights, casts) and rebuilt in the
alkaid venv with alkaid's tracing API by ``alkaid_emit.py`` (no hgq_fpga there), which also runs
alkaid's own interpreter on the test inputs, so that the study can check that both designs compute
the same function before it synthesizes both.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from pathlib import Path

import numpy as np

from bench.common.side_venv import ensure_venv
from hgq_fpga.ir.tensor import TensorType

ALKAID = "alkaid==0.8.2"
#: where the studies keep alkaid's venv unless told otherwise (created from PyPI when missing)
DEFAULT_VENV = Path("/work/venvs/alkaid")
EMIT = Path(__file__).resolve().parent / "alkaid_emit.py"


def ensure_alkaid(venv: Path) -> Path:
    """The Python of the alkaid virtual environment, created (from PyPI) when missing."""
    return ensure_venv(venv, (ALKAID,), "import alkaid")


def export_program(fw, x: np.ndarray, out: Path) -> None:
    """The IR as ``program.json`` + ``arrays.npz`` for ``alkaid_emit.py``, with ``x`` quantized as the
    input ports carry it (``test_inputs``).

    Every op is exported whole: its scalar fields (equation, axes, modes, ...) in ``program.json``,
    its integer arrays as ``<op>.<field>``, its output type as ``<op>.k/i/f``; an average pooling
    also as its windows (``<op>.window``: flat input indices ``(P, K, C)``, -1 = padding), a table
    also with its input's fractional bits (``<op>.in_f``). Which kinds alkaid can rebuild is for
    ``alkaid_emit.py`` to say (it refuses the others by name)."""
    from hgq_fpga.ir.emulator.casting import InputQuantizer
    from hgq_fpga.ir.types import avgpool_sum_plan

    out.mkdir(parents=True, exist_ok=True)
    arrays, ops = {}, []
    for spec in fw.inputs:
        for field in "kif":
            arrays[f"{spec.name}.{field}"] = getattr(spec.type, field)
    for op in fw.ops:
        entry = {"name": op.name, "kind": op.kind, "inputs": list(op.inputs), "shape": list(op.shape)}
        for field in dataclasses.fields(op):
            value = getattr(op, field.name)
            if field.name in entry or isinstance(value, TensorType):   # derived types: the IR's business
                continue
            if isinstance(value, np.ndarray):
                arrays[f"{op.name}.{field.name}"] = np.asarray(value, dtype=np.int64)
            else:
                entry[field.name] = list(value) if isinstance(value, tuple) else value
        for field in "kif":
            arrays[f"{op.name}.{field}"] = getattr(op.out, field)
        if op.kind == "avgpool":
            arrays[f"{op.name}.window"] = avgpool_sum_plan(op, fw.types[op.inputs[0]])[1]
        elif op.kind == "table":
            arrays[f"{op.name}.in_f"] = fw.types[op.inputs[0]].f
        ops.append(entry)
    # the values the input ports carry: quantized exactly as the emulator and the RTL do, every
    # input flattened and side by side (alkaid's design has one flat input vector)
    ports = [np.ldexp(np.asarray(InputQuantizer(s.type, s.round, s.overflow)(c.astype(np.float64)), np.float64),
                      -s.type.f).reshape(len(c), -1) for s, c in zip(fw.inputs, fw.as_inputs(x))]
    arrays["test_inputs"] = np.concatenate(ports, axis=1)
    np.savez(out / "arrays.npz", **arrays)
    (out / "program.json").write_text(json.dumps({"inputs": [{"name": s.name, "shape": list(s.shape)}
                                                             for s in fw.inputs],
                                                  "ops": ops, "outputs": list(fw.outputs)},
                                                 default=lambda v: v.item()))   # numpy scalars


def flat_outputs(fw, x) -> np.ndarray:
    """Our emulator's outputs on ``x``, every output flattened and side by side: the layout of
    alkaid's one output vector."""
    outs = fw.predict(x)
    outs = outs if len(fw.outputs) > 1 else [outs]
    return np.concatenate([np.asarray(o).reshape(len(o), -1) for o in outs], axis=1)


class AlkaidError(RuntimeError):
    """``alkaid_emit.py`` failed or refused the program (its last error line is the message)."""


def emit(fw, x: np.ndarray, python: Path, out: Path, stages: int) -> tuple[dict, np.ndarray, float]:
    """alkaid's Verilog of ``fw`` in ``out/alkaid`` (``stages`` pipeline stages between its input and
    output registers): its ``meta.json`` (sources, top, latency), its interpreter's outputs on ``x``
    (:func:`flat_outputs`' layout) and the seconds the emit took.

    Raises:
        AlkaidError: alkaid cannot express an op of ``fw`` exactly (the op is named), or failed.
    """
    export_program(fw, x, out / "export")
    vdir = out / "alkaid"
    t = time.perf_counter()
    proc = subprocess.run([str(python), str(EMIT), str(out / "export"), str(vdir), str(stages)],
                          capture_output=True, text=True)
    if proc.returncode:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or [f"exit status {proc.returncode}"]
        raise AlkaidError(f"alkaid_emit.py: {lines[-1]}")
    seconds = time.perf_counter() - t
    meta = json.loads((vdir / "meta.json").read_text())
    theirs = np.load(meta["outputs"])
    return meta, theirs.reshape(len(theirs), -1), seconds

"""Exactness at scale (run by ``python -m bench suite``): the same test images through Keras, the
emulator and the C simulation.

For every selected model (calibrated, from the resource study) the whole test set goes through
:func:`hgq_fpga.verify` with the firmware IR emulator (``to_firmware(model)``) and the C simulation
of the generated HLS project (``write_project(...)``, g++ with ``ap_fixed``: the text HLS
synthesises) as the third implementation. ``verify`` compares every output value with ``==``; the
required count is 0.  The C simulation's default build (integer multiply-accumulates, what
``prj.predict`` runs) is then compared with the emulator the same way.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import keras
import numpy as np

import hgq_fpga
from hgq_fpga.backends.hls.writer import write_project


def check_model(label: str, model: keras.Model, x, workdir: Path, board: str = "vu9p") -> dict:
    """Verify Keras = emulator = C simulation on all of ``x``; return the counts and timings.

    The C simulation is compiled into a fresh cache under ``workdir``, so ``csim_compile_s`` is a
    cold build of this trained model.
    """
    t0 = time.perf_counter()
    fw = hgq_fpga.to_firmware(model)
    convert_s = time.perf_counter() - t0
    prj = write_project(fw, Path(workdir) / label, board=board, cache_dir=Path(workdir) / "cache")
    t0 = time.perf_counter()
    prj.compile(macs="ap_fixed")
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = hgq_fpga.verify(model, x, firmware=fw, project=prj)
    verify_s = time.perf_counter() - t0
    prj.compile(macs="integer")
    fast = int(np.count_nonzero(prj.predict(x) != fw.predict(x)))
    return {"label": label, "samples": int(report.samples), "outputs_per_sample": int(report.outputs),
            "keras_vs_emulator": int(report.keras_vs_emulator),
            "emulator_vs_csim": int(report.emulator_vs_csim),
            "emulator_vs_csim_integer_build": fast,
            "mismatches": int(report.mismatches) + fast, "convert_s": round(convert_s, 3),
            "csim_compile_s": round(compile_s, 3), "verify_s": round(verify_s, 3)}


def pick(models: Sequence, limit: int | None) -> list:
    """``limit`` models spread evenly over a front sorted by EBOPs (all of them for ``None``).

    One model means the most accurate (largest) one; 0 means none.
    """
    models = list(models)
    if limit is None or len(models) <= limit:
        return models
    if limit <= 1:
        return models[-1:] if limit == 1 else []
    idx = sorted({round(i * (len(models) - 1) / (limit - 1)) for i in range(limit)})
    return [models[i] for i in idx]


def run(fronts: dict[str, list], x, workdir: Path, limits: Mapping[str, int | None] | None = None,
        log=print) -> dict:
    """Check the HGQ front models of every architecture on ``x``.

    ``limits`` caps the models per architecture name (spread over the front); a name it does not
    hold, or ``None``, means every model.
    """
    limits = dict(limits or {})
    out: dict[str, Any] = {"samples": int(len(x)), "architectures": {},
                           "limits": {name: limits.get(name) for name in fronts},
                           "front_sizes": {name: len(models) for name, models in fronts.items()}}
    total = 0
    for name, models in fronts.items():
        rows = []
        for m in pick(models, limits.get(name)):
            row = check_model(f"{name}_{m.label}".replace("-", "_"), m.model, x, Path(workdir))
            log(f"exactness: {name} {m.label}: {row['mismatches']} mismatching values on "
                f"{row['samples']} samples (csim compile {row['csim_compile_s']:.1f} s, "
                f"verify {row['verify_s']:.1f} s)")
            rows.append({**row, "model": m.label, "ebops": m.ebops, "accuracy": m.accuracy})
            total += row["mismatches"]
        out["architectures"][name] = rows
    out["mismatches"] = int(total)
    out["models_checked"] = int(sum(len(r) for r in out["architectures"].values()))
    return out

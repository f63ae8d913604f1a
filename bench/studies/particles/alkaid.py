"""alkaid 0.8.2 beside our RTL on the particle models (issue 32): the same IR's integer weights and
types rebuilt with alkaid's tracing API (:mod:`bench.contenders.alkaid_rtl`), synthesized by the same
Yosys script as ours with the pipelines matched (alkaid's stages between its registered ports = our
latency with both ports registered, as in :mod:`bench.studies.rtl.run`), and alkaid's interpreter
checked against our emulator with ``==`` on held-out events and on four times them.

The particle study (``python -m bench run particles --rtl``) runs :func:`alkaid_figures` on each kept
model. The CI-size reference models (:func:`reference_models`: a few particles, one epoch) are
compared here in minutes, their record printed and written to ``WORK/summary.json``:

    python -m bench.studies.particles.alkaid [--work build/alkaid_particles] [--alkaid-venv DIR]
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import click
import numpy as np

from bench.contenders.alkaid_rtl import DEFAULT_VENV, ensure_alkaid
from bench.studies.rtl.run import CLOCK_NS, alkaid_row, ours_row

#: the CI-size reference models: architecture -> builder options (as the examples' own test)
SMALL = {"deep_sets": {"hidden": 6}, "interaction_network": {"hidden": 4}, "mlp_mixer": {"hidden": 4},
         "transformer": {"dim": 4}}


def alkaid_figures(fw, x: np.ndarray, staging: Path, python: Path, stages: int) -> dict:
    """alkaid's design of ``fw`` with ``stages`` pipeline stages, synthesized: LUT / FF / DSP,
    latency, and its interpreter's differing values from our emulator on ``x`` and ``4 x``."""
    row = alkaid_row(fw, x, python, staging, stages, x4=True)
    for folder in ("alkaid", "export"):
        shutil.rmtree(staging / folder, ignore_errors=True)     # the projects: megabytes, not results
    (staging / "alkaid_outputs.npy").unlink(missing_ok=True)
    return {**row, "clock_ns": CLOCK_NS, "latency_ns": row["latency_cycles"] * CLOCK_NS}


def reference_models(particles: int = 4, events: int = 400, seed: int = 0):
    """(name, calibrated firmware, held-out events) of each reference architecture, CI-size: toy jets
    of ``particles`` particles, one epoch on 128 events."""
    import keras

    import hgq_fpga
    from examples.particles.data import toy_jets
    from examples.particles.models import ARCHITECTURES

    x, y = toy_jets(events, particles, seed=7)
    for name, options in SMALL.items():
        keras.utils.set_random_seed(seed)
        model = ARCHITECTURES[name](n=particles, f=x.shape[-1], classes=5, **options)
        model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x[:128], y[:128], epochs=1, batch_size=32, verbose=0)
        hgq_fpga.calibrate(model, x[:128])
        yield name, hgq_fpga.to_firmware(model), x[128:]


def compare(name: str, fw, x: np.ndarray, work: Path, python: Path) -> dict:
    """Our RTL (:func:`bench.studies.rtl.run.ours_row`) and alkaid's of one model, side by side."""
    d = work / name
    with tempfile.TemporaryDirectory(prefix="rtl_cache.") as cache:
        ours, _ = ours_row(fw, x, d, cache)
    theirs = alkaid_figures(fw, x, d, python, ours["latency_both_registered"])
    return {"ebops": int(fw.resources().ebops), "ours": ours, "alkaid": theirs,
            "ours_over_alkaid_lut": ours["resources"]["LUT"] / theirs["resources"]["LUT"]}


@click.command()
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=Path("build/alkaid_particles"),
              show_default=True, help="the projects and summary.json")
@click.option("--alkaid-venv", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_VENV,
              show_default=True, help="alkaid's own venv (created from PyPI when missing)")
@click.option("--particles", type=click.IntRange(2, 64), default=4, show_default=True)
def main(work: Path, alkaid_venv: Path, particles: int) -> None:
    """Ours against alkaid on the CI-size reference particle models."""
    python = ensure_alkaid(alkaid_venv)
    work.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, fw, x in reference_models(particles):
        summary[name] = compare(name, fw, x, work, python)
        r = summary[name]
        print(f"{name}: ours {r['ours']['resources']['LUT']} LUT, alkaid {r['alkaid']['resources']['LUT']} LUT "
              f"(ours / alkaid {r['ours_over_alkaid_lut']:.3f}); alkaid != emulator "
              f"{r['alkaid']['mismatches']} / {r['alkaid']['mismatches_x4']} (x, 4x)", flush=True)
        (work / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()

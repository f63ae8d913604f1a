"""``hgq-fpga train SPEC.yaml --out DIR``: one training from a sweep spec of one run, in this process.

The spec has a sweep's keys (``docs/sweeps.md``) without ``grid``, ``runs`` or ``seeds``. The run is
the sweep's run (:func:`hgq_fpga.app.sweep.run.train_and_score`: the recipe, the Pareto checkpoints,
each calibrated and scored on the validation set), without Dask; DIR is written like a sweep's
``runs/NAME`` folder (``result.json``, ``checkpoints/``, ``DONE`` last, in one step) plus the chosen
model as ``chosen.keras`` and the front as ``front.json`` and ``front.png``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from hgq_fpga.app.commands.common import console

#: the chosen model's copy in the training folder
CHOSEN = "chosen.keras"


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise click.ClickException(f"--out {out} exists and is not empty; give a new folder (a finished "
                                   "training is never rewritten)")


def _choose(run, record: dict, folder: Path) -> dict:
    """The front of the calibrated checkpoints and its chosen model, as a sweep merges them; the
    chosen checkpoint is copied to ``folder/chosen.keras``, ``front.json`` and ``front.png`` written."""
    from hgq_fpga.app.sweep.merge import FRONT_JSON, FRONT_PLOT, merged_front, plot

    merged = merged_front([{**p, "run": run.name, "seed": run.settings["seed"]} for p in record["points"]],
                          run.settings["tolerance"])
    (folder / FRONT_JSON).write_text(json.dumps(merged, indent=1))
    plot(merged, folder / FRONT_PLOT, f"train {run.name}")
    chosen = merged["chosen"]
    shutil.copy2(folder / chosen["checkpoint"], folder / CHOSEN)
    return {**chosen, "model": CHOSEN}


@click.command("train")
@click.argument("spec", metavar="SPEC.yaml", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Folder to create: result.json, checkpoints/, chosen.keras, front.json, front.png.")
def train(spec: Path, out: Path) -> None:
    """Train one model from SPEC.yaml (a sweep spec without grid, runs or seeds) in this process.

    The HGQ recipe of a sweep run (beta ramp, Pareto checkpoints, each calibrated and scored on the
    validation set); DIR gets the run's files, the chosen model as chosen.keras and the command that
    converts it.
    """
    from hgq_fpga.app.report.progress import RichProgress
    from hgq_fpga.app.stages import Stages
    from hgq_fpga.app.sweep.handoff import next_steps, shown_path
    from hgq_fpga.app.sweep.run import produce, train_and_score
    from hgq_fpga.app.sweep.spec import load_single

    run = load_single(spec)
    _check_out(out)
    screen = console()
    epochs = run.settings["epochs"]
    screen.print(f"training {run.settings['architecture']} on {run.settings['data']} for {epochs} epochs "
                 f"(seed {run.settings['seed']})", soft_wrap=True, highlight=False)

    def work(staging: Path) -> dict:
        record = train_and_score(run, staging, callbacks=[RichProgress(epochs, screen)], stages=Stages(screen))
        record["chosen"] = _choose(run, record, staging)
        return record

    record, _ = produce(out, work)
    chosen = record["chosen"]
    click.echo(f"front: {len(record['front'])} calibrated checkpoint(s) in {shown_path(out)}; chosen: "
               f"epoch {chosen['epoch']}, validation accuracy {100 * chosen['val_accuracy']:.2f} %, "
               f"{chosen['ebops']:,} EBOPs (exact) -> {shown_path(out / CHOSEN)}")
    for line in next_steps(out / CHOSEN, run, out):
        click.echo(line)

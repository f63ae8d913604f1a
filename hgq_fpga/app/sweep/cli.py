"""``hgq-fpga sweep SPEC.yaml --out DIR``: the click command, added to the ``hgq-fpga`` group.

Dask, Keras and TensorFlow are imported only when the command runs.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sweep")
@click.argument("spec", metavar="SPEC.yaml", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Sweep folder: runs/NAME per run, front.json, front.png. A rerun skips finished runs.")
@click.option("--scheduler", default=None, metavar="ADDR",
              help="Existing Dask scheduler, e.g. tcp://HOST:8786 (default: $DASK_SCHEDULER_ADDRESS, "
                   "else a local cluster).")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes of the local cluster (default: one per core).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="How many more times a run is started after its worker died (a run that raises an "
                   "error is not retried: the same settings give the same error).")
def sweep(spec: Path, out: Path, scheduler: str | None, workers: int | None, retries: int) -> None:
    """Train every run of SPEC.yaml in parallel on Dask and merge their Pareto fronts."""
    from hgq_fpga.app.sweep import run_sweep

    result = run_sweep(spec, out, scheduler=scheduler, workers=workers, retries=retries)
    report_sweep(result, out)


def report_sweep(result, out: Path) -> None:
    """What the sweep did, the chosen model's checkpoint (a path that works from here) and the
    command that converts it; exit status 1 when a run failed."""
    from hgq_fpga.app.sweep.handoff import next_steps, shown_path
    from hgq_fpga.app.sweep.merge import FRONT_JSON, FRONT_PLOT

    front = result.merged.get("front", [])
    plotted = (f"{out / FRONT_JSON} and {out / FRONT_PLOT}" if result.merged.get("points") else
               f"{out / FRONT_JSON} (no run finished: nothing to plot, so no {FRONT_PLOT})")
    click.echo(f"{len(result.ran)} runs trained, {len(result.skipped)} already finished, "
               f"{len(result.failed)} failed; merged front: {len(front)} models in {plotted}")
    chosen = result.merged.get("chosen")
    if chosen:
        checkpoint = result.chosen_checkpoint
        click.echo(f"chosen: {shown_path(checkpoint)} (run {chosen['run']}, validation accuracy "
                   f"{100 * chosen['val_accuracy']:.2f} %, {chosen['ebops']:,} EBOPs)")
        run = result.chosen_run()
        if run is not None:
            for line in next_steps(checkpoint, run, out):
                click.echo(line)
    if result.failed:
        raise click.ClickException("failed runs: " + "; ".join(f"{k}: {v}" for k, v in result.failed.items()))

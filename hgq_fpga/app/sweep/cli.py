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
    chosen = result.merged.get("chosen")
    click.echo(f"{len(result.ran)} runs trained, {len(result.skipped)} already finished, "
               f"{len(result.failed)} failed; merged front: {len(result.merged.get('front', []))} models "
               f"in {out / 'front.json'} and {out / 'front.png'}")
    if chosen:
        click.echo(f"chosen: {chosen['checkpoint']} (validation accuracy {100 * chosen['val_accuracy']:.2f} %, "
                   f"{chosen['ebops']:,} EBOPs)")
    if result.failed:
        raise click.ClickException("failed runs: " + "; ".join(f"{k}: {v}" for k, v in result.failed.items()))

"""``hgq-fpga report``: report.md, report.json and figures of a design folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from hgq_fpga.app.commands.common import one_line

PARETO_FORMATS = ('it must be JSON (a list of {"metric": ..., "ebops": ...} objects, or an object with such '
                  'a list under "front", like the training record of hgq_fpga.json or the front.json of '
                  "hgq-fpga sweep) or CSV with metric and ebops columns")
#: what a point's metric may be called, besides ``metric``: a sweep's front.json scores ``val_accuracy``
METRIC_KEYS = ("val_accuracy", "accuracy", "test_accuracy")


def _read_front(path: Path) -> dict:
    """A record with the points under ``"front"``, from a JSON or CSV file."""
    if path.suffix == ".json":
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise click.ClickException(f"Pareto file {path} is not valid JSON ({one_line(e)}); "
                                       f"{PARETO_FORMATS}") from None
        return dict(doc) if isinstance(doc, dict) else {"front": doc}
    if path.suffix == ".csv":
        import csv

        with path.open(newline="") as handle:
            return {"front": list(csv.DictReader(handle))}
    raise click.ClickException(f"Pareto file {path} has an unknown format; {PARETO_FORMATS}")


def metric_key(record: dict, front: list) -> str:
    """The key that holds each point's metric: ``metric``, the record's ``metric_key`` (a sweep's
    ``front.json``), the first word of its ``metric`` text, or a known accuracy key all points have."""
    named = record.get("metric_key") or str(record.get("metric") or "").split(" ")[0]
    for key in ("metric", named, *METRIC_KEYS):
        if key and all(isinstance(p, dict) and key in p for p in front):
            return key
    return "metric"


def pareto_training(path: Path) -> dict:
    """A training record from a Pareto-front file: JSON (list, or object with "front", such as a
    sweep's front.json) or CSV."""
    from hgq_fpga.pareto import front_from_dicts

    if not path.is_file():
        raise click.ClickException(f"Pareto file {path} does not exist")
    record = _read_front(path)
    front = record.get("front")
    if not isinstance(front, list) or not front:
        raise click.ClickException(f"Pareto file {path} holds no Pareto points; {PARETO_FORMATS}")
    key = metric_key(record, front)
    try:
        record["front"] = [p.to_dict() for p in front_from_dicts(front, key)]
        if isinstance(record.get("chosen"), dict):
            record["chosen"] = front_from_dicts([record["chosen"]], key)[0].to_dict()
    except ValueError as e:
        raise click.ClickException(f"Pareto file {path}: {e}; {PARETO_FORMATS}") from None
    if key != "metric":
        record["metric"] = key
    if str(record.get("ebops", "")).startswith("exact"):
        record["ebops_exact"] = True
    record.pop("points", None)             # a sweep's every checkpoint: the front is what is drawn
    return record


@click.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out", default=None, metavar="OUTDIR", type=click.Path(path_type=Path),
              help="Folder for the report files [default: DIR/report].")
@click.option("--pareto", default=None, metavar="FILE", type=click.Path(path_type=Path),
              help="Pareto front of a training run to plot: .json (a list of points with 'metric' and 'ebops', an "
                   "object with them under 'front', or the front.json of hgq-fpga sweep) or .csv.")
def report(design: Path, out: Path | None, pareto: Path | None) -> None:
    """Write report.md, report.json and PNG figures for DIR.

    Bit widths per layer, a heat map of the weight bits, EBOPs per layer, the training's Pareto
    front (from the conversion record or --pareto) and, once `make synth` has run in a project of
    DIR (DIR/rtl with Yosys or Vivado, DIR/hls with Vitis HLS), the synthesis results beside the
    estimates.
    """
    from hgq_fpga.app.report.writer import write_report
    from hgq_fpga.checks.design_folder import REPORT_DIR, open_design

    found = open_design(design)
    fw = found.firmware()
    run = dict(found.run)
    if pareto is not None:
        run["training"] = pareto_training(pareto)
    synthesis = {name: p.report() for name, p in zip(found.backends, found.projects(fw, compile=False))}
    run["synthesis"] = {name: fig for name, fig in synthesis.items() if fig}
    target = out if out is not None else design / REPORT_DIR
    try:
        data = write_report(fw, target, run)
    except FileExistsError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {target / 'report.md'}, {target / 'report.json'} and "
               f"{len(data['figures'])} figures ({', '.join(data['figures'].values())})")

"""``hgq-fpga``: the command line for converting, verifying, emulating and reporting HGQ designs.

    hgq-fpga convert MODEL.keras --calib DATA --board vu9p --out DIR
    hgq-fpga verify DIR --data DATA
    hgq-fpga emulate DIR --data DATA --out PRED.npy
    hgq-fpga report DIR
    hgq-fpga boards
    hgq-fpga sweep SPEC.yaml --out DIR

Every failure ends with exit status 1 and one line saying what is wrong (``--debug`` shows the
traceback). Keras and TensorFlow are imported only by the commands that need them, so ``--help``,
``boards``, ``emulate`` and ``report`` start quickly.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ log lines off the terminal

DATA_HELP = ("samples as .npy, .npz (pick the array with --array NAME, or the only one) or .csv "
             "(numbers, optional header line)")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    first, _, rest = text.partition("\n")
    return f"{first} (more with --debug)" if rest.strip() else first


class _Group(click.Group):
    """Turns any exception of a command into exit status 1 and one ``Error: ...`` line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as err:  # noqa: BLE001 - the one place that reports every failure
            if ctx.meta.get("hgq_debug") or os.environ.get("HGQ_FPGA_DEBUG"):
                raise
            raise click.ClickException(_one_line(err)) from err


def _console():
    """A rich console; at least 120 columns when the output is a file or a pipe."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(console.width, 120))


def _load_data(path: Path, array: str | None, shape) -> "np.ndarray":  # noqa: F821
    from hgq_fpga.datafile import fit_to_input, load_array

    return fit_to_input(load_array(path, array), shape, path)


def _single_input_shape(shapes: list[tuple[int, ...]], what: str) -> tuple[int, ...]:
    if len(shapes) != 1:
        raise click.ClickException(f"{what} has {len(shapes)} inputs; the command line handles "
                                   "single-input models only (use the Python API for more)")
    return shapes[0]


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hgq_fpga", prog_name="hgq-fpga")
@click.option("--debug", is_flag=True, help="Show the full Python traceback when a command fails.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Turn HGQ-trained Keras models into verified FPGA firmware (Vitis HLS projects).

    A typical session: train with hgq_fpga.layers, save the model, then

    \b
      hgq-fpga convert model.keras --calib train.npy --board vu9p --out build/fw
      hgq-fpga verify build/fw --data test.npy
      cd build/fw && make synth BOARD=vu9p

    Run `hgq-fpga COMMAND --help` for the options of each command.
    """
    ctx.meta["hgq_debug"] = debug


@main.command()
@click.argument("model_path", metavar="MODEL.keras", type=click.Path(path_type=Path))
@click.option("--calib", "calib", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Calibration inputs that fix every activation's range: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--board", default="vu9p", show_default=True,
              help="Target board (name, alias, part or YAML file); list them with `hgq-fpga boards`.")
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Design folder to create (the HLS project, firmware IR, model copy and report).")
@click.option("--name", default="myproject", show_default=True,
              help="Project and top-function name (a C identifier).")
@click.option("--clock", type=float, default=None, metavar="NS",
              help="Clock period in ns [default: the board's].")
@click.option("--force", is_flag=True, help="Replace DIR if it holds an earlier design folder.")
def convert(model_path: Path, calib: Path, array: str | None, board: str, out: Path, name: str,
            clock: float | None, force: bool) -> None:
    """Convert a trained HGQ Keras model into a verified HLS project in DIR.

    Calibrates the model on DATA, freezes it into the integer firmware IR, writes the Vitis HLS
    project for the board, compiles its C simulation with g++, checks on DATA that Keras, the
    emulator and the C++ give identical outputs, and writes DIR/report/. Nothing is left in DIR
    if a step fails; a verification mismatch keeps DIR for inspection and exits with status 1.
    """
    from hgq_fpga.board import load_board
    from hgq_fpga.datafile import fit_to_input, load_array
    from hgq_fpga.deploy import check_destination
    from hgq_fpga.deploy import convert as convert_design
    from hgq_fpga.report.console import print_summary

    if not model_path.is_file():
        raise click.ClickException(f"model file {model_path} does not exist")
    if model_path.suffix != ".keras":
        raise click.ClickException(f"model file {model_path} is not a .keras file (save it with "
                                   "model.save('model.keras'))")
    if not _IDENTIFIER.match(name):
        raise click.ClickException(f"--name {name!r} is not a C identifier (letters, digits, _)")
    if clock is not None and not clock > 0:
        raise click.ClickException(f"--clock must be a positive period in ns, got {clock}")
    load_board(board)
    check_destination(out, force)
    data = load_array(calib, array)
    model = _load_keras(model_path)
    shape = _single_input_shape([tuple(t.shape[1:]) for t in model.inputs], f"model {model_path}")
    data = fit_to_input(data, shape, calib)
    result = convert_design(model, data, out, board=board, name=name, clock_period=clock,
                            verification_label=f"calibration data {calib.name}", replace=force)
    print_summary(result.report, result.path, f"cd {result.path} && make synth BOARD={result.run['board']['name']}",
                  console=_console())
    if not result.ok:
        raise click.ClickException(f"verification failed: {result.verification.mismatches} mismatching "
                                   f"values; the design is kept in {result.path} for inspection")


def _load_keras(path: Path):
    import keras

    import hgq_fpga.layers  # noqa: F401  registers the HGQ layers for deserialisation

    import zipfile

    if not zipfile.is_zipfile(path):  # Keras would say "File not found" for an existing file
        raise click.ClickException(f"model file {path} is not a Keras .keras archive (a zip file); "
                                   "save the model with model.save('model.keras')")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds for a bad file
        raise click.ClickException(f"cannot load Keras model {path}: {_one_line(err)}") from err


@main.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Inputs to compare on: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
def verify(design: Path, data_path: Path, array: str | None) -> None:
    """Check that Keras, the emulator and the C++ of DIR agree on every output for DATA.

    DIR is a folder written by `hgq-fpga convert` (or `make demo`). Exits with status 1 if any
    output value differs, and prints where the first difference is.
    """
    import hgq_fpga
    from hgq_fpga.deploy import open_design

    found = open_design(design)
    fw = found.firmware()
    x = _load_data(data_path, array, _single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    model = found.keras_model()
    project = found.project(fw)
    project.compile(macs="ap_fixed")  # the C++ exactly as HLS synthesises it
    report = hgq_fpga.verify(model, x, firmware=fw, project=project)
    click.echo(str(report))
    if not report.ok:
        raise click.ClickException(f"verification failed: {report.mismatches} mismatching values")


@main.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Inputs to run: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--out", "out", required=True, metavar="PRED.npy", type=click.Path(path_type=Path),
              help="Where to write the outputs (float64, one row per sample).")
def emulate(design: Path, data_path: Path, array: str | None, out: Path) -> None:
    """Run the bit-exact firmware emulator of DIR on DATA and save the outputs.

    Needs only numpy: no Keras, no compiler. The values are exactly what the FPGA computes.
    """
    import numpy as np

    from hgq_fpga.deploy import open_design

    if out.suffix != ".npy":
        raise click.ClickException(f"--out {out} must end in .npy")
    fw = open_design(design).firmware()
    if len(fw.outputs) != 1:
        raise click.ClickException(f"design {design} has {len(fw.outputs)} outputs; emulate writes one "
                                   "array, so use the Python API (hgq_fpga.load_firmware(DIR/'ir').predict)")
    x = _load_data(data_path, array, _single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    y = fw.predict(x)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial.npy")
    np.save(partial, y)
    os.replace(partial, out)
    click.echo(f"wrote {len(y):,} predictions of shape {tuple(y.shape[1:])} to {out}")


def _pareto_training(path: Path) -> dict:
    """A training record from a Pareto-front file: JSON (list, or object with "front") or CSV."""
    from hgq_fpga.report.pareto import front_from_dicts

    if not path.is_file():
        raise click.ClickException(f"Pareto file {path} does not exist")
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        record = doc if isinstance(doc, dict) else {"front": doc}
    elif path.suffix == ".csv":
        import csv

        with path.open(newline="") as handle:
            record = {"front": list(csv.DictReader(handle))}
    else:
        raise click.ClickException(f"Pareto file {path} must be .json or .csv with metric and ebops columns")
    record["front"] = [p.to_dict() for p in front_from_dicts(record.get("front") or [])]
    return record


@main.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out", default=None, metavar="OUTDIR", type=click.Path(path_type=Path),
              help="Folder for the report files [default: DIR/report].")
@click.option("--pareto", default=None, metavar="FILE", type=click.Path(path_type=Path),
              help="Pareto front of a training run (.json or .csv with 'metric' and 'ebops') to plot.")
def report(design: Path, out: Path | None, pareto: Path | None) -> None:
    """Write report.md, report.json and PNG figures for DIR.

    Bit widths per layer, a heat map of the weight bits, EBOPs per layer, the training's Pareto
    front (from the conversion record or --pareto) and, once `make synth` has run in DIR, the
    synthesis results beside the estimates.
    """
    from hgq_fpga.deploy import REPORT_DIR, open_design
    from hgq_fpga.report import write_report

    found = open_design(design)
    run = dict(found.run)
    if pareto is not None:
        run["training"] = _pareto_training(pareto)
    target = out if out is not None else design / REPORT_DIR
    data = write_report(found.firmware(), target, run, project_dir=design)
    click.echo(f"wrote {target / 'report.md'}, {target / 'report.json'} and "
               f"{len(data['figures'])} figures ({', '.join(data['figures'].values())})")


@main.command()
def boards() -> None:
    """List the known boards: part, default clock and resources."""
    from rich import box
    from rich.table import Table

    from hgq_fpga.board import RESOURCE_KINDS, known_boards

    console = _console()
    found = known_boards()
    with_aliases = console.width >= 110  # on a narrow terminal the numbers matter more
    table = Table(title="known boards (--board NAME, or a YAML file); BRAM in 18 Kb blocks", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    rows = [[name, b.part, f"{b.clock_period_ns:g} ns",
             *(f"{b.resources[kind]:,}" for kind in RESOURCE_KINDS), ", ".join(b.aliases)]
            for name, b in found.items()]
    kinds = [kind.replace("_18K", "") for kind in RESOURCE_KINDS]
    headers = ["board", "part", "clock", *kinds, "aliases"][:None if with_aliases else -1]
    for n, header in enumerate(headers):
        widest = max(len(header), *(len(row[n]) for row in rows))
        fixed = header != "aliases"  # every other column is shown whole
        table.add_column(header, justify="right" if header in kinds else "left", no_wrap=fixed,
                         min_width=widest if fixed else None)
    for row in rows:
        table.add_row(*row[:len(headers)])
    console.print(table)


from hgq_fpga.app.sweep.cli import sweep  # noqa: E402 - the sweep command lives with the sweep package

main.add_command(sweep)

if __name__ == "__main__":
    sys.exit(main())

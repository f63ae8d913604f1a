"""``hgq-fpga``: the command line for converting, verifying, emulating and reporting HGQ designs.

    hgq-fpga convert MODEL.keras --calib DATA --board vu9p --out DIR
    hgq-fpga verify DIR --data DATA [--junit REPORT.xml]
    hgq-fpga export-emulator DIR --out EMU
    hgq-fpga emulate DIR --data DATA --out PRED.npy (or PRED.npz: one array per output)
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

from hgq_fpga.app.trust_option import TRUST_FILE_FLAG, trust_file_option

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
    from hgq_fpga.app.datafile import fit_to_input, load_array

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

    A typical session: train with hgq_fpga.nn.layers, save the model, then

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
@click.option("--from", "source", type=click.Choice(["hgq", "float", "qkeras"]), default="hgq",
              show_default=True,
              help="hgq: a model of hgq_fpga layers; float: a plain float Keras model, quantized after "
                   "training (no retraining) on DATA; qkeras: a QKeras 0.9 model (.h5, SavedModel) "
                   "imported bit-exactly.")
@click.option("--input-type", default=None, metavar="TYPE", help="--from qkeras: the inputs' fixed-point "
              "type, e.g. 'ap_fixed<16,6>', when the first layer reads them unquantized.")
@click.option("--bits", type=int, default=8, show_default=True,
              help="--from float: width of every weight and activation.")
@click.option("--weight-bits", type=int, default=None, help="--from float: weight width [default: --bits].")
@click.option("--act-bits", type=int, default=None, help="--from float: activation width [default: --bits].")
@click.option("--search", type=click.Choice(["easyquant", "minmax"]), default="easyquant", show_default=True,
              help="--from float: how each binary point is chosen.")
@click.option("--granularity", type=click.Choice(["per_channel", "per_tensor"]), default="per_channel",
              show_default=True, help="--from float: one weight binary point per output channel or per tensor.")
@click.option("--ebops-budget", type=int, default=None,
              help="--from float: lower widths per layer (mixed precision) until EBOPs <= this.")
@click.option("--drop-softmax", is_flag=True, help="--from float or qkeras: drop a softmax at the model output.")
@click.option("--check", "check", default=None, metavar="DATA", type=click.Path(path_type=Path),
              help="Held-out inputs to verify on as well (the report gives both results).")
@click.option("--check-array", default=None, metavar="NAME", help="Array of an .npz --check file to use.")
@click.option("--check-labels", default=None, metavar="NAME",
              help="Array of the .npz --check file that holds the integer class labels: the report gets a "
                   "per-class accuracy table and ROC curves (Keras beside the firmware).")
@click.option("--backend", type=click.Choice(["hls", "rtl", "both"]), default="hls", show_default=True,
              help="hls: the Vitis HLS project (C simulation with g++); rtl: Verilog in DIR/rtl/ "
                   "(simulated with Verilator); both: the two, each verified against the emulator.")
@click.option("--synth", is_flag=True, help="Also synthesize DIR/rtl/ with Yosys (needs --backend rtl or "
              "both): the report then shows LUTs, flip-flops and the latency in clock cycles.")
@trust_file_option
def convert(model_path: Path, calib: Path, array: str | None, board: str, out: Path, name: str,
            clock: float | None, force: bool, source: str, bits: int, weight_bits: int | None,
            act_bits: int | None, search: str, granularity: str, ebops_budget: int | None,
            drop_softmax: bool, input_type: str | None, check: Path | None,
            check_array: str | None, check_labels: str | None, backend: str, synth: bool,
            trust: bool) -> None:
    """Convert a trained model into a verified design folder DIR (HLS and/or RTL project, IR, report).

    MODEL is an HGQ Keras model, or with --from float a float Keras model (quantized after training
    on DATA, see the README's "From a float model"), or with --from qkeras a QKeras 0.9 model
    (imported bit-exactly, see "From QKeras").

    Calibrates the model on DATA, freezes it into the integer firmware IR, writes the Vitis HLS
    project for the board (and/or with --backend rtl|both the Verilog RTL project in DIR/rtl/),
    compiles its C simulation with g++ (the RTL's with Verilator), checks on DATA that Keras, the
    emulator and the C++ (and the RTL) give identical outputs (and on --check DATA, held-out
    data), and writes DIR/report/. Nothing is left in DIR if a step fails; a verification mismatch keeps DIR for
    inspection and exits with status 1.
    """
    from hgq_fpga.backends.common.board import load_board
    from hgq_fpga.app.datafile import fit_to_input, load_array
    from hgq_fpga.app.design import build_design, check_destination, next_command
    from hgq_fpga.app.keras_file import saved_input_shapes
    from hgq_fpga.app.report.console import print_summary

    if source == "qkeras":
        pass  # read by the QKeras importer below, which checks the file
    elif not model_path.is_file():
        raise click.ClickException(f"model file {model_path} does not exist")
    elif model_path.suffix != ".keras":
        raise click.ClickException(f"model file {model_path} is not a .keras file (save it with "
                                   "model.save('model.keras'))")
    if not _IDENTIFIER.match(name):
        raise click.ClickException(f"--name {name!r} is not a C identifier (letters, digits, _)")
    if clock is not None and not clock > 0:
        raise click.ClickException(f"--clock must be a positive period in ns, got {clock}")
    if synth and backend == "hls":
        raise click.ClickException("--synth synthesizes the RTL project: add --backend rtl or --backend both")
    _require_backend_tools(backend, synth)
    load_board(board)
    check_destination(out, force)
    data = load_array(calib, array)
    held_out = load_array(check, check_array) if check is not None else None
    labels = _check_labels(check, check_labels, held_out)
    saved = saved_input_shapes(model_path) if source != "qkeras" else None
    if saved is not None:     # cheap checks first: TensorFlow takes 20 s to import
        shape = _single_input_shape(saved, f"model {model_path}")
        data = fit_to_input(data, shape, calib)
        held_out = None if check is None else fit_to_input(held_out, shape, check)
    if source == "qkeras":
        from hgq_fpga.app.qkeras_commands import check_qkeras, import_model

        model = import_model(model_path, input_type, drop_softmax, {}, trust)
    else:
        model = _load_keras(model_path, trust)
    shape = _single_input_shape([tuple(t.shape[1:]) for t in model.inputs], f"model {model_path}")
    data = fit_to_input(data, shape, calib)
    label = f"held-out data {check.name}" if check is not None else "held-out data"
    checks = {} if check is None else {label: fit_to_input(held_out, shape, check)}
    if source != "float":
        ctx = click.get_current_context()
        given = [f"--{n.replace('_', '-')}" for n in ("bits", "weight_bits", "act_bits", "search", "granularity",
                                                       "ebops_budget")
                 if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT]
        if given:
            raise click.ClickException(f"{', '.join(given)}: option(s) of --from float only")
    if drop_softmax and source == "hgq":
        raise click.ClickException("--drop-softmax is an option of --from float and --from qkeras")
    if input_type is not None and source != "qkeras":
        raise click.ClickException("--input-type is an option of --from qkeras")
    if source == "qkeras":
        check_qkeras(model_path, model, data, f"calibration data {calib.name}", trust)
    if source == "float":
        from hgq_fpga.nn.ptq import quantize_float

        model = quantize_float(model, data, weight_bits=bits if weight_bits is None else weight_bits,
                               act_bits=bits if act_bits is None else act_bits, granularity=granularity,
                               search=search, ebops_budget=ebops_budget, drop_softmax=drop_softmax).model
    result = build_design(model, data, out, board=board, name=name, clock_period=clock,
                          verification_label=f"calibration data {calib.name}", checks=checks,
                          replace=force, force=force, calibrate=source != "float", backend=backend,
                          synth=synth, labelled=None if labels is None else (checks[label], labels),
                          labelled_label=label)
    print_summary(result.report, result.path, next_command(result.path, result.run), console=_console())
    _warn_overflow(result.verification.overflow)
    if not result.ok:
        counts = ", ".join(f"{r.mismatches} on {label}" for label, r in
                           zip([f"calibration data {calib.name}", *checks], [result.verification, *result.checks]))
        raise click.ClickException(f"verification failed: mismatching values ({counts}); the design is "
                                   f"kept in {result.path} for inspection")


def _check_labels(check: Path | None, name: str | None, held_out) -> "np.ndarray | None":  # noqa: F821
    """The integer labels of the --check data (array ``name`` of its .npz file), checked cheaply."""
    if name is None:
        return None
    import numpy as np

    from hgq_fpga.app.datafile import load_array

    if check is None or check.suffix != ".npz":
        raise click.ClickException("--check-labels names an array of the --check .npz file; give --check DATA.npz")
    labels = load_array(check, name)
    if labels.ndim != 1 or len(labels) != len(held_out):
        raise click.ClickException(f"--check-labels {name} has shape {labels.shape}; expected one integer label "
                                   f"per sample of --check ({len(held_out)},)")
    if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)) or labels.min() < 0:
        raise click.ClickException(f"--check-labels {name} must hold class numbers 0, 1, 2, ...")
    return labels.astype(np.int64)


def _require_backend_tools(backend: str, synth: bool) -> None:
    """Fail before any work when a tool of the chosen backend is missing (the message says what to install)."""
    if backend in ("rtl", "both"):
        from hgq_fpga.backends.rtl.tools import require

        require("verilator")
        if synth:
            require("yosys")


def _warn_overflow(overflow) -> None:
    """One warning line when values left the calibrated range: bit-exact, but maybe not meant."""
    if overflow is not None and overflow.any:
        click.echo(f"Warning: {overflow.summary()}; calibrate on data that covers these inputs, or "
                   "check their scaling", err=True)


def _load_keras(path: Path, trust: bool = False):
    import zipfile

    from hgq_fpga.nn.model_files import ModelFileError, load_keras_model, offer

    if not zipfile.is_zipfile(path):  # Keras would say "File not found" for an existing file
        raise click.ClickException(f"model file {path} is not a Keras .keras archive (a zip file); "
                                   "save the model with model.save('model.keras')")
    try:
        with offer(TRUST_FILE_FLAG):
            return load_keras_model(path, trust)
    except ModelFileError:
        raise
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds for a bad file
        raise click.ClickException(f"cannot load Keras model {path}: {_one_line(err)}") from err


@main.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Inputs to compare on: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--junit", default=None, metavar="REPORT.xml", type=click.Path(path_type=Path),
              help="Also write the result as JUnit XML for CI systems (written on failure too).")
def verify(design: Path, data_path: Path, array: str | None, junit: Path | None) -> None:
    """Check that Keras, the emulator and the C++ (and/or RTL) of DIR agree on every output for DATA.

    DIR is a folder written by `hgq-fpga convert` (or `make demo`); every project it holds (the
    HLS C simulation, the RTL's Verilator simulation) is compared. Exits with status 1 if any
    output value differs, and prints where the first difference is.
    """
    import hgq_fpga
    from hgq_fpga.app.design import open_design

    found = open_design(design)
    fw = found.firmware()
    x = _load_data(data_path, array, _single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    model = found.keras_model()
    report = hgq_fpga.verify(model, x, firmware=fw, project=found.projects(fw))
    click.echo(str(report))
    if junit is not None:
        from hgq_fpga.checks.junit import write_junit

        click.echo(f"wrote JUnit XML to {write_junit(report, junit)}")
    if not report.ok:
        raise click.ClickException(f"verification failed: {report.mismatches} mismatching values")


@main.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Inputs to run: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--out", "out", required=True, metavar="PRED.npy|PRED.npz", type=click.Path(path_type=Path),
              help="Where to write the outputs (float64, one row per sample): .npy for a design with "
                   "one output, .npz (one array per output, named as the firmware's outputs) for any.")
def emulate(design: Path, data_path: Path, array: str | None, out: Path) -> None:
    """Run the bit-exact firmware emulator of DIR on DATA and save the outputs.

    Needs only numpy: no Keras, no compiler. The values are exactly what the FPGA computes.
    A design with one output may write PRED.npy (one array) or PRED.npz; a design with several
    outputs writes PRED.npz with one array per output, named as the firmware IR names them
    (the output ports of the HLS project; `np.load(PRED.npz).files` lists them, in order).
    """
    from hgq_fpga.app.design import open_design

    if out.suffix not in (".npy", ".npz"):
        raise click.ClickException(f"--out {out} must end in .npy (one output) or .npz (one array per output)")
    fw = open_design(design).firmware()
    if len(fw.outputs) != 1 and out.suffix == ".npy":
        raise click.ClickException(f"design {design} has {len(fw.outputs)} outputs ({', '.join(fw.outputs)}); "
                                   f"a .npy file holds one array: write --out {out.with_suffix('.npz')} "
                                   "(one array per output)")
    x = _load_data(data_path, array, _single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    y, overflow = fw.predict(x, report=True)
    _warn_overflow(overflow)
    outputs = dict(zip(fw.outputs, [y] if len(fw.outputs) == 1 else y))
    _save_outputs(outputs, out)
    shapes = ", ".join(f"{name} {tuple(v.shape[1:])}" for name, v in outputs.items())
    click.echo(f"wrote {len(x):,} predictions ({shapes}) to {out}")


def _save_outputs(outputs: dict, out: Path) -> None:
    """Write the emulator's outputs to ``out`` in one step (a hidden partial file renamed into place)."""
    import numpy as np

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial{out.suffix}")
    if out.suffix == ".npy":
        (value,) = outputs.values()
        np.save(partial, value)
    else:
        np.savez(partial, **outputs)
    os.replace(partial, out)


@main.command("export-emulator")
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, metavar="EMU", type=click.Path(path_type=Path),
              help="Folder to create for the C++ library.")
@click.option("--name", default=None, help="C prefix of the API, NAME_predict [default: the design's name].")
@click.option("--force", is_flag=True, help="Replace EMU if it holds an earlier export.")
def export_emulator_command(design: Path, out: Path, name: str | None, force: bool) -> None:
    """Write a self-contained, bit-exact C++17 emulator library of DIR into EMU.

    DIR is a design folder (or a firmware IR folder). EMU holds the C API header, the firmware
    C++, the ap_types headers, a CMakeLists.txt, a Makefile and a test: `cd EMU && make test`.
    """
    from hgq_fpga.app.design import MANIFEST, open_design
    from hgq_fpga.backends.emulator import export_emulator

    source = design
    if (design / MANIFEST).is_file():
        found = open_design(design)
        source, name = found.firmware(), name or found.name
    path = export_emulator(source, out, name=name, replace=force)
    click.echo(f"wrote the C++ emulator library of {design} to {path}; build and test it with "
               f"`make -C {path} test`")


def _pareto_training(path: Path) -> dict:
    """A training record from a Pareto-front file: JSON (list, or object with "front") or CSV."""
    from hgq_fpga.pareto import front_from_dicts

    if not path.is_file():
        raise click.ClickException(f"Pareto file {path} does not exist")
    formats = ('it must be JSON (a list of {"metric": ..., "ebops": ...} objects, or an object with such '
               'a list under "front", like the training record of hgq_fpga.json) or CSV with metric '
               "and ebops columns")
    if path.suffix == ".json":
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise click.ClickException(f"Pareto file {path} is not valid JSON ({_one_line(e)}); "
                                       f"{formats}") from None
        record = dict(doc) if isinstance(doc, dict) else {"front": doc}
    elif path.suffix == ".csv":
        import csv

        with path.open(newline="") as handle:
            record = {"front": list(csv.DictReader(handle))}
    else:
        raise click.ClickException(f"Pareto file {path} has an unknown format; {formats}")
    front = record.get("front")
    if not isinstance(front, list) or not front:
        raise click.ClickException(f"Pareto file {path} holds no Pareto points; {formats}")
    try:
        record["front"] = [p.to_dict() for p in front_from_dicts(front)]
    except ValueError as e:
        raise click.ClickException(f"Pareto file {path}: {e}; {formats}") from None
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
    front (from the conversion record or --pareto) and, once `make synth` has run in DIR (Vitis
    HLS) or in DIR/rtl (Yosys or Vivado), the synthesis results beside the estimates.
    """
    from hgq_fpga.app.design import REPORT_DIR, open_design
    from hgq_fpga.app.report import write_report

    found = open_design(design)
    run = dict(found.run)
    if pareto is not None:
        run["training"] = _pareto_training(pareto)
    target = out if out is not None else design / REPORT_DIR
    try:
        data = write_report(found.firmware(), target, run, project_dir=design)
    except FileExistsError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {target / 'report.md'}, {target / 'report.json'} and "
               f"{len(data['figures'])} figures ({', '.join(data['figures'].values())})")


@main.command()
def boards() -> None:
    """List the known boards: part, default clock and resources."""
    from rich import box
    from rich.table import Table

    from hgq_fpga.backends.common.board import RESOURCE_KINDS, known_boards

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


def _register_commands() -> None:
    """Commands that live with their own package: the QKeras import and the sweeps."""
    from hgq_fpga.app.qkeras_commands import import_qkeras_command
    from hgq_fpga.app.sweep.cli import sweep

    main.add_command(import_qkeras_command)
    main.add_command(sweep)


_register_commands()

if __name__ == "__main__":
    sys.exit(main())

"""``hgq-fpga convert``: a trained model to a verified design folder."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

import click

from hgq_fpga.app.commands.common import (DATA_HELP, TRUST_FILE_FLAG, BackendNames, console,
                                          inputs_beside_labels, labels_of, one_line, single_input_shape,
                                          trust_file_option, warn_overflow)
from hgq_fpga.backends.common.multipliers import MULTIPLIERS

#: options of ``--from float`` (post-training quantization) and their ``quantize_float`` names
PTQ_OPTIONS = ("bits", "weight_bits", "act_bits", "search", "granularity", "ebops_budget")


#: the backends whose projects take the ``multipliers`` option (``--multipliers``) and ``ii`` (``--ii``)
MULTIPLIER_BACKENDS = ("hls", "rtl")


def _target(board: str, name: str, clock: float | None, backends: tuple[str, ...], synth: bool,
            multipliers: str | None = None, ii: int = 1):
    """The design's target, checked with errors in the command line's spelling; tools checked too.
    ``multipliers`` (when given) goes to every project that builds products of two activations,
    ``ii`` (when above 1) to every project that can take a new sample every ``ii`` clock cycles."""
    from hgq_fpga.app.design import Target
    from hgq_fpga.backends.common.board import clock_period, load_board
    from hgq_fpga.backends.common.names import check_design_name
    from hgq_fpga.backends.registry import get_backend

    try:
        check_design_name(name, option="--name")
        clock_period(load_board(board), clock, option="--clock")
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    if synth and not any(get_backend(b).synth_in_design for b in backends):
        raise click.ClickException("--synth synthesizes the RTL project: add --backend rtl or --backend both")
    options = {b: {} for b in backends if b in MULTIPLIER_BACKENDS}
    for opts in options.values():
        opts.update({} if multipliers is None else {"multipliers": multipliers}, **({"ii": ii} if ii > 1 else {}))
    options = {b: opts for b, opts in options.items() if opts}
    target = Target(board, name, clock, backends, synth, options)
    target.require_tools()
    return target


def _labels(check: Path | None, name: str | None, held_out):
    """The integer labels of the --check data (array ``name`` of its .npz file), checked cheaply."""
    if name is None:
        return None
    if check is None or check.suffix != ".npz":
        raise click.ClickException("--check-labels names an array of the --check .npz file; give --check DATA.npz")
    return labels_of(check, name, len(held_out), "--check-labels")


def _load_model(path: Path, source: str, input_type: str | None, drop_softmax: bool, trust: bool):
    """The model file as a Keras model: an HGQ or float ``.keras`` file, or a QKeras import."""
    if source == "qkeras":
        from hgq_fpga.app.commands.qkeras import import_model

        return import_model(path, input_type, drop_softmax, {}, trust)
    from hgq_fpga.nn.model_files import ModelFileError, load_keras_model, offer

    try:
        with offer(TRUST_FILE_FLAG):
            return load_keras_model(path, trust)
    except ModelFileError:
        raise
    except Exception as err:  # noqa: BLE001 - Keras raises many kinds for a bad file
        raise click.ClickException(f"cannot load Keras model {path}: {one_line(err)}") from err


def _check_options(source: str, drop_softmax: bool, input_type: str | None, options: dict) -> None:
    """Refuse options that belong to another ``--from``, and bad ``--from float`` values (before
    TensorFlow is imported)."""
    ctx = click.get_current_context()
    given = [f"--{n.replace('_', '-')}" for n in PTQ_OPTIONS
             if ctx.get_parameter_source(n) is not click.core.ParameterSource.DEFAULT]
    if given and source != "float":
        raise click.ClickException(f"{', '.join(given)}: option(s) of --from float only")
    if drop_softmax and source == "hgq":
        raise click.ClickException("--drop-softmax is an option of --from float and --from qkeras")
    if input_type is not None and source != "qkeras":
        raise click.ClickException("--input-type is an option of --from qkeras")
    if source == "float":
        from hgq_fpga.nn.ptq.arguments import check_options

        with _ptq_flags(options):
            check_options(**_ptq_arguments(options))


def _ptq_arguments(options: dict) -> dict:
    """The ``quantize_float`` arguments of the ``--from float`` options."""
    bits = options["bits"]
    def given(name: str) -> int:
        return bits if options[name] is None else options[name]      # 0 is a value (refused), not absent
    return dict(weight_bits=given("weight_bits"), act_bits=given("act_bits"),
                granularity=options["granularity"], search=options["search"], ebops_budget=options["ebops_budget"])


@contextmanager
def _ptq_flags(options: dict):
    """A ValueError of post-training quantization as one line that names this command's flags where it
    names ``quantize_float``'s arguments (``act_bits=22`` -> ``--act-bits 22``)."""
    flags = {"weight_bits": "--bits" if options["weight_bits"] is None else "--weight-bits",
             "act_bits": "--bits" if options["act_bits"] is None else "--act-bits",
             "ebops_budget": "--ebops-budget", "granularity": "--granularity", "search": "--search",
             "x_calib": "--calib", "drop_softmax": "--drop-softmax"}
    try:
        yield
    except ValueError as err:
        text = str(err)
        for name, flag in flags.items():
            text = re.sub(rf"\b{name}=True\b", flag, text)
            text = re.sub(rf"\b{name}=('?)([^\s:']*)\1", rf"{flag} \2", text)
            text = re.sub(rf"\b{name}\b", flag, text)
        raise click.ClickException(one_line(text)) from err


def _check_source(model, path: Path, source: str) -> None:
    """A float model given as an HGQ model gets the flag that converts it, not a training recipe."""
    from hgq_fpga.nn.layers.base import hgq_layers

    if source == "hgq" and not hgq_layers(model):
        raise click.ClickException(f"model {path} is a float Keras model (no hgq_fpga layers): convert it with "
                                   "--from float (post-training quantization), or train it with the layers "
                                   "of hgq_fpga.nn.layers")


def _check_model_file(path: Path, source: str) -> None:
    if source == "qkeras":
        return       # read by the QKeras importer, which checks the file
    if not path.is_file():
        raise click.ClickException(f"model file {path} does not exist")
    if path.suffix != ".keras":
        raise click.ClickException(f"model file {path} is not a .keras file (save it with "
                                   "model.save('model.keras'))")


def _quantize(model, data, options: dict, drop_softmax: bool):
    """``--from float``: the float model quantized after training on the calibration data."""
    from hgq_fpga.nn.ptq import quantize_float

    with _ptq_flags(options):
        return quantize_float(model, data, drop_softmax=drop_softmax, **_ptq_arguments(options)).model


def _labelled(model, path: Path, source: str, check: Path, checks: dict, labels, options: dict):
    """The held-out data with its labels, and the model a user compares the firmware with: the float
    model before quantization, QKeras's own predict, or the HGQ model before calibration."""
    import numpy as np

    from hgq_fpga.app.report.classification import LabelledData

    label = f"held-out data {check.name}"
    x = checks[label]
    if source == "float":
        scores = np.asarray(model.predict(x, verbose=0, batch_size=1024))
        return LabelledData(x, labels, label, reference_scores=scores, reference="the float model before quantization")
    if source == "qkeras":
        from hgq_fpga.nn.importers.qkeras.runner import qkeras_predict

        scores = np.asarray(qkeras_predict(path, x, trust=options["trust"]))
        return LabelledData(x, labels, label, reference_scores=scores, reference="QKeras's own predict")
    return LabelledData(x, labels, label)


def _finish(result, labels: list[str], source: str) -> None:
    """Print the summary and the next command; exit status 1 on a mismatch."""
    from hgq_fpga.app.design import next_command
    from hgq_fpga.app.report.console import print_summary

    print_summary(result.report, result.path, next_command(result.path, result.run), console=console())
    overflow = result.verification.overflow
    if source == "float" and overflow is not None and overflow.any:
        click.echo(f"Note: {overflow.summary()} on the calibration data: intended, the search (--search) clips "
                   "rare large values to keep finer steps for the rest", err=True)
    else:
        warn_overflow(overflow)
    if not result.ok:
        counts = ", ".join(f"{r.mismatches} on {label}"
                           for label, r in zip(labels, [result.verification, *result.checks]))
        raise click.ClickException(f"verification failed: mismatching values ({counts}); the design is "
                                   f"kept in {result.path} for inspection")


@click.command()
@click.argument("model_path", metavar="MODEL.keras", type=click.Path(path_type=Path))
@click.option("--calib", "calib", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Calibration inputs that fix every activation's range: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--board", default="vu9p", show_default=True,
              help="Target board (name, alias, part or YAML file); list them with `hgq-fpga boards`.")
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Design folder to create (a project per backend, firmware IR, model copy and report).")
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
@click.option("--backend", "backends", type=BackendNames(), default="hls", show_default=True,
              help="Projects to write, each verified against the emulator: hls (Vitis HLS C++, C simulation "
                   "with g++), rtl (Verilog, simulated with Verilator), cpp (C++ emulator library), "
                   "several separated by commas, or both (hls,rtl).")
@click.option("--synth", is_flag=True, help="Also synthesize DIR/rtl/ with Yosys (needs --backend rtl or "
              "both): the report then shows LUTs, flip-flops and the latency in clock cycles.")
@click.option("--multipliers", type=click.Choice(MULTIPLIERS), default=None,
              help="How the hls and rtl projects build products of two activations (attention scores, pair "
                   "products, HMultiply): lut (logic), dsp (DSP blocks) or auto (the synthesis tool chooses) "
                   "[default: each backend's own: hls auto, rtl lut].")
@click.option("--ii", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Initiation interval: a new sample every N clock cycles. The RTL folds each Dense/Conv over "
                   "up to N cycles with a fraction of the logic (valid/ready handshake); HLS pipelines at II=N.")
@trust_file_option
def convert(model_path: Path, calib: Path, array: str | None, out: Path, check: Path | None,
            check_array: str | None, check_labels: str | None, **options) -> None:
    """Convert a trained model into a verified design folder DIR (a project per backend, IR, report).

    MODEL is an HGQ Keras model, or with --from float a float Keras model (quantized after training
    on DATA, see docs/ptq.md), or with --from qkeras a QKeras 0.9 model (imported bit-exactly, see
    docs/qkeras.md).

    Calibrates the model on DATA, freezes it into the integer firmware IR, writes each backend's
    project (DIR/hls, DIR/rtl, ...), compiles their simulations, checks on DATA that Keras, the
    emulator and every project give identical outputs (and on --check DATA, held-out data), and
    writes DIR/report/. Nothing is left in DIR if a step fails; a verification mismatch keeps DIR for
    inspection and exits with status 1.
    """
    from hgq_fpga.app.datafile import fit_to_input, load_array
    from hgq_fpga.app.design import build_design, check_destination
    from hgq_fpga.app.keras_file import saved_input_shapes
    from hgq_fpga.app.stages import Stages

    source = options["source"]
    _check_model_file(model_path, source)
    target = _target(options["board"], options["name"], options["clock"], options["backends"], options["synth"],
                     options["multipliers"], options["ii"])
    check_destination(out, options["force"])
    data = load_array(calib, array)
    check_array = check_array or inputs_beside_labels(check, check_labels)
    held_out = load_array(check, check_array, "--check-array") if check is not None else None
    labels = _labels(check, check_labels, held_out)
    saved = saved_input_shapes(model_path) if source != "qkeras" else None
    if saved is not None:     # cheap checks first: TensorFlow takes 20 s to import
        shape = single_input_shape(saved, f"model {model_path}")
        data = fit_to_input(data, shape, calib)
        held_out = None if check is None else fit_to_input(held_out, shape, check)
    _check_options(source, options["drop_softmax"], options["input_type"], options)
    model = _load_model(model_path, source, options["input_type"], options["drop_softmax"], options["trust"])
    _check_source(model, model_path, source)
    shape = single_input_shape([tuple(t.shape[1:]) for t in model.inputs], f"model {model_path}")
    data = fit_to_input(data, shape, calib)
    checks = {f"calibration data {calib.name}": data}
    if check is not None:
        checks[f"held-out data {check.name}"] = fit_to_input(held_out, shape, check)
    if source == "qkeras":
        from hgq_fpga.app.commands.qkeras import check_qkeras

        check_qkeras(model_path, model, data, f"calibration data {calib.name}", options["trust"])
    labelled = None if labels is None else _labelled(model, model_path, source, check, checks, labels, options)
    if source == "float":
        model = _quantize(model, data, options, options["drop_softmax"])
    result = build_design(model, data, out, target=target, checks=checks, labelled=labelled,
                          replace=options["force"], force=options["force"], calibrate=source != "float",
                          progress=Stages(console()))
    _finish(result, list(checks), source)

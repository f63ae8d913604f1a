"""Command-line side of the QKeras importer: ``hgq-fpga import-qkeras`` and ``convert --from qkeras``.

Keras and the legacy subprocess are started only when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from hgq_fpga.app.commands.common import TRUST_FILE_FLAG, trust_file_option
from hgq_fpga.folders import write_file

INPUT_TYPE_HELP = ("Fixed-point type of the model inputs, e.g. 'ap_fixed<16,6>', when the first layer reads "
                   "them unquantized (QKeras equals the import for inputs on that grid and range).")


def qkeras_mismatches(path: Path, model, x: np.ndarray, trust: bool = False) -> tuple[int, int]:
    """``(mismatching values, values)`` between QKeras's own float32 predict and ``model`` on ``x``."""
    from hgq_fpga.nn.importers.qkeras.runner import qkeras_predict
    from hgq_fpga.nn.model_files import offer

    x = np.asarray(x, np.float32)
    with offer(TRUST_FILE_FLAG):
        ref = np.asarray(qkeras_predict(path, x, trust=trust), np.float64)
    ours = np.asarray(model.predict(x, verbose=0), np.float64)
    if ref.shape != ours.shape:
        raise ValueError(f"QKeras outputs {ref.shape}, the imported model {ours.shape}")
    return int((ref != ours).sum()), int(ref.size)


def import_model(path: Path, input_type: str | None, drop_softmax: bool, allow_float: dict[str, str],
                 trust: bool = False):
    """Import ``path`` and print the notes on what the exactness claim assumes."""
    from hgq_fpga.nn.importers.qkeras.builder import import_qkeras
    from hgq_fpga.nn.model_files import offer

    if not path.exists():
        raise click.ClickException(f"QKeras model {path} does not exist")
    with offer(TRUST_FILE_FLAG):
        result = import_qkeras(path, input_type=input_type, allow_float=allow_float, drop_softmax=drop_softmax,
                               trust=trust)
    for note in result.notes:
        click.echo(f"note: {note}")
    return result.model


def check_qkeras(path: Path, model, x: np.ndarray, label: str, trust: bool = False) -> None:
    """Compare with QKeras on ``x``; print the count, fail with status 1 if any value differs."""
    bad, total = qkeras_mismatches(path, model, x, trust)
    click.echo(f"QKeras model.predict == imported model on {label}: {bad} of {total:,} values differ")
    if bad:
        raise click.ClickException(f"the import differs from QKeras on {bad} values of {label}")


def _allow_float(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        layer, sep, type_ = item.partition("=")
        if not sep or not layer or not type_:
            raise click.ClickException(f"--allow-float {item!r} must be LAYER=TYPE, e.g. fc1='ap_fixed<18,8>'")
        out[layer] = type_
    return out


@click.command("import-qkeras")
@click.argument("model_path", metavar="MODEL", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, metavar="MODEL.keras", type=click.Path(path_type=Path),
              help="Where to write the imported hgq_fpga model.")
@click.option("--input-type", default=None, metavar="TYPE", help=INPUT_TYPE_HELP)
@click.option("--drop-softmax", is_flag=True, help="Drop a softmax on the output (the firmware gives logits).")
@click.option("--allow-float", "allow_float", multiple=True, metavar="LAYER=TYPE",
              help="Quantize LAYER's output to TYPE where QKeras cannot be matched (not QKeras-exact).")
@click.option("--check", "check", default=None, metavar="DATA", type=click.Path(path_type=Path),
              help="Compare QKeras's own predict with the import on DATA (.npy, .npz, .csv).")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--force", is_flag=True, help="Replace MODEL.keras if it exists.")
@trust_file_option
def import_qkeras_command(model_path: Path, out: Path, input_type: str | None, drop_softmax: bool,
                          allow_float: tuple[str, ...], check: Path | None, array: str | None,
                          force: bool, trust: bool) -> None:
    """Import a QKeras 0.9 model (.h5 or SavedModel) as an hgq_fpga model with its fixed bit widths.

    QKeras is run in a legacy Keras 2 subprocess; the result is a Keras 3 .keras file that
    `hgq-fpga convert` takes. Anything that cannot be bit-exact is refused with the reason. The
    file is checked before it is loaded: one that holds code (a Lambda layer) is refused unless
    --trust-file is given (docs/model_files.md).
    """
    if out.suffix != ".keras":
        raise click.ClickException(f"--out {out} must end in .keras")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; pass --force to replace it")
    model = import_model(model_path, input_type, drop_softmax, _allow_float(allow_float), trust)
    if check is not None:
        from hgq_fpga.app.datafile import fit_to_input, load_array

        x = fit_to_input(load_array(check, array), tuple(model.inputs[0].shape[1:]), check)
        check_qkeras(model_path, model, x, f"{check.name}", trust)
    write_file(out, lambda tmp: model.save(tmp), replace=force, option="--force")
    click.echo(f"wrote {out} ({len(model.layers)} layers); next: hgq-fpga convert {out} --calib DATA --out DIR")

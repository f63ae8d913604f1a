"""Command-line side of the QKeras importer: ``hgq-fpga import-qkeras`` and ``convert --from qkeras``.

Keras and the legacy subprocess are started only when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from hgq_fpga.app.commands.common import TRUST_FILE_FLAG, single_input_shape, trust_file_option
from hgq_fpga.folders import write_file

INPUT_TYPE_HELP = ("Fixed-point type of the model inputs, e.g. 'ap_fixed<16,6>', when the first layer reads "
                   "them unquantized (QKeras equals the import for inputs on that grid and range).")


def qkeras_mismatches(path: Path, model, x, trust: bool = False) -> list[tuple[str, int, int]]:
    """Per model output, ``(output name, mismatching values, values)`` between QKeras's own float32
    predict and ``model`` on ``x`` (an array, or a list of one per input)."""
    from hgq_fpga.nn.importers.qkeras import runner
    from hgq_fpga.nn.model_files import offer

    x = [np.asarray(a, np.float32) for a in x] if isinstance(x, (list, tuple)) else np.asarray(x, np.float32)
    with offer(TRUST_FILE_FLAG):
        ref = runner.qkeras_predict(path, x, trust=trust)
    ours = model.predict(x, verbose=0)
    refs = ref if isinstance(ref, list) else [ref]
    ours = ours if isinstance(ours, (list, tuple)) else [ours]
    if len(refs) != len(ours):
        raise ValueError(f"QKeras gives {len(refs)} output{'s' * (len(refs) != 1)}, the imported model "
                         f"{len(ours)}")
    counts = []
    for name, r, o in zip(model.output_names, refs, ours):
        r, o = np.asarray(r, np.float64), np.asarray(o, np.float64)
        if r.shape != o.shape:
            raise ValueError(f"output {name!r}: QKeras gives shape {r.shape}, the imported model {o.shape}")
        counts.append((name, int((r != o).sum()), int(r.size)))
    return counts


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
    counts = qkeras_mismatches(path, model, x, trust)
    bad, total = sum(c[1] for c in counts), sum(c[2] for c in counts)
    each = f" ({', '.join(f'{name}: {b} of {n:,}' for name, b, n in counts)})" if len(counts) > 1 else ""
    click.echo(f"QKeras model.predict == imported model on {label}: {bad} of {total:,} values differ{each}")
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

        shape = single_input_shape([tuple(t.shape[1:]) for t in model.inputs], f"model {model_path}")
        x = fit_to_input(load_array(check, array), shape, check)
        check_qkeras(model_path, model, x, f"{check.name}", trust)
    write_file(out, lambda tmp: model.save(tmp), replace=force, option="--force")
    click.echo(f"wrote {out} ({len(model.layers)} layers); next: hgq-fpga convert {out} --calib DATA --out DIR")

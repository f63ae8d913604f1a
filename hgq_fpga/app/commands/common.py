"""What the ``hgq-fpga`` commands share: data files, the console, backend names, warning lines."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import click

TRUST_FILE_HELP = ("Skip the check that refuses a model file holding code (a Lambda layer, a function "
                   "stored as bytecode, a custom object) before it is loaded. Only for a file whose source "
                   "you trust: a QKeras .h5 or SavedModel then runs such code while it loads (Keras 3 "
                   ".keras files stay in Keras's safe_mode). See docs/model_files.md.")

#: the click option; the command gets ``trust: bool``
trust_file_option = click.option("--trust-file", "trust", is_flag=True, help=TRUST_FILE_HELP)

#: the spelling of the opt-in in a refusal on the command line (see hgq_fpga.nn.model_files.offer)
TRUST_FILE_FLAG = "--trust-file"

DATA_HELP = ("samples as .npy, .npz (pick the array with --array NAME, or the only one) or .csv "
             "(numbers, optional header line)")


#: Python spellings in messages of the library, as a command-line user spells them
CLI_SPELLINGS = {"drop_softmax=True": "--drop-softmax", "allow_float={layer: type}": "--allow-float LAYER=TYPE",
                 "input_type=": "--input-type ", "trust=True": "--trust-file"}


def cli_spelling(text: str) -> str:
    """A message of the library with its Python argument spellings replaced by the command's flags."""
    for python, flag in CLI_SPELLINGS.items():
        text = text.replace(python, flag)
    return text


def one_line(err: BaseException) -> str:
    """An exception as one line, in the command line's spelling; a longer message is cut and points
    to ``--debug``."""
    text = cli_spelling(str(err).strip() or type(err).__name__)
    first, _, rest = text.partition("\n")
    return f"{first} (more with --debug)" if rest.strip() else first


def console():
    """A rich console; at least 120 columns when the output is a file or a pipe."""
    from rich.console import Console

    found = Console()
    return found if found.is_terminal else Console(width=max(found.width, 120))


def load_data(path: Path, array: str | None, shape: Sequence[int]):
    """The samples of a data file, checked against the model's per-sample input ``shape``."""
    from hgq_fpga.app.datafile import fit_to_input, load_array

    return fit_to_input(load_array(path, array), shape, path)


def single_input_shape(shapes: list[tuple[int, ...]], what: str) -> tuple[int, ...]:
    """The one input shape of a model or design; the command line handles single-input models."""
    if len(shapes) != 1:
        raise click.ClickException(f"{what} has {len(shapes)} inputs; the command line handles "
                                   "single-input models only (use the Python API for more)")
    return shapes[0]


def warn_overflow(overflow) -> None:
    """One warning line when values left the calibrated range: bit-exact, but maybe not meant."""
    if overflow is not None and overflow.any:
        click.echo(f"Warning: {overflow.summary()}; calibrate on data that covers these inputs, or "
                   "check their scaling", err=True)


class BackendNames(click.ParamType):
    """``--backend``: registered backend names, comma-separated, or ``both`` (hls and rtl).

    The names come from the backend registry when the command runs, so a backend registered by
    another package is a valid choice without any edit here.
    """

    name = "backends"

    def convert(self, value, param, ctx) -> tuple[str, ...]:
        if isinstance(value, tuple):
            return value
        from hgq_fpga.app.design import backend_list

        try:
            return backend_list(value)
        except ValueError as err:
            self.fail(str(err), param, ctx)

    def get_metavar(self, param, *args, **kwargs) -> str:
        return "NAME[,NAME...]"


def check_output_file(out: Path, force: bool, *inputs: Path | None, option: str = "--out") -> None:
    """Refuse an output file (given as ``option``) that is an input of the command (always), a folder,
    or an existing file (without ``--force``)."""
    for given in inputs:
        if given is not None and given.exists() and out.exists() and out.resolve() == given.resolve():
            raise click.ClickException(f"{option} {out} is the input data file {given}; write elsewhere")
    if out.is_dir():
        raise click.ClickException(f"{option} {out} is a folder; give a file name")
    if out.exists() and not force:
        raise click.ClickException(f"{option} {out} exists; pass --force to replace it")


def labels_of(path: Path, name: str, samples: int, option: str):
    """Integer class labels: array ``name`` of the .npz file ``path``, one per sample (``option`` names
    the flag in errors)."""
    import numpy as np

    from hgq_fpga.app.datafile import load_array

    labels = load_array(path, name, option)
    if labels.ndim != 1 or len(labels) != samples:
        raise click.ClickException(f"{option} {name} has shape {labels.shape}; expected one integer label "
                                   f"per sample ({samples},)")
    if not np.all(labels == np.round(labels)) or labels.min() < 0:
        raise click.ClickException(f"{option} {name} must hold class numbers 0, 1, 2, ...")
    return labels.astype(np.int64)


def inputs_beside_labels(check: Path | None, labels: str | None) -> str | None:
    """With labels named (``--check-labels y``), the inputs of a two-array .npz file are the other array."""
    from hgq_fpga.app.datafile import npz_arrays

    names = npz_arrays(check) if check is not None and labels is not None else []
    return next(n for n in names if n != labels) if len(names) == 2 and labels in names else None

"""``hgq-fpga emulate``: the bit-exact firmware emulator of a design folder on a data file."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hgq_fpga.app.commands.common import DATA_HELP, load_data, single_input_shape, warn_overflow


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


@click.command()
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
    (`np.load(PRED.npz).files` lists them, in order).
    """
    from hgq_fpga.checks.design_folder import open_design

    if out.suffix not in (".npy", ".npz"):
        raise click.ClickException(f"--out {out} must end in .npy (one output) or .npz (one array per output)")
    fw = open_design(design).firmware()
    if len(fw.outputs) != 1 and out.suffix == ".npy":
        raise click.ClickException(f"design {design} has {len(fw.outputs)} outputs ({', '.join(fw.outputs)}); "
                                   f"a .npy file holds one array: write --out {out.with_suffix('.npz')} "
                                   "(one array per output)")
    x = load_data(data_path, array, single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    y, overflow = fw.predict(x, report=True)
    warn_overflow(overflow)
    outputs = dict(zip(fw.outputs, [y] if len(fw.outputs) == 1 else y))
    _save_outputs(outputs, out)
    shapes = ", ".join(f"{name} {tuple(v.shape[1:])}" for name, v in outputs.items())
    click.echo(f"wrote {len(x):,} predictions ({shapes}) to {out}")

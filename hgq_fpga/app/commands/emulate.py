"""``hgq-fpga emulate``: the bit-exact firmware emulator of a design folder on a data file."""

from __future__ import annotations

from pathlib import Path

import click

from hgq_fpga.app.commands.common import (DATA_HELP, check_output_file, load_data, single_input_shape,
                                          warn_overflow)


def _save_outputs(outputs: dict, out: Path, force: bool) -> None:
    """Write the emulator's outputs to ``out`` in one step (never over a file without ``--force``)."""
    import numpy as np

    from hgq_fpga.folders import write_file

    if out.suffix == ".npy":
        (value,) = outputs.values()
        write_file(out, lambda tmp: np.save(tmp, value), replace=force, option="--force")
    else:
        write_file(out, lambda tmp: np.savez(tmp, **outputs), replace=force, option="--force")


@click.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Inputs to run: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--out", "out", required=True, metavar="PRED.npy|PRED.npz", type=click.Path(path_type=Path),
              help="Where to write the outputs (float64, one row per sample): .npy for a design with "
                   "one output, .npz (one array per output, named as the firmware's outputs) for any.")
@click.option("--force", is_flag=True, help="Replace PRED if it exists (never the input data).")
def emulate(design: Path, data_path: Path, array: str | None, out: Path, force: bool) -> None:
    """Run the bit-exact firmware emulator of DIR on DATA and save the outputs.

    Needs only numpy: no Keras, no compiler. The values are exactly what the FPGA computes.
    A design with one output may write PRED.npy (one array) or PRED.npz; a design with several
    outputs writes PRED.npz with one array per output, named as the firmware IR names them
    (`np.load(PRED.npz).files` lists them, in order).
    """
    from hgq_fpga.checks.design_folder import open_design

    if out.suffix not in (".npy", ".npz"):
        raise click.ClickException(f"--out {out} must end in .npy (one output) or .npz (one array per output)")
    check_output_file(out, force, data_path)
    fw = open_design(design).firmware()
    if len(fw.outputs) != 1 and out.suffix == ".npy":
        raise click.ClickException(f"design {design} has {len(fw.outputs)} outputs ({', '.join(fw.outputs)}); "
                                   f"a .npy file holds one array: write --out {out.with_suffix('.npz')} "
                                   "(one array per output)")
    x = load_data(data_path, array, single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    y, overflow = fw.predict(x, report=True)
    warn_overflow(overflow)
    outputs = dict(zip(fw.outputs, [y] if len(fw.outputs) == 1 else y))
    _save_outputs(outputs, out, force)
    shapes = ", ".join(f"{name} {tuple(v.shape[1:])}" for name, v in outputs.items())
    click.echo(f"wrote {len(x):,} predictions ({shapes}) to {out}")

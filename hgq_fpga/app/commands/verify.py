"""``hgq-fpga verify``: Keras = emulator = every project of a design folder, on a data file."""

from __future__ import annotations

from pathlib import Path

import click

from hgq_fpga.app.commands.common import (DATA_HELP, check_output_file, inputs_beside_labels, labels_of,
                                          load_data, single_input_shape)


@click.command()
@click.argument("design", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--data", "data_path", required=True, metavar="DATA", type=click.Path(path_type=Path),
              help=f"Inputs to compare on: {DATA_HELP}.")
@click.option("--array", default=None, metavar="NAME", help="Array of an .npz DATA file to use.")
@click.option("--junit", default=None, metavar="REPORT.xml", type=click.Path(path_type=Path),
              help="Also write the result as JUnit XML for CI systems (written on failure too).")
@click.option("--labels", default=None, metavar="NAME",
              help="Array of the .npz DATA file that holds integer class labels: also print the accuracy.")
@click.option("--force", is_flag=True, help="Replace the --junit file if it exists.")
def verify(design: Path, data_path: Path, array: str | None, junit: Path | None, labels: str | None,
           force: bool) -> None:
    """Check that Keras, the emulator and every project of DIR agree on every output for DATA.

    DIR is a folder written by `hgq-fpga convert` (or `make demo`); every project it holds (the
    HLS C simulation, the RTL's Verilator simulation, the C++ library) is compared. Exits with
    status 1 if any output value differs, and prints where the first difference is.
    """
    from hgq_fpga.checks.design_folder import open_design
    from hgq_fpga.checks.verify import verify as run_verify

    if junit is not None:
        check_output_file(junit, force, data_path, option="--junit")
    found = open_design(design)
    fw = found.firmware()
    if labels is not None and array is None:
        array = inputs_beside_labels(data_path, labels)
    x = load_data(data_path, array, single_input_shape([s.shape for s in fw.inputs], f"design {design}"))
    y = None if labels is None else labels_of(data_path, labels, len(x), "--labels")
    report = run_verify(found.keras_model(), x, firmware=fw, project=found.projects(fw), data=data_path.name)
    click.echo(str(report), nl=False)
    if y is not None:
        import numpy as np

        scores = np.asarray(fw.predict(x))
        click.echo(f"accuracy on {data_path.name}: {100 * np.mean(scores.argmax(axis=1) == y):.2f} % "
                   f"(the firmware{'; every implementation gives the same bits' if report.ok else ''})")
    if junit is not None:
        from hgq_fpga.checks.junit import write_junit

        click.echo(f"wrote JUnit XML to {write_junit(report, junit, replace=force)}")
    if not report.ok:
        raise click.ClickException(f"verification failed: {report.mismatches} mismatching values")

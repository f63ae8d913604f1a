"""``hgq-fpga``: the command line for converting, verifying, emulating and reporting HGQ designs.

    hgq-fpga convert MODEL.keras --calib DATA --board vu9p --out DIR [--backend hls,rtl,cpp]
    hgq-fpga verify DIR --data DATA [--junit REPORT.xml]
    hgq-fpga export-emulator DIR --out EMU
    hgq-fpga emulate DIR --data DATA --out PRED.npy (or PRED.npz: one array per output)
    hgq-fpga report DIR
    hgq-fpga boards
    hgq-fpga import-qkeras MODEL.h5 --out MODEL.keras
    hgq-fpga sweep SPEC.yaml --out DIR
    hgq-fpga train SPEC.yaml --out DIR

Every failure ends with exit status 1 and one line saying what is wrong (``--debug`` shows the
traceback). Each command lives in a module of :mod:`hgq_fpga.app.commands` (the sweep in
:mod:`hgq_fpga.app.sweep.cli`); this module only groups them.
"""

from __future__ import annotations

import os
import sys
import warnings

import click

from hgq_fpga.app.commands.boards import boards
from hgq_fpga.app.commands.common import one_line
from hgq_fpga.app.commands.convert import convert
from hgq_fpga.app.commands.emulate import emulate
from hgq_fpga.app.commands.export import export_emulator
from hgq_fpga.app.commands.qkeras import import_qkeras_command
from hgq_fpga.app.commands.report import report
from hgq_fpga.app.commands.train import train
from hgq_fpga.app.commands.verify import verify
from hgq_fpga.app.sweep.cli import sweep
from hgq_fpga.app.tensorflow_env import prepare
from hgq_fpga.folders import StaleStagingRemoved, UserFilesKept

prepare()   # before any command imports TensorFlow: its start-up notices stay off the terminal


def _note(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings that a user should read (files kept, stale staging removed) as one ``Note:`` line."""
    if issubclass(category, (UserFilesKept, StaleStagingRemoved)):
        click.echo(f"Note: {message}", err=True)
    else:
        _show(message, category, filename, lineno, file, line)


_show = warnings.showwarning


class _Group(click.Group):
    """Turns any exception of a command into exit status 1 and one ``Error: ...`` line."""

    def invoke(self, ctx: click.Context):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", UserFilesKept)
                warnings.showwarning = _note
                return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as err:  # noqa: BLE001 - the one place that reports every failure
            if ctx.meta.get("hgq_debug") or os.environ.get("HGQ_FPGA_DEBUG"):
                raise
            raise click.ClickException(one_line(err)) from err


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hgq_fpga", prog_name="hgq-fpga")
@click.option("--debug", is_flag=True, help="Show the full Python traceback when a command fails.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Turn HGQ-trained Keras models into verified FPGA firmware (HLS C++, Verilog RTL, a C++ library).

    A typical session: train with hgq_fpga.nn.layers, save the model, then

    \b
      hgq-fpga convert model.keras --calib train.npy --board vu9p --backend both --out build/fw
      hgq-fpga verify build/fw --data test.npy
      cd build/fw/rtl && make synth BOARD=vu9p

    Run `hgq-fpga COMMAND --help` for the options of each command.
    """
    ctx.meta["hgq_debug"] = debug


for _command in (convert, verify, emulate, export_emulator, report, boards, import_qkeras_command, sweep, train):
    main.add_command(_command)

if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: the benchmark commands (bench/README.md).

    python -m bench suite [--quick] [--out DIR]   the resource study, its exactness check and the speed
                                                  benchmarks (``make bench``)
    python -m bench run NAME [OPTIONS]            one other study (``python -m bench run --help``)
    python -m bench render [--out DIR]            BENCHMARKS.md and the figures from results.json

Every run stores its record in bench/results.json and re-renders BENCHMARKS.md (``--out DIR``: in
DIR instead). Study commands use :func:`out_option` and :func:`needs_dataset`.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

import click

from bench import studies
from bench.common.store import Destination
from bench.render import publish, put, write

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported


class Output:
    """Where a run stores its record and renders the page (``--out``)."""

    def __init__(self, folder: Path | None) -> None:
        self.dest = Destination.at(folder)

    def store(self, name: str, record: dict) -> None:
        """Store study ``name``'s record and re-render the page."""
        self.change(put({name: record}), f"studies.{name}")

    def change(self, change: Callable[[dict], None], what: str) -> None:
        """Apply ``change`` to the store (:func:`bench.render.publish`) and say so."""
        try:
            publish(self.dest, change)
        except ValueError as err:
            raise click.ClickException(str(err)) from err
        click.echo(f"stored {what} in {self.dest.results}; wrote {self.dest.markdown}")


def out_option(command: Callable, help: str = "store the record in DIR/results.json and render "
               "DIR/BENCHMARKS.md (figures under DIR) instead of bench/results.json and BENCHMARKS.md") -> Callable:
    """The ``--out DIR`` option, given to the command as an :class:`Output` named ``out``."""
    return click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
                        callback=lambda ctx, param, value: Output(value), help=help)(command)


def needs_dataset(step: Callable[[], Any]) -> Any:
    """``step()``, with a missing Fashion-MNIST as a one-line error saying how to install it."""
    from bench.common.data import DatasetMissingError

    try:
        return step()
    except DatasetMissingError as err:
        raise click.ClickException(str(err)) from err


class Studies(click.Group):
    """The study commands, loaded when named (each imports its own, often heavy, dependencies)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in studies.names() if name not in studies.SUITE]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return studies.command(name)


@click.group()
def bench() -> None:
    """The hgq_fpga benchmarks: every number of BENCHMARKS.md, stored in bench/results.json."""


@bench.command()
@click.option("--quick", is_flag=True,
              help="MLP only, training subset, fewer epochs/widths/models: under 10 minutes on 2 cores")
@out_option
def suite(quick: bool, out: Output) -> None:
    """The resource study, the exactness check of its front models and the speed benchmarks."""
    from bench.common.presets import preset
    from bench.suite import run_suite

    command = "python -m bench suite" + (" --quick" if quick else "")
    needs_dataset(lambda: run_suite(preset("quick" if quick else "full"), out, command))


bench.add_command(Studies("run", help="Run one study and store its record (the suite's studies: `suite`)."))


@bench.command()
@functools.partial(out_option, help="render DIR/BENCHMARKS.md and the figures from DIR/results.json")
def render(out: Output) -> None:
    """Re-render BENCHMARKS.md and every figure from results.json, running nothing."""
    try:
        click.echo(f"wrote {write(out.dest)}")
    except (FileNotFoundError, ValueError) as err:
        raise click.ClickException(str(err)) from err

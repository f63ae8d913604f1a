"""``hgq-fpga boards``: the known boards."""

from __future__ import annotations

import click

from hgq_fpga.app.commands.common import console as make_console


@click.command()
def boards() -> None:
    """List the known boards: part, default clock and resources."""
    from rich import box
    from rich.table import Table

    from hgq_fpga.backends.common.board import RESOURCE_KINDS, known_boards

    console = make_console()
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

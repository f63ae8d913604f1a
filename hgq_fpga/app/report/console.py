"""The terminal summary of a converted design, read at a glance (rich tables).

Printed at the end of ``make demo`` and ``hgq-fpga convert``; it shows the same numbers as
``report.json`` (it is drawn from that data), plus where the project is and what to run next.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from hgq_fpga.app.report import synthesis
from hgq_fpga.app.report.latency import latency_text
from hgq_fpga.app.report.timing import timing_text
from hgq_fpga.app.report.markdown import chain, efficiency_cell, rate_label, verification_line, verifications


def _range(stats: dict) -> str:
    return "–" if not stats["count"] else f"{stats['min']} / {stats['mean']:.1f} / {stats['max']}"


def _mismatch_cell(verification: dict | None) -> str:
    if not verification:
        return "[yellow]not verified[/]"
    if verification["mismatches"] == 0:
        return (f"[green bold]0[/] ({chain(verification)} on {verification['samples']:,} samples, "
                f"{verification.get('data', 'data')})")
    return f"[red bold]{verification_line(verification)}[/]"


def summary_table(data: dict, project_dir: str | Path | None = None) -> Table:
    """Key numbers of the design: accuracy, EBOPs, pruning, latency, verification, location."""
    d = data["design"]
    board = data.get("board") or {}
    table = Table(title=f"{data.get('name', 'design')} on {board.get('name', '?')} "
                        f"({board.get('part', '?')}, {board.get('clock_period_ns', 0):g} ns clock)",
                  show_header=False, title_style="bold")
    table.add_column("quantity", style="bold")
    table.add_column("value")
    for name, value in (data.get("metrics") or {}).items():
        shown = f"{100 * value:.2f} %" if "accuracy" in name and isinstance(value, float) else f"{value}"
        table.add_row(name, shown)
    for row in accuracy_rows(data.get("classification")):
        table.add_row(*row)
    share = 100 * d["pruned"] / d["weights"] if d["weights"] else 0.0
    table.add_row("EBOPs (exact)", f"{d['ebops']:,}")
    table.add_row("adders", f"{d.get('adders', 0):,} (CSD digits − 1 per weight + accumulation trees)")
    table.add_row("weights", f"{d['kept']:,} kept, {d['pruned']:,} pruned ({share:.1f} %) of {d['weights']:,}")
    table.add_row("estimated latency", latency_text(d))
    for row in synthesis.summary_rows(data.get("synthesis") or {}):
        table.add_row(*row)
    if data.get("timing"):
        table.add_row("RTL timing (estimate)", timing_text(data["timing"]))
    for v in verifications(data) or [None]:
        table.add_row("mismatches", _mismatch_cell(v))
    if project_dir is not None:
        table.add_row("project", str(project_dir))
        table.add_row("report", str(Path(project_dir) / "report" / "report.md"))
    return table


def accuracy_rows(record: dict | None) -> list[tuple[str, str]]:
    """The accuracy on labelled data: the firmware's, and the reference model's beside it."""
    if not record:
        return []
    acc = record["accuracy"]
    text = f"{100 * acc['firmware']:.2f} % (firmware)"
    if "keras" in acc:
        text += f"; {100 * acc['keras']:.2f} % ({record['keras']})"
    return [(f"accuracy on {record['data']}", text)]


def trigger_table(data: dict) -> Table | None:
    """Each class's signal efficiency at the fixed background rates (firmware), or None without labels."""
    record = data.get("classification") or {}
    trigger = record.get("trigger")
    if not trigger:
        return None
    rates, minimum = trigger["rates"], trigger["min_background_passing"]
    table = Table(title="signal efficiency (firmware) at fixed background rates", title_style="bold",
                  box=box.SIMPLE_HEAD, caption=f"on {record['data']}; ± binomial; a rate needs {minimum} "
                                               "background events passing (docs/reports.md)")
    for column in ("class", "events", *(f"at {rate_label(r)} background" for r in rates)):
        table.add_column(column, justify="left" if column == "class" else "right")
    for row in trigger["per_class"]:
        table.add_row(row["class"], f"{row['signal']:,}",
                      *(efficiency_cell(row["firmware"][n], row["signal"], rate, minimum) for n, rate in enumerate(rates)))
    return table


def layer_table(data: dict) -> Table:
    """Per-layer bit widths (min / mean / max), pruning and EBOPs."""
    table = Table(title="per layer", title_style="bold", box=box.SIMPLE_HEAD,
                  caption="bits: min / mean / max; weight bits over kept weights, sign bit not counted")
    for column, justify in (("layer", "left"), ("kind", "left"), ("weights kept", "right"),
                            ("weight bits", "right"), ("activation bits", "right"), ("EBOPs", "right"),
                            ("adders", "right")):
        table.add_column(column, justify=justify)
    for layer in data["design"]["layers"]:
        weights = f"{layer['kept']:,} of {layer['weights']:,}" if layer["weights"] else "–"
        table.add_row(layer["name"], layer["kind"], weights, _range(layer["weight_bits"]),
                      _range(layer["activation_bits"]), f"{layer['ebops']:,}" if layer["weights"] else "–",
                      f"{layer.get('adders', 0):,}" if layer["weights"] else "–")
    return table


def print_summary(data: dict, project_dir: str | Path | None = None, next_command: str | None = None,
                  console: Console | None = None) -> None:
    """Print the design summary and the per-layer table."""
    console = console or Console()
    console.print(layer_table(data))
    trigger = trigger_table(data)
    if trigger is not None:
        console.print(trigger)
    console.print(summary_table(data, project_dir))
    if next_command:
        # on a line of its own and never wrapped, so it can be copied and pasted as it is
        console.print(f"next: [bold cyan]{next_command}[/]", soft_wrap=True)


def summary_text(data: dict, project_dir: str | Path | None = None, width: int = 120) -> str:
    """The summary that :func:`print_summary` prints, as plain text (``str`` of a build's result)."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    print_summary(data, project_dir, console=console)
    return console.export_text()

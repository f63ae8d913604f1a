"""Resource and latency report of a synthesized RTL project (standard library only).

Reads whichever synthesis ran last in ``<project>/reports/``: Yosys ``stat -json``
(``yosys_stat.json``) or Vivado ``report_utilization`` (``vivado_utilization.rpt``, with
``vivado_timing.rpt`` for the worst negative slack), and ``project.json`` for the latency and
the boards' resources.  Writes ``reports/report.json`` and ``reports/report.md``.

This file is copied verbatim into every project as ``scripts/report.py`` so that ``make report``
needs nothing but ``python3``: keep it free of imports outside the standard library.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

#: Reported kinds, in table order.  BRAM counts 18K blocks (a RAMB36 is two).
KINDS = ("LUT", "FF", "CARRY", "DSP", "BRAM_18K", "SRL", "LUTRAM")

#: Yosys Xilinx cell type → reported kind, and how many of that kind one cell is.
YOSYS_CELLS = {
    **{f"LUT{n}": ("LUT", 1) for n in range(1, 7)}, "INV": ("LUT", 1),
    **{c: ("FF", 1) for c in ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1",
                              "FDPE_1", "LDCE", "LDPE")},
    "CARRY4": ("CARRY", 1), "CARRY8": ("CARRY", 1),
    **{c: ("DSP", 1) for c in ("DSP48E1", "DSP48E2", "DSP48A1")},
    "RAMB18E1": ("BRAM_18K", 1), "RAMB18E2": ("BRAM_18K", 1),
    "RAMB36E1": ("BRAM_18K", 2), "RAMB36E2": ("BRAM_18K", 2),
    "SRL16E": ("SRL", 1), "SRLC32E": ("SRL", 1), "SRLC16E": ("SRL", 1),
    **{c: ("LUTRAM", 1) for c in ("RAM32X1D", "RAM64X1D", "RAM128X1D", "RAM32M", "RAM64M",
                                  "RAM32M16", "RAM64M8", "RAM32X1S", "RAM64X1S", "RAM128X1S",
                                  "RAM256X1S")},
}

#: Vivado utilization row label → reported kind (first matching row wins).
VIVADO_ROWS = (("CLB LUTs", "LUT"), ("Slice LUTs", "LUT"), ("CLB Registers", "FF"),
               ("Slice Registers", "FF"), ("CARRY8", "CARRY"), ("CARRY4", "CARRY"),
               ("DSPs", "DSP"), ("LUT as Shift Register", "SRL"),
               ("LUT as Distributed RAM", "LUTRAM"))


class ReportError(ValueError):
    """A report is missing or unreadable; the message names the file."""


def parse_yosys_stat(path: str | Path) -> dict[str, int]:
    """Counts per kind from Yosys ``stat -json`` (the whole design)."""
    path = Path(path)
    try:
        text = path.read_text()
        data = json.loads(text[text.index("{"):])
    except (OSError, ValueError) as err:
        raise ReportError(f"{path}: not a Yosys `stat -json` report ({err})") from None
    cells = (data.get("design") or {}).get("num_cells_by_type")
    if cells is None:
        mods = list((data.get("modules") or {}).values())
        if not mods:
            raise ReportError(f"{path}: no design or module statistics")
        cells = {}
        for m in mods:
            for c, n in m.get("num_cells_by_type", {}).items():
                cells[c] = cells.get(c, 0) + n
    counts = dict.fromkeys(KINDS, 0)
    for cell, n in cells.items():
        kind, mult = YOSYS_CELLS.get(cell, (None, 0))
        if kind:
            counts[kind] += int(n) * mult
    return counts


def _vivado_rows(text: str) -> dict[str, int]:
    rows = {}
    for line in text.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) >= 2 and re.fullmatch(r"\d+", cols[1] or ""):
            rows.setdefault(cols[0].rstrip("*").strip(), int(cols[1]))
    return rows


def parse_vivado_utilization(path: str | Path) -> dict[str, int]:
    """Counts per kind from Vivado ``report_utilization`` text."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ReportError(f"{path}: {err}") from None
    rows = _vivado_rows(text)
    if not any(label in rows for label, _ in VIVADO_ROWS):
        raise ReportError(f"{path}: no LUT/register rows; is it a Vivado report_utilization file?")
    counts = dict.fromkeys(KINDS, 0)
    seen = set()
    for label, kind in VIVADO_ROWS:
        if label in rows and kind not in seen:
            counts[kind] = rows[label]
            seen.add(kind)
    bram36, bram18 = rows.get("RAMB36/FIFO", 0), rows.get("RAMB18", 0)
    counts["BRAM_18K"] = 2 * bram36 + bram18
    return counts


def parse_vivado_wns(path: str | Path) -> float | None:
    """Worst negative slack (ns) from ``report_timing_summary``, or None if absent."""
    path = Path(path)
    if not path.is_file():
        return None
    lines = path.read_text().splitlines()
    for n, line in enumerate(lines):
        if line.strip().startswith("WNS(ns)"):
            for row in lines[n + 1:n + 4]:
                parts = row.split()
                if parts and re.fullmatch(r"-?\d+(\.\d+)?", parts[0]):
                    return float(parts[0])
    return None


def has_report(project: str | Path) -> bool:
    """Whether a synthesis left its report in ``project`` (``make synth`` ran)."""
    reports = Path(project) / "reports"
    return (reports / "vivado_utilization.rpt").is_file() or (reports / "yosys_stat.json").is_file()


def make_report(project: str | Path, board: str | None = None) -> dict:
    """The report of the last synthesis in ``project``; also written to ``reports/``."""
    project = Path(project)
    info = json.loads((project / "project.json").read_text())
    reports = project / "reports"
    if board is None:
        saved = reports / "board.txt"
        board = saved.read_text().strip() if saved.is_file() else info["board"]
    if board not in info["boards"]:
        raise ReportError(f"unknown board {board!r}; known: {', '.join(info['boards'])}")
    b = info["boards"][board]
    viv, ys = reports / "vivado_utilization.rpt", reports / "yosys_stat.json"
    if viv.is_file():
        tool, counts = "vivado", parse_vivado_utilization(viv)
    elif ys.is_file():
        tool, counts = "yosys", parse_yosys_stat(ys)
    else:
        raise ReportError(f"no synthesis report in {reports}: run `make synth` first")
    avail = {"LUT": b["resources"].get("LUT"), "FF": b["resources"].get("FF"),
             "DSP": b["resources"].get("DSP"), "BRAM_18K": b["resources"].get("BRAM_18K")}
    share = {k: counts[k] / avail[k] for k in avail if avail[k]}
    clock = float(info["clock_period_ns"])
    rep = {"top": info["top"], "tool": tool, "board": board, "part": b["part"],
           "resources": counts, "available": {k: v for k, v in avail.items() if v},
           "utilisation": share, "latency_cycles": info["latency_cycles"], "ii": info.get("ii", 1),
           "clock_period_ns": clock, "latency_ns": info["latency_cycles"] * clock,
           "wns_ns": parse_vivado_wns(reports / "vivado_timing.rpt") if tool == "vivado" else None}
    reports.mkdir(exist_ok=True)
    (reports / "report.json").write_text(json.dumps(rep, indent=1) + "\n")
    (reports / "report.md").write_text(to_markdown(rep))
    return rep


def to_markdown(rep: dict) -> str:
    """A table a person reads at a glance."""
    lines = [f"## `{rep['top']}` on {rep['board']} ({rep['part']}), {rep['tool']} synthesis", "",
             f"Latency **{rep['latency_cycles']} cycles = {rep['latency_ns']:g} ns** at "
             f"{rep['clock_period_ns']:g} ns, II = {rep.get('ii', 1)}."
             + (f" Worst negative slack {rep['wns_ns']:g} ns." if rep.get("wns_ns") is not None else ""),
             "", "| resource | used | available | share |", "| --- | ---: | ---: | ---: |"]
    for k in KINDS:
        avail = rep["available"].get(k)
        share = f"{100 * rep['utilisation'][k]:.4f} %" if k in rep["utilisation"] else "–"
        lines.append(f"| {k} | {rep['resources'][k]:,} | {f'{avail:,}' if avail else '–'} | {share} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Resource and latency report of an RTL project")
    ap.add_argument("project", nargs="?", default=".")
    ap.add_argument("--board", default=None)
    args = ap.parse_args(argv)
    try:
        rep = make_report(args.project, args.board or None)
    except ReportError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 2
    print(to_markdown(rep), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

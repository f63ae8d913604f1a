"""The RTL synthesis result of a design folder, beside the EBOPs estimate: real LUTs, flip-flops
and latency in clock cycles.

``make synth`` in ``DIR/rtl`` (or ``build_design(..., synth=True)``, which ``make demo`` uses)
leaves ``DIR/rtl/reports/report.json`` (:mod:`hgq_fpga.backends.rtl.synth_report`). The numbers
are for the whole model: the RTL is one flat module, and synthesis optimizes across layer
boundaries, so LUTs are not attributed to layers. EBOPs are compared with ``LUT + 55·DSP`` as the
HGQ paper does (``docs/method.md`` §3).
"""

from __future__ import annotations

import json
from pathlib import Path

from hgq_fpga.app.report.synthesis import LUT_PER_DSP

#: where a design folder's RTL synthesis report is
RTL_REPORT = Path("rtl") / "reports" / "report.json"
#: resource kinds shown, in order
SHOWN = ("LUT", "FF", "CARRY", "DSP", "BRAM_18K", "SRL")


def find_rtl_synthesis(design_dir: str | Path, ebops: int) -> dict | None:
    """The RTL synthesis report of ``design_dir`` with the EBOPs comparison, or None if never run."""
    path = Path(design_dir) / RTL_REPORT
    try:
        rep = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    res = rep.get("resources") or {}
    equivalent = int(res.get("LUT", 0)) + LUT_PER_DSP * int(res.get("DSP", 0))
    return {"report": rep, "comparison": {
        "ebops_estimate": int(ebops), "lut_plus_55_dsp": equivalent,
        "ratio_lut_equivalent_to_ebops": equivalent / ebops if ebops else None}}


def _share(rep: dict, kind: str) -> str:
    share = (rep.get("utilisation") or {}).get(kind)
    return f"{100 * share:.3f} %" if share is not None else "–"


def latency_line(rep: dict) -> str:
    """``6 clock cycles = 30 ns at 5 ns, II = 1``."""
    return (f"{rep['latency_cycles']} clock cycles = {rep['latency_ns']:g} ns at "
            f"{rep['clock_period_ns']:g} ns, II = 1")


def summary_rows(rtl: dict | None) -> list[tuple[str, str]]:
    """(quantity, value) rows of the terminal summary: LUTs, FFs, share of the board, latency."""
    if not rtl:
        return []
    rep, c = rtl["report"], rtl["comparison"]
    res = rep["resources"]
    ratio = c["ratio_lut_equivalent_to_ebops"]
    return [
        (f"RTL LUTs ({rep['tool']})", f"{res['LUT']:,} = {_share(rep, 'LUT')} of {rep['board']} "
                                       f"(LUT + 55·DSP / EBOPs = {ratio:.2f})" if ratio is not None else
         f"{res['LUT']:,} = {_share(rep, 'LUT')} of {rep['board']}"),
        (f"RTL FFs ({rep['tool']})", f"{res['FF']:,} = {_share(rep, 'FF')} of {rep['board']}; "
                                      f"CARRY {res.get('CARRY', 0):,}, DSP {res.get('DSP', 0):,}"),
        ("RTL latency", latency_line(rep)),
    ]


def markdown_lines(rtl: dict | None) -> list[str]:
    """The report's RTL synthesis section (empty when synthesis never ran)."""
    if not rtl:
        return []
    rep, c = rtl["report"], rtl["comparison"]
    ratio = c["ratio_lut_equivalent_to_ebops"]
    lines = [f"## RTL synthesis ({rep['tool']}, {rep['board']}, part {rep['part']})", "",
             f"Whole model (the RTL is one flat module; synthesis optimizes across layers, so LUTs "
             f"are not attributed to layers). Latency **{latency_line(rep)}**"
             + (f", worst negative slack {rep['wns_ns']:g} ns." if rep.get("wns_ns") is not None else "."),
             "", "| quantity | synthesis | estimate |", "| --- | ---: | ---: |",
             f"| LUT + 55·DSP | {c['lut_plus_55_dsp']:,} | {c['ebops_estimate']:,} EBOPs"
             + (f" (ratio {ratio:.2f}) |" if ratio is not None else " |"), "",
             "| resource | used | available | share |", "| --- | ---: | ---: | ---: |"]
    for kind in SHOWN:
        avail = (rep.get("available") or {}).get(kind)
        lines.append(f"| {kind} | {rep['resources'].get(kind, 0):,} | {f'{avail:,}' if avail else '–'} | "
                     f"{_share(rep, kind)} |")
    return lines + [""]

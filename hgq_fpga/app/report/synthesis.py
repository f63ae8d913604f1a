"""Synthesis figures of a design's projects, set beside the estimates made before synthesis.

Each project's ``report()`` gives its figures in one shape (:mod:`hgq_fpga.backends.common.synthesis`);
a design keeps them by backend under ``"synthesis"`` in its manifest, and ``hgq-fpga report DIR``
asks the projects again (after a ``make synth`` in one of them). The numbers are for the whole model:
synthesis optimizes across layer boundaries, so LUTs are not attributed to layers. EBOPs are set
beside ``LUT + 55·DSP`` as the HGQ paper does (``docs/method.md`` §3), the adder-level latency
estimate beside the cycles.
"""

from __future__ import annotations

from hgq_fpga.backends.common.synthesis import KINDS, lut_equivalent


def comparison(fig: dict, ebops: int, adder_levels: int) -> dict:
    """The figures beside the estimates: ``LUT + 55·DSP`` against EBOPs, cycles against adder levels."""
    equivalent = lut_equivalent(fig)
    return {"ebops_estimate": int(ebops), "lut_plus_55_dsp": equivalent,
            "ratio_lut_equivalent_to_ebops": equivalent / ebops if ebops else None,
            "adder_levels_estimate": int(adder_levels)}


def sections(synthesis: dict | None, ebops: int, adder_levels: int) -> dict:
    """``{backend: {"figures": ..., "comparison": ...}}`` for the report, from the manifest's figures."""
    return {name: {"figures": fig, "comparison": comparison(fig, ebops, adder_levels)}
            for name, fig in (synthesis or {}).items() if fig}


def latency_line(fig: dict) -> str:
    """``6 clock cycles = 30 ns at 5 ns, II = 1``."""
    return (f"{fig['latency_cycles']} clock cycles = {fig['latency_ns']:g} ns at "
            f"{fig['clock_period_ns']:g} ns, II = {fig.get('ii', 1)}")


def _share(fig: dict, kind: str, digits: int = 3) -> str:
    share = (fig.get("utilisation") or {}).get(kind)
    return f"{100 * share:.{digits}f} %" if share is not None else "–"


def _title(name: str, fig: dict) -> str:
    return f"{name.upper()} synthesis ({fig['tool']}, {fig['board']}, part {fig['part']})"


def summary_rows(sections_: dict) -> list[tuple[str, str]]:
    """(quantity, value) rows of the terminal summary: LUTs, FFs, share of the board, latency."""
    rows = []
    for name, sec in sections_.items():
        fig, ratio = sec["figures"], sec["comparison"]["ratio_lut_equivalent_to_ebops"]
        res = fig["resources"]
        lut = f"{res.get('LUT', 0):,} = {_share(fig, 'LUT')} of {fig['board']}"
        rows += [(f"{name.upper()} LUTs ({fig['tool']})",
                  lut + (f" (LUT + 55·DSP / EBOPs = {ratio:.2f})" if ratio is not None else "")),
                 (f"{name.upper()} FFs ({fig['tool']})", f"{res.get('FF', 0):,} = {_share(fig, 'FF')} of "
                  f"{fig['board']}; CARRY {res.get('CARRY', 0):,}, DSP {res.get('DSP', 0):,}"),
                 (f"{name.upper()} latency", latency_line(fig))]
    return rows


def markdown_lines(sections_: dict, latency_estimate: str) -> list[str]:
    """The report's synthesis sections, or how to get them."""
    if not sections_:
        return ["## Synthesis", "", "No synthesis report in this design yet: run `make synth BOARD=<board>` in a "
                "project folder (DIR/rtl with Yosys, DIR/hls with Vitis HLS), then `hgq-fpga report DIR` again.", ""]
    lines = []
    for name, sec in sections_.items():
        fig, c = sec["figures"], sec["comparison"]
        ratio = c["ratio_lut_equivalent_to_ebops"]
        slack = f", worst negative slack {fig['wns_ns']:g} ns" if fig.get("wns_ns") is not None else ""
        lines += [f"## {_title(name, fig)}", "",
                  f"Whole model (synthesis optimizes across layers, so LUTs are not attributed to layers). "
                  f"Latency **{latency_line(fig)}**{slack}.", "",
                  "| quantity | synthesis | estimate before synthesis |", "| --- | ---: | ---: |",
                  f"| LUT + 55·DSP | {c['lut_plus_55_dsp']:,} | {c['ebops_estimate']:,} EBOPs"
                  + (f" (ratio {ratio:.2f}) |" if ratio is not None else " |"),
                  f"| latency | {fig['latency_cycles']} cycles = {fig['latency_ns']:g} ns | {latency_estimate} |", "",
                  "| resource | used | available | share |", "| --- | ---: | ---: | ---: |"]
        for kind in KINDS:
            if kind in fig["resources"]:
                avail = fig["available"].get(kind)
                lines.append(f"| {kind} | {fig['resources'][kind]:,} | {f'{avail:,}' if avail else '–'} | "
                             f"{_share(fig, kind)} |")
        lines.append("")
    return lines

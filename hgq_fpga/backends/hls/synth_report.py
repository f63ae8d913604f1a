"""Read a Vitis/Vivado HLS C-synthesis report (``<top>_csynth.xml``) into plain numbers.

The XML report is the stable, machine-readable output of ``csynth_design`` in both Vivado HLS and
Vitis HLS. From it we take what a trigger physicist asks first: latency in cycles and ns,
initiation interval, clock, and LUT/FF/DSP/BRAM with utilisation of the board.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESOURCE_KINDS = ("LUT", "FF", "DSP", "BRAM_18K", "URAM")


class ReportError(ValueError):
    """The report file is missing, not XML, or lacks a field we need (the field is named)."""


@dataclass
class SynthesisReport:
    """The headline numbers of one C-synthesis run."""

    top: str
    part: str
    tool_version: str
    target_clock_ns: float
    estimated_clock_ns: float
    latency_cycles_best: int
    latency_cycles_worst: int
    interval_min: int
    interval_max: int
    resources: dict[str, int]
    available: dict[str, int] = field(default_factory=dict)

    @property
    def latency_ns_worst(self) -> float:
        """Worst-case latency in ns at the target clock."""
        return self.latency_cycles_worst * self.target_clock_ns

    def utilisation(self) -> dict[str, float]:
        """Used / available per resource kind, where the report gives the available count."""
        return {k: self.resources[k] / self.available[k]
                for k in self.resources if self.available.get(k)}

    def to_dict(self) -> dict:
        data = asdict(self)
        data["latency_ns_worst"] = self.latency_ns_worst
        data["utilisation"] = self.utilisation()
        return data

    def to_markdown(self) -> str:
        """A small table a person reads at a glance."""
        util = self.utilisation()
        lines = [
            f"## C synthesis: `{self.top}` on {self.part} ({self.tool_version})",
            "",
            "| latency (cycles) | latency (ns) | II | clock target / estimate (ns) |",
            "| --- | --- | --- | --- |",
            f"| {self.latency_cycles_best}–{self.latency_cycles_worst} | {self.latency_ns_worst:g} "
            f"| {self.interval_min}–{self.interval_max} | {self.target_clock_ns:g} / {self.estimated_clock_ns:g} |",
            "",
            "| resource | used | available | utilisation |",
            "| --- | ---: | ---: | ---: |",
        ]
        for kind, used in self.resources.items():
            avail = self.available.get(kind)
            share = f"{100 * util[kind]:.2f} %" if kind in util else "–"
            lines.append(f"| {kind} | {used:,} | {avail:,} | {share} |" if avail else
                         f"| {kind} | {used:,} | – | {share} |")
        return "\n".join(lines) + "\n"


def _text(root: ET.Element, path: str, source: Path) -> str:
    node = root.find(path)
    if node is None or node.text is None:
        raise ReportError(f"{source}: no <{path}> in the synthesis report")
    return node.text.strip()


def _int_or_undef(text: str) -> int:
    # Vitis writes "undef" for data-dependent latency; treat as -1 so tables show it is unknown.
    return int(text) if text.lstrip("-").isdigit() else -1


def parse_csynth_xml(path: str | Path) -> SynthesisReport:
    """Parse one ``*_csynth.xml`` file."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"synthesis report {path} does not exist; run `make synth` first")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ReportError(f"{path} is not valid XML: {err}") from None
    lat = "PerformanceEstimates/SummaryOfOverallLatency/"
    used = root.find("AreaEstimates/Resources")
    if used is None:
        raise ReportError(f"{path}: no <AreaEstimates/Resources> in the synthesis report")
    avail = root.find("AreaEstimates/AvailableResources")
    return SynthesisReport(
        top=_text(root, "UserAssignments/TopModelName", path),
        part=_text(root, "UserAssignments/Part", path),
        tool_version=_text(root, "ReportVersion/Version", path),
        target_clock_ns=float(_text(root, "UserAssignments/TargetClockPeriod", path)),
        estimated_clock_ns=float(_text(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod", path)),
        latency_cycles_best=_int_or_undef(_text(root, lat + "Best-caseLatency", path)),
        latency_cycles_worst=_int_or_undef(_text(root, lat + "Worst-caseLatency", path)),
        interval_min=_int_or_undef(_text(root, lat + "Interval-min", path)),
        interval_max=_int_or_undef(_text(root, lat + "Interval-max", path)),
        resources={k: int(used.findtext(k)) for k in RESOURCE_KINDS if used.findtext(k) is not None},
        available={} if avail is None else
        {k: int(avail.findtext(k)) for k in RESOURCE_KINDS if avail.findtext(k) is not None},
    )


def write_report(report: SynthesisReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "report.json", out_dir / "report.md"
    json_path.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    md_path.write_text(report.to_markdown())
    return json_path, md_path

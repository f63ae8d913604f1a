"""BENCHMARKS.md section of the speed benchmarks (training, emulator, C simulation): their targets and
every quantity each one measured."""

from __future__ import annotations

from bench.common.fmt import fmt_num, table, verdict
from bench.common.store import flatten
from bench.studies import Page

ORDER = 20


def _required(t: dict) -> str:
    return "—" if t["target"] is None else f"{t['comparison']} {fmt_num(t['target'])}"


def headline(record: dict) -> list[tuple]:
    """The Headline rows: one per target, as the run judged it."""
    return [(f"{t['benchmark']}: {t['what']}", fmt_num(t["measured"]), _required(t), t["meets"])
            for t in record["targets"]]


def render(record: dict, page: Page) -> str:
    parts = ["## Speed", "Each benchmark is a `run(quick)` function (`bench/studies/speed/run.py` names "
             "them); all timings are from this run on the machine above, and each comparison is a ratio of "
             "two timings taken in the same process."]
    rows = [(t["benchmark"], t["what"], fmt_num(t["measured"]), _required(t), verdict(t["meets"]))
            for t in record["targets"]]
    parts.append(table(("benchmark", "target", "measured", "required", ""), rows))
    for name, entry in record["benchmarks"].items():
        if entry["status"] != "ok":
            parts.append(f"### {name}\n\n**{entry['status']}**: {entry.get('reason', '')}")
            continue
        flat = flatten(entry["result"])
        parts.append(f"### {name}\n\nran in {entry['seconds']:.1f} s\n\n" + table(
            ("quantity", "value"), ((k, fmt_num(v)) for k, v in flat.items())))
    return "\n\n".join(parts)


def problems(record: dict) -> list[str]:
    """A benchmark entry whose status is not one the suite writes."""
    return [f"{name}: bad status {entry.get('status')!r}" for name, entry in record.get("benchmarks", {}).items()
            if entry.get("status") not in ("ok", "not available", "error")]

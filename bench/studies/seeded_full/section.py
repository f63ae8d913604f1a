"""BENCHMARKS.md section of the full seeded resource study (``python -m bench run seeded_full``).

The full study (every width and style, HGQ2, both architectures, all training images) is longer
than one sitting of 2 cores, so it is resumed over several: its finished runs are committed in
``bench/studies/seeded_full/runs/`` and each sitting adds more. Its record may therefore be part way. Only
configurations that every seed has finished are summarised; the section says how many trainings
are done, which configurations are still to come, and marks the headline as provisional until the
study is complete.
"""

from __future__ import annotations

from bench.studies import Page
from bench.studies.resource.section import weight_start
from bench.studies.seeded import section as seeded
from bench.studies.seeded.section import figures  # noqa: F401 - the same figure, of this record

ORDER = 45


def complete(record: dict) -> bool:
    """True when every planned training has finished and none failed."""
    return not record.get("missing") and not record.get("failed")


def render(record: dict, page: Page) -> str:
    cfg = record["config"]
    done, planned = record["trainings"], record["trainings_planned"]
    hours = record["training_seconds"]["sum"] / 3600
    state = "complete" if complete(record) else f"in progress: {done} of {planned} trainings finished"
    lines = [f"## Resource study over seeds, full recipe ({state})", "",
             f"Preset `full` (reduced: {record['reduced']}), {len(cfg['seeds'])} seeds "
             f"({', '.join(map(str, cfg['seeds']))}); uniform styles {', '.join(cfg['uniform_styles'])}, widths "
             f"{', '.join(map(str, cfg['uniform_bits']))} bits; HGQ2 starts {', '.join(cfg['hgq2_inits']) or 'none'}. "
             f"HGQ (and HGQ2's fair start) start from {weight_start(cfg)} and {cfg['hgq_f_init']:g} fractional bits "
             f"per activation; β ramps "
             + ", ".join(f"from {p['beta_start']:g} to {p['beta_stop']:g} ({name})" for name, p in cfg["plans"].items())
             + ". "
             f"The finished trainings took {hours:.1f} h of one-core worker time (each training's own wall "
             f"time, summed over {record['training_seconds']['timed']} timed trainings), i.e. about "
             f"{hours / record['cores']:.1f} h of wall time on {record['cores']} cores; the study is resumed "
             "over several sittings, its finished runs committed in `bench/studies/seeded_full/runs/`.", ""]
    if record.get("superseded"):
        lines += [f"**Trained on an earlier recipe** (summarised as they are; the next `make bench-seeds` trains "
                  f"them again): {', '.join(record['superseded'])}.", ""]
    if not complete(record):
        todo = record.get("incomplete_configurations", {})
        started = ", ".join(f"{k} (seeds {', '.join(map(str, v))})" for k, v in todo.items() if v) or "none"
        waiting = ", ".join(k for k, v in todo.items() if not v) or "none"
        lines += [f"Only configurations that every seed has finished are shown. Started but not finished "
                  f"for every seed: {started}. Not started: {waiting}.", ""]
        if record.get("failed"):
            lines += [f"Failed: {', '.join(record['failed'])}.", ""]
    lines += seeded.body(record, page, provisional=not complete(record))
    return "\n".join(lines)


def problems(record: dict) -> list[str]:
    out = []
    if len(record["config"]["seeds"]) < 3:
        out.append("seeded_full: fewer than 3 seeds")
    if record.get("preset") != "full":
        out.append(f"seeded_full: preset {record.get('preset')!r}, expected 'full'")
    if record["trainings"] == 0:
        out.append("seeded_full: no training finished")
    return out

"""The one renderer of BENCHMARKS.md: every number in it is read from bench/results.json.

The page: an introduction (from the suite's run), the Headline (rows of the suite's studies), the
Status table, the Machine of the suite's run, then every recorded study's section in its ``ORDER``
(:mod:`bench.studies`). Figures are drawn from the same records into each study's folder.
``python -m bench render`` re-renders the page and the figures; a study run calls :func:`publish`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from bench import studies
from bench.common import store
from bench.common.fmt import table, verdict
from bench.common.plots import save
from bench.common.store import Destination

MODE_NOTES = {
    "quick": ("Quick mode: the MLP only, a subset of the training images, fewer epochs, fewer uniform widths "
              "and one model in the exactness check. `make bench` runs the full study (MLP and CNN)."),
    "smoke": ("Smoke mode: tiny synthetic images, tiny models, one epoch. These numbers only show that "
              "the bench runs; they say nothing about HGQ."),
}


def _intro(results: dict) -> str:
    text = "# Benchmarks\n\n"
    suite = results.get("suite")
    if suite:
        text += (f"Written by `{suite['command']}` ({suite['mode']} mode) on {suite['machine']['date']}; the run "
                 f"took {suite['wall_s'] / 60:.1f} minutes of wall time. ")
    text += ("Every number here is read from `bench/results.json` by `bench/render.py`; re-render with "
             "`python -m bench render`.")
    if suite and suite["mode"] in MODE_NOTES:
        text += "\n\n> " + MODE_NOTES[suite["mode"]]
    return text


def _headline(results: dict) -> str | None:
    recorded = results.get("studies", {})
    rows = [(what, result, target, verdict(ok)) for name in studies.SUITE if name in recorded
            for what, result, target, ok in studies.section(name).headline(recorded[name])]
    return "## Headline\n\n" + table(("measure", "result", "target", ""), rows) if rows else None


def _status(results: dict) -> str | None:
    rows = [(row["part"], row["state"]) for row in results.get("status", [])]
    return "## Status\n\n" + table(("part", "state"), rows) if rows else None


def _machine(results: dict) -> str | None:
    if "suite" not in results:
        return None
    m = results["suite"]["machine"]
    rows = [("CPU", m.get("cpu")), ("cores (logical / usable by the run)",
                                     f"{m.get('logical_cores')} / {m.get('usable_cores')}"),
            ("RAM", f"{m.get('ram_gib')} GiB"), ("OS", m.get("os")), ("Python", m.get("python")),
            *((name, ver or "not installed") for name, ver in m.get("versions", {}).items()),
            ("C++ compiler", m.get("compiler") or "not found"), ("date", m.get("date")),
            ("load average at start (1/5/15 min)", ", ".join(map(str, m.get("load_average_at_start") or [])))]
    return "## Machine\n\n" + table(("", ""), rows)


def pages(results: dict, dest: Destination) -> list[tuple[str, studies.Page]]:
    """``(name, page)`` of every recorded study, in ``ORDER``."""
    recorded = results.get("studies", {})
    unknown = sorted(set(recorded) - set(studies.names()))
    if unknown:
        raise KeyError(f"results.json has studies without a package in bench/studies: {', '.join(unknown)}")
    md_dir = Path(dest.markdown).resolve().parent
    return [(name, studies.Page(results, Path(dest.figures).resolve() / name, md_dir))
            for name in studies.names() if name in recorded]


def render(results: dict, dest: Destination) -> str:
    """The whole BENCHMARKS.md text for ``results`` (figures linked relative to ``dest.markdown``)."""
    parts = [_intro(results), _headline(results), _status(results), _machine(results)]
    parts += [studies.section(name).render(results["studies"][name], page) for name, page in pages(results, dest)]
    return "\n\n".join(p for p in parts if p) + "\n"


def draw(results: dict, dest: Destination) -> list[Path]:
    """Every study's figures, drawn from its record into its folder."""
    out = []
    for name, page in pages(results, dest):
        figures = getattr(studies.section(name), "figures", lambda record, page: {})
        for file, fig in figures(results["studies"][name], page).items():
            out.append(save(fig, page.folder / file))
    return out


def write(dest: Destination) -> Path:
    """Draw the figures and write BENCHMARKS.md from ``dest.results``."""
    results = store.load(dest.results)
    draw(results, dest)
    markdown = Path(dest.markdown)
    markdown.write_text(render(results, dest))
    return markdown


def put(records: dict[str, dict], suite: dict | None = None) -> Callable[[dict], None]:
    """The change that stores study ``records`` (name -> record) and the suite's run facts."""
    def change(results: dict) -> None:
        results.setdefault("studies", {}).update(records)
        if suite is not None:
            results["suite"] = suite

    return change


def publish(dest: Destination, change: Callable[[dict], None]) -> dict:
    """Apply ``change`` (e.g. :func:`put`) to the store ``dest.results`` and re-render the page;
    refused, with the file unchanged, where a record then has problems."""
    saved = store.update(dest.results, change, studies.problems)
    write(dest)
    return saved

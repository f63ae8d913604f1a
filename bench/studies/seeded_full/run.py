"""``python -m bench run seeded_full``: the full resource study over seeds (:mod:`bench.studies.seeded.run`,
preset ``full``), longer than one sitting: its finished runs are committed in ``runs/`` beside this
file (their ``result.json`` and ``DONE``; .gitignore keeps out the checkpoints), so a rerun trains
only what is missing, most-needed configurations first, and stores how far the study got. Each run
records its recipe; a finished run of another recipe than the preset's (the bench recipe changed:
:data:`bench.common.presets.RECIPES`) is moved to ``superseded/`` and trained again."""

from __future__ import annotations

from pathlib import Path

import click

from bench.studies.seeded.run import study, sweep_options

FOLDER = Path(__file__).resolve().parent


@click.command()
@sweep_options
def main(scheduler: str | None, workers: int | None, summarise_only: bool, out) -> None:
    """The full resource study over 3 seeds (both architectures, every width and style, HGQ2), resumable."""
    study("seeded_full", "full", FOLDER, scheduler, workers, summarise_only, out)

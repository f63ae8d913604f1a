"""BENCHMARKS.md section of the particle study's full preset (3 seeds, 40 epochs, toy jets and
point-cloud Fashion-MNIST), run one architecture at a time over several sittings
(``python -m bench run particles --preset full --archs NAME``; each sitting's architectures are merged
into this record). The section is the quick preset's (:func:`bench.studies.particles.section.body`),
headed by how far the study has got.
"""

from __future__ import annotations

from bench.studies import Page
from bench.studies.particles import section as particles
from bench.studies.particles.run import ARCHS, run_arch

ORDER = 48   # right after the quick preset's section (47)


def still_to_run(record: dict) -> list[str]:
    """The architectures of the study with no result in ``record`` yet, or with training runs still
    to do (a sitting stopped part-way and summarised, ``--summarise-only``)."""
    done = {arch for arches in record["results"].values() for arch in arches}
    unfinished = {run_arch(name) for name in record.get("not_run", [])}
    return [arch for arch in ARCHS if arch not in done or arch in unfinished]


def render(record: dict, page: Page) -> str:
    todo = still_to_run(record)
    if not todo:
        return particles.body(record, page, "Particle taggers, full study (complete)")
    state = (f"in progress: {len(ARCHS) - len(todo)} of {len(ARCHS)} architectures done, still to run: "
             + ", ".join(todo))
    intro = (f"Each sitting runs one architecture: `python -m bench run particles --preset full --archs {todo[0]}` "
             "(its finished runs are kept and a rerun resumes them). Until all four are done the quick preset's "
             "section above is the only comparison of every architecture.")
    return particles.body(record, page, f"Particle taggers, full study ({state})", intro)


def problems(record: dict) -> list[str]:
    return [p.replace("particles:", "particles_full:", 1) for p in particles.problems(record)]


def figures(record: dict, page: Page) -> dict:
    return particles.figures(record, page)

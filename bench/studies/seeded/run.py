"""The resource study over several seeds, on the sweep engine (:mod:`hgq_fpga.app.sweep`).

Every training of the resource study (:mod:`bench.common.training`: one HGQ ramp, one model per
uniform width and style) is repeated for each seed, each as one Dask task that publishes its own
folder ``runs/NAME/`` (atomically, resumable: a rerun skips finished trainings). The summary then
reads all folders:

* **uniform configurations** (style and width): mean and standard deviation over seeds of the
  test accuracy, validation accuracy and exact EBOPs;
* **HGQ front**: per seed, the front of the calibrated checkpoints on (validation accuracy,
  EBOPs); its spread is shown at the EBOPs of each uniform configuration: per seed, the HGQ model
  with the best validation accuracy within that budget, its test accuracy as mean and standard
  deviation over seeds;
* **matched-accuracy ratio**, per uniform configuration and per seed: the uniform model's EBOPs
  over those of the smallest HGQ model of the same seed whose *validation* accuracy reaches the
  uniform model's validation accuracy; reported as mean +- standard error over the seeds that
  match (and how many did). The headline configuration is the one with the best mean validation
  accuracy. Selection uses validation data only; test accuracies are reported, never used;
* **HGQ2** (PyPI ``hgq2==0.2.0`` in its own venv, :mod:`bench.contenders.hgq2_front`), trained on the
  same recipe from each of its starts (``hgq2_inits``: its default and a fair one) and recounted with
  our EBOPs: per seed its front, and the ratio HGQ2 EBOPs / ours at the accuracy of HGQ2's most
  accurate front model (validation, same seed), mean +- standard error over seeds; also the same
  ratio at the accuracy of our most accurate front model (``ratio_at_ours_best``). The start whose
  best model is more accurate (HGQ2's better showing) is the headline.

    python -m bench run seeded [--preset reduced|quick|smoke] [--folder DIR] [--scheduler ADDR] [--workers N]
    python -m bench run seeded_full [--scheduler ADDR] [--workers N] [--summarise-only]

The statistics are in :mod:`bench.studies.seeded.summary`; each command stores its record (the full
preset's as ``seeded_full``, the others' as ``seeded``).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import click

from bench.cli import Output, needs_dataset, out_option
from bench.common import data
from bench.common.training import UNIFORM_STYLES, Plan, StudyConfig
from hgq_fpga.app.sweep.progress import emit
from hgq_fpga.app.sweep.run import is_done, produce, read_result, run_folder

from .summary import HGQ2_PREFIX, summarise_arch

#: the targets of the front-wide comparison with HGQ2 at its default start (issue 34), per architecture:
#: HGQ2's EBOPs over ours at matched validation accuracy (geometric mean over its front points and
#: seeds), the share of its points where ours is cheaper, and our best validation accuracy at least
#: HGQ2's on every seed
HGQ2_TARGETS = {"mlp": {"start": "default", "geomean_ratio": 1.2, "share_cheaper": 0.8, "best_every_seed": True}}
#: where the runs of the presets other than ``full`` go (``<folder>/<preset>/runs/``); the full
#: study's are committed in ``bench/studies/seeded_full/runs/``
DEFAULT_FOLDER = Path("build/bench_seeds")
#: what each preset leaves out of the full study, for the record
REDUCTIONS = {
    "full": "nothing: MLP and CNN, all training images, the full epochs, every uniform width and style",
    "quick": "the MLP only, 10,000 training images, 20 epochs, saturating uniform at 4 and 8 bits",
    "reduced": "the MLP only, 2,000 training images (1,000 validation, 2,000 test), 5 epochs, "
               "the saturating uniform baseline at 4 bits only, 1,000 calibration images",
    "smoke": "tiny synthetic images and a tiny MLP, 2 epochs: a smoke run that measures nothing",
}


@dataclass(frozen=True)
class SeededConfig:
    """The study's trainings (``study``) repeated for each of ``seeds``, for each uniform style."""

    study: StudyConfig
    seeds: tuple[int, ...] = (0, 1, 2)
    uniform_styles: tuple[str, ...] = ("saturating", "free")
    #: HGQ2's starts to train (:data:`bench.contenders.hgq2_front.INITS`); empty: no HGQ2 contender
    hgq2_inits: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from bench.contenders.hgq2_front import INITS

        for init in self.hgq2_inits:
            if init not in INITS:
                raise ValueError(f"unknown HGQ2 start {init!r}; expected one of {INITS}")
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {self.seeds}")
        for style in self.uniform_styles:
            if style not in UNIFORM_STYLES:
                raise ValueError(f"unknown uniform style {style!r}; expected one of {tuple(UNIFORM_STYLES)}")


def config_label(bits: int | None, style: str | None, hgq2_init: str | None = None) -> str:
    """``"hgq"``, ``"hgq2-<init>"`` or the uniform model's label, e.g. ``"uniform-sat-4b"``."""
    if hgq2_init is not None:
        return HGQ2_PREFIX + hgq2_init
    return "hgq" if bits is None else f"{UNIFORM_STYLES[style][0]}-{bits}b"


def recipe_of(plan: Plan, study: StudyConfig, bits: int | None, hgq2_init: str | None = None) -> dict:
    """What one training depends on besides its seed, stored in its record: a finished run is reused
    only under the same recipe (:func:`superseded`). A uniform model depends on neither HGQ's start
    nor the beta ramp."""
    cfg = replace(study, plans=(plan,)).describe()
    plan_cfg = cfg.pop("plans")[plan.arch.name]
    for key in ("seed", "uniform_bits"):
        cfg.pop(key)
    if bits is not None:
        cfg = {k: v for k, v in cfg.items() if not k.startswith("hgq_")}
        plan_cfg = {k: v for k, v in plan_cfg.items() if not k.startswith(("beta_", "warmup"))}
    return {**cfg, **plan_cfg, **({"hgq2_init": hgq2_init} if hgq2_init else {})}


def superseded(out_dir: str | Path, tasks_: Sequence[tuple[str, Callable, tuple]]) -> list[str]:
    """The finished runs among ``tasks_`` trained on another recipe than theirs now. A record without
    a ``recipe`` was trained before recipes were recorded, on the bench recipe ``"bench-0.1"``: its
    start and its architecture's ramp end, the rest as now."""
    from bench.common.presets import RECIPES

    legacy = RECIPES["bench-0.1"]
    out = []
    for name, _, args in tasks_:
        folder = run_folder(out_dir, name)
        if not is_done(folder):
            continue
        _, _, plan, study, _, _, bits, _, hgq2_init = args[:9]
        stored = read_result(folder).get("recipe")
        if stored is None:
            stored = recipe_of(replace(plan, beta_stop=legacy.beta_stop.get(plan.arch.name, plan.beta_stop)),
                               replace(study, **legacy.start), bits, hgq2_init)
        if json_clean(stored) != json_clean(recipe_of(plan, study, bits, hgq2_init)):
            out.append(name)
    return out


def json_clean(value: dict) -> dict:
    """``value`` as it reads back from JSON (tuples as lists)."""
    import json

    return json.loads(json.dumps(value))


def train_one(out_dir: str, name: str, plan: Plan, study: StudyConfig, seed: int,
              load_data: Callable[[], data.Split], bits: int | None, style: str | None,
              hgq2_init: str | None = None, topic: str | None = None) -> dict:
    """One Dask task: train HGQ (``bits`` None), one uniform model or HGQ2 (``hgq2_init``) for
    ``seed``; publish it."""
    from bench.common.training import accuracy, train_hgq, train_uniform

    def work(staging: Path) -> dict:
        from hgq_fpga.nn.seeding import seeded

        t0 = time.perf_counter()
        split = load_data()
        cfg = replace(study, seed=seed)
        with seeded(seed):  # not the process-wide RNG, which the worker's event loop draws from
            if hgq2_init is not None:
                from bench.contenders.hgq2_front import train_hgq2
                models, facts = train_hgq2(plan, split, cfg, str(staging), hgq2_init)
            elif bits is None:
                models, facts = train_hgq(plan, split, cfg, str(staging))
            else:
                models, facts = [train_uniform(plan, split, cfg, bits, style)], {}
        points = [{**m.point(), "calibrated_val_accuracy": accuracy(m.model, split.x_val, split.y_val)}
                  for m in models]
        return {"name": name, "arch": plan.arch.name, "config": config_label(bits, style, hgq2_init), "seed": seed,
                "recipe": recipe_of(plan, study, bits, hgq2_init), "points": points, "facts": facts,
                "seconds": round(time.perf_counter() - t0, 1), "machine_cores": os.cpu_count()}

    emit(topic, {"run": name, "stage": "training"})
    record, _ = produce(run_folder(out_dir, name), work)
    return record


def configurations(cfg: SeededConfig) -> list[tuple[Plan, int | None, str | None, str | None]]:
    """The study's configurations ``(plan, bits, style, hgq2_init)``, the most needed first: per
    architecture, HGQ, then the first uniform style from the widest width down, then HGQ2's starts,
    then the other uniform styles."""
    out = []
    for plan in cfg.study.plans:
        widths = sorted(cfg.study.uniform_bits, reverse=True)
        uniform = [[(plan, b, style, None) for b in widths] for style in cfg.uniform_styles] or [[]]
        hgq2 = [(plan, None, None, init) for init in cfg.hgq2_inits]
        out += [(plan, None, None, None)] + uniform[0] + hgq2 + [c for group in uniform[1:] for c in group]
    return out


def tasks(cfg: SeededConfig, load_data: Callable[[], data.Split], out_dir: str) -> list[tuple[str, Callable, tuple]]:
    """Every training of the study as ``(name, function, args)`` for :func:`run_tasks`, in the order
    of :func:`configurations`, each configuration for every seed before the next (Dask starts them
    in this order). So a study stopped part way (the full one is longer than a sitting) holds whole
    configurations, beginning with the headline's."""
    out = []
    for plan, bits, style, init in configurations(cfg):
        for seed in cfg.seeds:
            name = f"{plan.arch.name}-{config_label(bits, style, init)}-seed{seed}"
            out.append((name, train_one, (out_dir, name, plan, cfg.study, seed, load_data, bits, style, init)))
    return out


def whole_configurations(records: list[dict], cfg: SeededConfig) -> tuple[list[dict], dict[str, list[int]]]:
    """The records of the configurations that every seed has finished, and for each other
    configuration of the study (``"arch/config"``, in the study's order) the seeds it has, maybe
    none: a mean over fewer seeds than the study names is not reported, so a study stopped part
    way shows whole configurations only."""
    done: dict[str, list[dict]] = {}
    for r in records:
        done.setdefault(f"{r['arch']}/{r['config']}", []).append(r)
    whole, partial = [], {}
    for plan, bits, style, init in configurations(cfg):
        key = f"{plan.arch.name}/{config_label(bits, style, init)}"
        group = done.get(key, [])
        seeds = sorted(r["seed"] for r in group)
        if set(cfg.seeds) <= set(seeds):
            whole += group
        else:
            partial[key] = seeds
    return whole, partial


def summarise(out_dir: Path, cfg: SeededConfig, names: Sequence[str]) -> dict:
    """The whole summary from the finished task folders ``names`` (whole configurations only)."""
    records = [read_result(run_folder(out_dir, n)) for n in names if is_done(run_folder(out_dir, n))]
    whole, partial = whole_configurations(records, cfg)
    archs = {}
    for plan in cfg.study.plans:
        res = summarise_arch([r for r in whole if r["arch"] == plan.arch.name], cfg.seeds)
        res["target_ratio"] = None   # the uniform ratio is reported, no longer a target (issue 34)
        res["hgq2_targets"] = HGQ2_TARGETS.get(plan.arch.name)
        archs[plan.arch.name] = res
    return {"config": {**cfg.study.describe(), "seeds": list(cfg.seeds),
                       "uniform_styles": list(cfg.uniform_styles), "hgq2_inits": list(cfg.hgq2_inits)},
            "trainings": len(records), "trainings_planned": len(names),
            "missing": sorted(set(names) - {r["name"] for r in records}),
            "incomplete_configurations": partial,
            # each training's own wall time, summed: the study's cost in one-core worker hours
            # (the full study is resumed over several sittings, so no single wall clock spans it)
            "training_seconds": {"sum": round(sum(r.get("seconds", 0.0) for r in records), 1),
                                 "timed": sum(1 for r in records if "seconds" in r)},
            "architectures": archs}


def set_aside(out_dir: Path, names: Sequence[str]) -> None:
    """Move the finished runs ``names`` (trained on another recipe) to ``out_dir/superseded/``, so
    that they are trained again; nothing is deleted."""
    for name in names:
        dest = Path(out_dir) / "superseded" / name
        n = 1
        while dest.exists():
            n += 1
            dest = dest.with_name(f"{name}.{n}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        run_folder(out_dir, name).rename(dest)
        click.echo(f"{name}: trained on another recipe, moved to {dest} to train it again")


def run(cfg: SeededConfig, load_data: Callable[[], data.Split], out_dir: str | Path, client=None,
        scheduler: str | None = None, workers: int | None = None, retries: int = 2, progress=None,
        train: bool = True) -> dict:
    """Run every unfinished training on Dask (none when ``train`` is False); return the summary of
    the finished ones, with the trainings that failed."""
    from hgq_fpga.app.sweep import connect, run_tasks
    from hgq_fpga.app.sweep.progress import SweepProgress

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo_all = tasks(cfg, load_data, str(out.resolve()))
    if train:
        set_aside(out, superseded(out, todo_all))
    todo = [t for t in todo_all if train and not is_done(run_folder(out, t[0]))]
    failed: dict[str, str] = {}
    if todo:
        display = (progress or SweepProgress()).plan([(t[0], 1) for t in todo], len(todo_all) - len(todo))
        with connect(scheduler, workers, retries) if client is None else contextlib.nullcontext(client) as c:
            _, failed = run_tasks(c, todo, display)
    return {**summarise(out, cfg, [t[0] for t in todo_all]), "failed": failed,
            "superseded": superseded(out, todo_all)}   # none after training; summarised only: may be some


def _reduced_data() -> data.Split:
    return data.fashion_mnist(n_train=2000, n_val=1000, n_test=2000)


def preset(mode: str, recipe_name: str | None = None) -> tuple[SeededConfig, Callable[[], data.Split]]:
    """``"full"``, ``"quick"`` (the MLP, 3 seeds, under 10 minutes on 2 cores by its sizes),
    ``"reduced"`` or ``"smoke"`` (tiny synthetic, for the test), on the bench recipe ``recipe_name``
    (:data:`bench.common.presets.RECIPES`; default the one in force)."""
    from bench.common import presets
    from bench.common.models import MLP
    from bench.contenders.hgq2_front import INITS

    stop = presets.recipe(recipe_name).beta_stop["mlp"]
    if mode == "full":
        base = presets.full(recipe_name)
        return SeededConfig(base.study, hgq2_inits=INITS), base.load_data
    if mode == "quick":
        base = presets.quick(recipe_name)
        plans = (Plan(MLP, epochs=20, beta_start=1e-8, beta_stop=stop),)
        study = replace(base.study, plans=plans, uniform_bits=(4, 8))
        return SeededConfig(study, uniform_styles=("saturating",), hgq2_inits=INITS), base.load_data
    if mode == "reduced":
        # what 2 cores shared by 6 jobs (load ~20) could finish in half an hour on 2026-12-02:
        # 3 seeds, the saturating uniform baseline at 4 bits, 5 epochs on 2,000 images
        base = presets.quick(recipe_name)
        plans = (Plan(MLP, epochs=5, beta_start=1e-8, beta_stop=stop),)
        study = replace(base.study, plans=plans, uniform_bits=(4,), n_calibration=1000)
        return SeededConfig(study, uniform_styles=("saturating",)), _reduced_data
    if mode == "smoke":
        base = presets.smoke()
        plans = tuple(replace(p, epochs=2) for p in base.study.plans[:1])
        return SeededConfig(replace(base.study, plans=plans), uniform_styles=("saturating",)), base.load_data
    raise ValueError(f"unknown mode {mode!r}; expected full, quick, reduced or smoke")


def record(summary: dict, preset_name: str, wall_seconds: float) -> dict:
    """The study's record: the summary, the preset and what it reduced, the wall time of this
    sitting, the machine's load average at the end."""
    return {**summary, "preset": preset_name, "reduced": REDUCTIONS[preset_name],
            "wall_seconds": round(wall_seconds, 1), "cores": os.cpu_count(),
            "load_average": list(os.getloadavg())}


def study(name: str, preset_name: str, folder: Path, scheduler: str | None, workers: int | None,
          summarise_only: bool, out: Output) -> None:
    """Train what ``folder`` lacks of preset ``preset_name`` and store the summary as study ``name``."""
    t0 = time.perf_counter()
    cfg, load = preset(preset_name)
    needs_dataset(load)     # fails now, with the install command, if Fashion-MNIST is missing
    summary = run(cfg, load, folder, scheduler=scheduler, workers=workers, train=not summarise_only)
    out.store(name, record(summary, preset_name, time.perf_counter() - t0))


def sweep_options(command: Callable) -> Callable:
    """The options of both seeded commands: the Dask cluster, summarising only, ``--out``."""
    for option in (out_option,
                   click.option("--summarise-only", is_flag=True,
                                help="train nothing: summarise the finished runs (a study stopped part way)"),
                   click.option("--workers", type=int, default=None, help="local worker processes (default: cores)"),
                   click.option("--scheduler", default=None,
                                help="existing Dask scheduler (default: a local cluster)")):
        command = option(command)
    return command


@click.command()
@click.option("--preset", "preset_name", type=click.Choice(["reduced", "quick", "smoke"]), default="reduced",
              show_default=True, help="reduced: the MLP, 3 seeds, 5 epochs on 2,000 images, saturating uniform "
                                      "at 4 bits; quick: the MLP on 10,000 images, 20 epochs, 4 and 8 bits, HGQ2")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"the runs' folder (default: {DEFAULT_FOLDER}/<preset>)")
@sweep_options
def main(preset_name: str, folder: Path | None, scheduler: str | None, workers: int | None, summarise_only: bool,
         out: Output) -> None:
    """The resource study over 3 seeds at a reduced size (the full one: ``run seeded_full``)."""
    study("seeded", preset_name, folder or DEFAULT_FOLDER / preset_name, scheduler, workers, summarise_only, out)

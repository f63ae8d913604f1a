"""The resource study over several seeds, on the sweep engine (:mod:`hgq_fpga.app.sweep`).

Every training of :mod:`bench.resource_study` (one HGQ ramp, one model per uniform width and
style) is repeated for each seed, each as one Dask task that publishes its own folder
``runs/NAME/`` (atomically, resumable: a rerun skips finished trainings). The summary then reads
all folders:

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
* **HGQ2** (PyPI ``hgq2==0.2.0`` in its own venv, :mod:`bench.hgq2_front`), trained on the same
  recipe from each of its starts (``hgq2_inits``: its default and a fair one) and recounted with
  our EBOPs: per seed its front, and the ratio HGQ2 EBOPs / ours at the accuracy of HGQ2's most
  accurate front model (validation, same seed), mean +- standard error over seeds; also the same
  ratio at the accuracy of our most accurate front model (``ratio_at_ours_best``). The start with
  the lower mean ratio (HGQ2's better showing) is the headline.

    python -m bench.seeded_study [--quick] [--out DIR] [--scheduler ADDR] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from hgq_fpga.argparsing import ArgumentParser, error_line
from hgq_fpga.app.sweep.progress import emit
from hgq_fpga.app.sweep.run import is_done, produce, read_result, run_folder

from . import data
from .pareto import matched_ratio, pareto_indices
from .resource_study import TARGET_RATIO, UNIFORM_STYLES, Plan, StudyConfig
from .studies.seeded import format_stat

RESULTS = "seeded_study.json"
#: the full study's folder: longer than one sitting, so its finished runs' ``result.json`` and
#: ``DONE`` are committed (``.gitignore`` keeps out the checkpoints) and a later sitting resumes
FULL_OUT = Path(__file__).resolve().parent / "seeded_full"
DEFAULT_OUT = Path("build/bench_seeds")
#: the raw record for BENCHMARKS.md (bench/studies/seeded.py renders it)
RAW = Path(__file__).resolve().parent / "seeded_results.json"
#: the full preset's raw record, which may be part way (bench/studies/seeded_full.py renders it)
RAW_FULL = Path(__file__).resolve().parent / "seeded_full_results.json"
#: what each preset leaves out of the full study, for the record
REDUCTIONS = {
    "full": "nothing: MLP and CNN, all training images, the full epochs, every uniform width and style",
    "quick": "the MLP only, 10,000 training images, 20 epochs, saturating uniform at 4 and 8 bits",
    "reduced": "the MLP only, 2,000 training images (1,000 validation, 2,000 test), 5 epochs, "
               "the saturating uniform baseline at 4 bits only, 1,000 calibration images",
}


@dataclass(frozen=True)
class SeededConfig:
    """The study's trainings (``study``) repeated for each of ``seeds``, for each uniform style."""

    study: StudyConfig
    seeds: tuple[int, ...] = (0, 1, 2)
    uniform_styles: tuple[str, ...] = ("saturating", "free")
    #: HGQ2's starts to train (:data:`bench.hgq2_front.INITS`); empty: no HGQ2 contender
    hgq2_inits: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from .hgq2_front import INITS

        for init in self.hgq2_inits:
            if init not in INITS:
                raise ValueError(f"unknown HGQ2 start {init!r}; expected one of {INITS}")
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct and non-empty, got {self.seeds}")
        for style in self.uniform_styles:
            if style not in UNIFORM_STYLES:
                raise ValueError(f"unknown uniform style {style!r}; expected one of {tuple(UNIFORM_STYLES)}")


HGQ2_PREFIX = "hgq2-"


def config_label(bits: int | None, style: str | None, hgq2_init: str | None = None) -> str:
    """``"hgq"``, ``"hgq2-<init>"`` or the uniform model's label, e.g. ``"uniform-sat-4b"``."""
    if hgq2_init is not None:
        return HGQ2_PREFIX + hgq2_init
    return "hgq" if bits is None else f"{UNIFORM_STYLES[style][0]}-{bits}b"


def train_one(out_dir: str, name: str, plan: Plan, study: StudyConfig, seed: int,
              load_data: Callable[[], data.Split], bits: int | None, style: str | None,
              hgq2_init: str | None = None, topic: str | None = None) -> dict:
    """One Dask task: train HGQ (``bits`` None), one uniform model or HGQ2 (``hgq2_init``) for
    ``seed``; publish it."""
    from .resource_study import accuracy, train_hgq, train_uniform

    def work(staging: Path) -> dict:
        from hgq_fpga.nn.seeding import seeded

        t0 = time.perf_counter()
        split = load_data()
        cfg = replace(study, seed=seed)
        with seeded(seed):  # not the process-wide RNG, which the worker's event loop draws from
            if hgq2_init is not None:
                from .hgq2_front import train_hgq2
                models, facts = train_hgq2(plan, split, cfg, str(staging), hgq2_init)
            elif bits is None:
                models, facts = train_hgq(plan, split, cfg, str(staging))
            else:
                models, facts = [train_uniform(plan, split, cfg, bits, style)], {}
        points = [{**m.point(), "calibrated_val_accuracy": accuracy(m.model, split.x_val, split.y_val)}
                  for m in models]
        return {"name": name, "arch": plan.arch.name, "config": config_label(bits, style, hgq2_init), "seed": seed,
                "points": points, "facts": facts,
                "seconds": round(time.perf_counter() - t0, 1), "machine_cores": os.cpu_count()}

    emit(topic, {"run": name, "stage": "training"})
    record, _ = produce(run_folder(out_dir, name), work)
    return record


def configurations(cfg: SeededConfig) -> list[tuple[Plan, int | None, str | None, str | None]]:
    """The study's configurations ``(plan, bits, style, hgq2_init)``, the most needed first: per
    architecture, HGQ, then the first uniform style from the widest width down, then HGQ2's starts
    (MLPs only: the HGQ2 contender builds MLPs), then the other uniform styles."""
    out = []
    for plan in cfg.study.plans:
        widths = sorted(cfg.study.uniform_bits, reverse=True)
        uniform = [[(plan, b, style, None) for b in widths] for style in cfg.uniform_styles] or [[]]
        hgq2 = [(plan, None, None, init) for init in cfg.hgq2_inits] if plan.arch.kind == "mlp" else []
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


def mean_std(values: Sequence[float]) -> dict:
    """``{"n", "mean", "std"}`` (sample standard deviation; None for one value, where no spread
    can be measured: a spread of 0 would read as agreement between seeds)."""
    n = len(values)
    if n == 0:
        return {"n": 0, "mean": None, "std": None}
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return {"n": n, "mean": m, "std": sd}


def mean_se(values: Sequence[float]) -> dict:
    """``{"n", "mean", "std", "se"}`` with the standard error of the mean ``std / sqrt(n)``."""
    out = mean_std(values)
    out["se"] = None if out["std"] is None else out["std"] / math.sqrt(out["n"])
    return out


def _val_points(points: list[dict]) -> list[dict]:
    """The points with the calibrated validation accuracy as ``accuracy`` (for :mod:`bench.pareto`)."""
    return [{**p, "test_accuracy": p["accuracy"], "accuracy": p["calibrated_val_accuracy"]} for p in points]


def _front(points: list[dict]) -> list[dict]:
    """The (validation accuracy, EBOPs) Pareto front of ``points``."""
    return [points[i] for i in pareto_indices([p["accuracy"] for p in points], [p["ebops"] for p in points])]


def summarise_hgq2(records: list[dict], fronts: dict[int, list[dict]]) -> dict:
    """Per HGQ2 start: its fronts per seed and the ratio HGQ2 EBOPs / ours at the validation
    accuracy of its most accurate front model, per seed and as mean +- SE (see the module docstring)."""
    out = {}
    for r in records:
        init = r["config"][len(HGQ2_PREFIX):]
        entry = out.setdefault(init, {"fronts": {}, "per_seed": {}})
        front = _front(_val_points(r["points"]))
        entry["fronts"][str(r["seed"])] = front
        if r["seed"] in fronts and front:
            ours = fronts[r["seed"]]
            best = max(front, key=lambda p: (p["accuracy"], -p["ebops"]))
            m = matched_ratio(best, ours)
            m["hgq2_label"], m["hgq2_test_accuracy"] = best["label"], best["test_accuracy"]
            if m["match"] is not None:
                m["match_test_accuracy"] = ours[m["match"]]["test_accuracy"]
            # the other way round: at our most accurate model's accuracy, HGQ2's smallest model
            back = matched_ratio(max(ours, key=lambda p: (p["accuracy"], -p["ebops"])), front)
            m["at_ours_best"] = {**back, "ratio": 1 / back["ratio"] if back["ratio"] else None}
            entry["per_seed"][str(r["seed"])] = m
    for entry in out.values():
        ratios = [m["ratio"] for m in entry["per_seed"].values() if m["ratio"] is not None]
        entry["ratio"] = mean_se(ratios)
        entry["seeds_matched"], entry["seeds"] = len(ratios), len(entry["per_seed"])
        back = [m["at_ours_best"]["ratio"] for m in entry["per_seed"].values() if m["at_ours_best"]["ratio"]]
        entry["ratio_at_ours_best"], entry["seeds_matched_at_ours_best"] = mean_se(back), len(back)
        entry["best_val_accuracy"] = mean_std([m["target_accuracy"] for m in entry["per_seed"].values()])
        entry["best_test_accuracy"] = mean_std([m["hgq2_test_accuracy"] for m in entry["per_seed"].values()])
    return out


def summarise_arch(records: list[dict], seeds: Sequence[int]) -> dict:
    """The seeded summary of one architecture from its task records (see the module docstring)."""
    hgq = {r["seed"]: _val_points(r["points"]) for r in records if r["config"] == "hgq"}
    fronts = {s: _front(pts) for s, pts in hgq.items()}
    uniform: dict[str, dict[int, dict]] = {}
    for r in records:
        if r["config"] != "hgq" and not r["config"].startswith(HGQ2_PREFIX):
            uniform.setdefault(r["config"], {})[r["seed"]] = _val_points(r["points"])[0]
    configs = {}
    for label, by_seed in sorted(uniform.items()):
        pts = list(by_seed.values())
        ratios, per_seed = [], {}
        budget = mean_std([p["ebops"] for p in pts])["mean"]
        within = []
        for s, ref in sorted(by_seed.items()):
            if s not in fronts:
                continue
            m = matched_ratio(ref, fronts[s])
            if m["match"] is not None:
                m["match_test_accuracy"] = fronts[s][m["match"]]["test_accuracy"]
            per_seed[str(s)] = m
            if m["ratio"] is not None:
                ratios.append(m["ratio"])
            under = [p for p in fronts[s] if p["ebops"] <= budget]
            if under:
                within.append(max(under, key=lambda p: (p["accuracy"], -p["ebops"]))["test_accuracy"])
        configs[label] = {
            "test_accuracy": mean_std([p["test_accuracy"] for p in pts]),
            "val_accuracy": mean_std([p["accuracy"] for p in pts]),
            "ebops": mean_std([p["ebops"] for p in pts]),
            "ratio": mean_se(ratios), "seeds_matched": len(ratios), "seeds": len(per_seed),
            "per_seed": per_seed,
            "hgq_test_accuracy_within_its_ebops": mean_std(within)}
    headline = max(configs, key=lambda c: configs[c]["val_accuracy"]["mean"], default=None)
    hgq2 = summarise_hgq2([r for r in records if r["config"].startswith(HGQ2_PREFIX)], fronts)
    better = min((i for i in hgq2 if hgq2[i]["ratio"]["mean"] is not None),
                 key=lambda i: hgq2[i]["ratio"]["mean"], default=None)
    return {"seeds": list(seeds), "hgq_fronts": {str(s): f for s, f in sorted(fronts.items())},
            "hgq_front_size": mean_std([len(f) for f in fronts.values()]), "uniform": configs,
            "headline_config": headline, "headline_ratio": configs[headline]["ratio"] if headline else None,
            "hgq2": hgq2, "hgq2_headline_init": better,
            "hgq2_headline_ratio": hgq2[better]["ratio"] if better else None}


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
        res["target_ratio"] = TARGET_RATIO.get(plan.arch.name)
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


def run(cfg: SeededConfig, load_data: Callable[[], data.Split], out_dir: str | Path, client=None,
        scheduler: str | None = None, workers: int | None = None, retries: int = 2, progress=None,
        train: bool = True) -> dict:
    """Run every unfinished training on Dask (none when ``train`` is False), then write and return
    ``out_dir/seeded_study.json``."""
    from hgq_fpga.app.sweep import connect, run_tasks
    from hgq_fpga.app.sweep.progress import SweepProgress

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    todo_all = tasks(cfg, load_data, str(out.resolve()))
    todo = [t for t in todo_all if train and not is_done(run_folder(out, t[0]))]
    failed: dict[str, str] = {}
    if todo:
        display = (progress or SweepProgress()).plan([(t[0], 1) for t in todo], len(todo_all) - len(todo))
        with connect(scheduler, workers, retries) if client is None else contextlib.nullcontext(client) as c:
            _, failed = run_tasks(c, todo, display)
    summary = summarise(out, cfg, [t[0] for t in todo_all])
    summary["failed"] = failed
    tmp = out / f".{RESULTS}.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / RESULTS)
    return summary


def _reduced_data() -> data.Split:
    return data.fashion_mnist(n_train=2000, n_val=1000, n_test=2000)


def preset(mode: str) -> tuple[SeededConfig, Callable[[], data.Split]]:
    """``"full"``, ``"quick"`` (the MLP, 3 seeds, under 10 minutes on 2 cores by its sizes) or
    ``"smoke"`` (tiny synthetic, for the test)."""
    from . import config
    from .hgq2_front import INITS
    from .models import MLP

    if mode == "full":
        base = config.full()
        return SeededConfig(base.study, hgq2_inits=INITS), base.load_data
    if mode == "quick":
        base = config.quick()
        plans = (Plan(MLP, epochs=20, beta_start=1e-8, beta_stop=1e-5),)
        study = replace(base.study, plans=plans, uniform_bits=(4, 8))
        return SeededConfig(study, uniform_styles=("saturating",), hgq2_inits=INITS), base.load_data
    if mode == "reduced":
        # what 2 cores shared by 6 jobs (load ~20) could finish in half an hour on 2026-12-02:
        # 3 seeds, the saturating uniform baseline at 4 bits, 5 epochs on 2,000 images
        base = config.quick()
        plans = (Plan(MLP, epochs=5, beta_start=1e-8, beta_stop=1e-5),)
        study = replace(base.study, plans=plans, uniform_bits=(4,), n_calibration=1000)
        return SeededConfig(study, uniform_styles=("saturating",)), _reduced_data
    if mode == "smoke":
        base = config.smoke()
        plans = tuple(replace(p, epochs=2) for p in base.study.plans[:1])
        return SeededConfig(replace(base.study, plans=plans), seeds=(0, 1), uniform_styles=("saturating",)), \
            base.load_data
    raise ValueError(f"unknown mode {mode!r}; expected full, quick, reduced or smoke")


def write_record(summary: dict, preset_name: str, wall_seconds: float, path: Path | None = None) -> dict:
    """The raw record, written atomically to ``path`` (default: :data:`RAW_FULL` for the full preset,
    :data:`RAW` otherwise): the summary, the preset and what it reduced, the wall time of this
    sitting, the machine's load average at the end."""
    record = {**summary, "preset": preset_name, "reduced": REDUCTIONS[preset_name],
              "wall_seconds": round(wall_seconds, 1), "cores": os.cpu_count(),
              "load_average": list(os.getloadavg())}
    path = path or (RAW_FULL if preset_name == "full" else RAW)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)
    return record


def _fmt(stat: dict, scale: float = 1.0, digits: int = 2) -> str:
    """A statistic for the console: its standard error where it has one, else its deviation."""
    return format_stat(stat, scale, digits, spread="se" if stat and "se" in stat else "std")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m bench.seeded_study", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the MLP, 3 seeds, 2 saturating widths")
    parser.add_argument("--preset", choices=("full", "quick", "reduced"), default=None,
                        help="reduced: the MLP, 3 seeds, 5 epochs on 2,000 images, saturating uniform at 4 bits")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"study folder (default: bench/{FULL_OUT.name} for the full preset, whose finished "
                             f"runs are committed; {DEFAULT_OUT} otherwise)")
    parser.add_argument("--scheduler", default=None, help="existing Dask scheduler (default: local cluster)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: cores)")
    parser.add_argument("--summarise-only", action="store_true",
                        help="train nothing: summarise the finished runs (a study stopped part way)")
    parser.add_argument("--record", action="store_true", help=f"also write the raw record {RAW.name} for BENCHMARKS.md")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    name = args.preset or ("quick" if args.quick else "full")
    cfg, load = preset(name)
    args.out = args.out or (FULL_OUT if name == "full" else DEFAULT_OUT)
    try:
        load()  # fails now, with the install command, if Fashion-MNIST is missing
    except data.DatasetMissingError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    summary = run(cfg, load, args.out, scheduler=args.scheduler, workers=args.workers, train=not args.summarise_only)
    for arch, a in summary["architectures"].items():
        print(f"{arch}: HGQ front size {_fmt(a['hgq_front_size'], digits=1)} (mean ± std over seeds)")
        for label, c in a["uniform"].items():
            print(f"  {label}: test accuracy {_fmt(c['test_accuracy'], 100)} %, EBOPs {_fmt(c['ebops'], digits=0)}; "
                  f"ratio {_fmt(c['ratio'])} (mean ± SE, {c['seeds_matched']}/{c['seeds']} seeds matched)")
        print(f"  headline ({a['headline_config']}): {_fmt(a['headline_ratio'])}x, target {a['target_ratio']}")
        for init, h in a.get("hgq2", {}).items():
            print(f"  HGQ2 ({init} start): best val. accuracy {_fmt(h['best_val_accuracy'], 100)} %; "
                  f"HGQ2 EBOPs / ours at it {_fmt(h['ratio'])} (mean ± SE, {h['seeds_matched']}/{h['seeds']} seeds matched)")
    print(f"wrote {args.out / RESULTS}")
    if args.record:
        write_record(summary, name, time.perf_counter() - t0)
        print(f"wrote {RAW_FULL if name == 'full' else RAW}")
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

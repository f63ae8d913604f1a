"""The particle study (issue 32): the four reference architectures of ``examples/particles`` trained by
us and by HGQ2 0.2.0 on the same data and recipe, and HGQ2's own path to firmware checked for exactness.

For every data set, architecture and seed, two trainings, each a resumable run folder
(``<folder>/runs/<dataset>-<arch>-<side>-seed<s>/``, published atomically; a rerun skips it):

* **ours**: :func:`examples.particles.models.ARCHITECTURES` trained with the β ramp of the preset
  (:func:`bench.common.training.train_front`: every Pareto checkpoint calibrated, counted in exact
  EBOPs, scored on validation and test; the checkpoints off the training front are not kept, which
  can only make our matches dearer). The most accurate checkpoint on validation data then goes
  through Keras = emulator = C++ (:func:`our_exactness`) on held-out (test) events and on four
  times them, and is kept (``ours.keras``, calibrated);
* **hgq2**: the same architecture built from HGQ2's layers in its own venv
  (:mod:`bench.contenders.hgq2_particles`), same data, epochs, batch size, Adam learning rate, seed
  and β at every epoch; every epoch rebuilt as our model and recounted with our exact EBOPs. Its
  model with the best (recounted) validation accuracy is kept as HGQ2 saved it (``hgq2.keras``)
  and, for the architectures of :data:`FIRMWARE_ARCHS` or any with zero-width activations, taken
  through HGQ2's own routes to firmware (alkaid 0.8.2's HGQ2 converter, hls4ml 1.3;
  :mod:`bench.contenders.hgq2_firmware`) on the same held-out events and four times them: output
  values that differ from HGQ2's own Keras model are counted with ``==``.

The summary compares, per data set and architecture, every point of HGQ2's front (validation
accuracy, exact EBOPs) with our cheapest point at least as accurate
(:func:`bench.common.pareto.front_comparison`), pooled over the seeds: the geometric mean of HGQ2's
EBOPs over ours, the share of HGQ2's points where ours is cheaper, and each side's best validation
accuracy (with the test accuracy of that model, reported only).

A supplement beside that comparison (``ours_variants``): our side trained again with β times a
factor (HGQ2's own EBOPs count, which its β multiplies, is a few times ours on the same model:
``hgq2_count_ratio``) and from the start of the MLP bench recipe (``hgq_fpga-0.2``: 3 fractional bits
per weight, where the default has 6), against the same
HGQ2 fronts.

With ``--rtl``, the kept model of ours of the first seed (one per architecture and data set: the
hardware follows the model, and Yosys on every seed's transformer would take most of a day) also goes
through our RTL backend (:func:`rtl_figures`: Yosys
LUT / FF / DSP, latency in cycles and ns at 200 MHz, Yosys time, the Verilator simulation against the
emulator), and then through alkaid 0.8.2 on the same integer weights and types (:func:`alkaid_step`,
:mod:`bench.studies.particles.alkaid`: the same Yosys script, alkaid's pipeline matched to our latency,
alkaid's interpreter against our emulator with ``==`` on held-out events and four times them); the
summary gives ours ÷ alkaid LUTs.

    python -m bench run particles [--preset quick|full] [--folder DIR] [--summarise-only] [--rtl]
                                  [--alkaid-venv DIR] [--archs A,B] [--out DIR]

``--archs`` runs some architectures only; their results replace those of the stored record of the
same preset, and the other architectures' results stay (:func:`merged_into_store`).
"""

from __future__ import annotations

import math
import os
import shutil
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path

import click
import numpy as np

from bench.cli import Output, out_option
from bench.common.pareto import front_comparison, pooled_comparison
from bench.render import put
from bench.studies.seeded.summary import front_of, mean_std, val_points

#: architectures whose HGQ2 models go through HGQ2's paths to firmware (a softmax inside)
FIRMWARE_ARCHS = ("transformer",)
ARCHS = ("deep_sets", "interaction_network", "mlp_mixer", "transformer")
SIDES = ("ours", "hgq2")
#: where the runs go: ``<folder>/<preset>/runs/``
DEFAULT_FOLDER = Path("build/bench_particles")
#: the supplement's variants of our side (see :class:`ParticleConfig`)
VARIANTS = {"beta4": {"beta_scale": 4.0}, "start-0.2": {"start": "hgq_fpga-0.2"}}
#: the goals of issue 32: HGQ2's EBOPs over ours at matched validation accuracy, across the front;
#: our LUTs over alkaid's on the same weights, on every model
TARGETS = {"geomean_ratio": 1.0, "share_cheaper": 1.0, "best_every_seed": True, "ours_over_alkaid_lut": 0.9}


@dataclass(frozen=True)
class ParticleConfig:
    """What the study trains: per data set ``name -> (particles, events)``, the architectures, the
    seeds, and the recipe both sides share."""

    datasets: dict = field(default_factory=lambda: {"jets": (16, 20000)})
    architectures: tuple[str, ...] = ARCHS
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 40
    beta_start: float = 1e-7
    beta_stop: float = 1e-4
    batch_size: int = 64
    learning_rate: float = 3e-3
    #: held-out (test) events of the exactness checks, in the range and times four
    n_firmware: int = 2000
    #: a supplement, not the issue's comparison: our side trained again in each of these variants,
    #: name -> ``{"beta_scale": k}`` (β times k: HGQ2's own EBOPs count, which its β multiplies, is a
    #: few times ours on the same model) and / or ``{"start": name}`` (a named quantizer start of
    #: :mod:`hgq_fpga.nn.quantizers.starts`, e.g. HGQ2's)
    ours_variants: dict = field(default_factory=lambda: dict(VARIANTS))

    def __post_init__(self) -> None:
        unknown = [a for a in self.architectures if a not in ARCHS]
        if unknown:
            raise ValueError(f"unknown architectures {unknown}; expected some of {ARCHS}")
        if not 0 < self.beta_start <= self.beta_stop:
            raise ValueError(f"need 0 < beta_start <= beta_stop, got {self.beta_start}, {self.beta_stop}")

    def betas(self) -> list[float]:
        """β of every epoch, log-linear from ``beta_start`` to ``beta_stop``: our side's scheduler
        (:meth:`bench.common.training.Plan.beta_scheduler`), handed to HGQ2 epoch by epoch."""
        ramp = _plan("any", self).beta_scheduler()
        return [float(ramp.schedule(e)) for e in range(self.epochs)]

    def describe(self) -> dict:
        return {**asdict(self), "datasets": {k: {"particles": n, "events": e} for k, (n, e) in self.datasets.items()},
                "optimizer": "Adam", "loss": "sparse categorical cross-entropy of the logits",
                "beta_schedule": "log-linear per epoch, both sides"}


#: the presets; ``quick`` is what one sitting of 2 shared cores runs, ``full`` the issue's study
PRESETS = {
    "quick": ParticleConfig(datasets={"jets": (16, 6000)}, seeds=(0,), epochs=12, n_firmware=1000),
    "full": ParticleConfig(datasets={"jets": (16, 20000), "fashion_mnist": (32, 20000)}),
    "smoke": ParticleConfig(datasets={"jets": (8, 400)}, architectures=("deep_sets", "transformer"), seeds=(0,),
                            epochs=2, n_firmware=50, ours_variants={}),
}
REDUCTIONS = {
    "quick": "the toy jets only (16 particles, 6,000 events: 3,600 training), 1 seed, 12 epochs, "
             "1,000 held-out events in the exactness checks",
    "full": "nothing: toy jets (16 particles) and point-cloud Fashion-MNIST (32 particles), 20,000 events each, "
            "3 seeds, 40 epochs",
    "smoke": "8 particles, 400 toy jets, 2 epochs, two architectures: a smoke run that measures nothing",
}


@cache
def load_split(dataset: str, particles: int, events: int):
    """The data set as a :class:`bench.common.data.Split` (60 / 20 / 20 %, fixed order: the seeds vary
    the training only)."""
    from bench.common.data import Split
    from examples.particles.train import load, splits

    x, y, _ = load("jets" if dataset == "jets" else "fashion-mnist", particles, events)
    parts = splits(x, y, seed=0)
    return Split(dataset, *parts["train"], *parts["val"], *parts["test"])


def _plan(arch: str, cfg: ParticleConfig, beta_scale: float = 1.0):
    from bench.common.models import Architecture
    from bench.common.training import Plan

    return Plan(Architecture(arch, "particles"), cfg.epochs, beta_scale * cfg.beta_start, beta_scale * cfg.beta_stop)


def variant_side(name: str) -> str:
    """The step of our side trained in variant ``name``, e.g. ``ours-beta4``."""
    return f"ours-{name}"


def _study_config(cfg: ParticleConfig, seed: int):
    from bench.common.training import StudyConfig

    # the start arguments are unused here: the examples' builders keep the layers' defaults
    return StudyConfig(plans=(), uniform_bits=(), batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                       seed=seed)


def held_out(split, cfg: ParticleConfig) -> np.ndarray:
    """The held-out events of the exactness checks: the first ``n_firmware`` test events."""
    return split.x_test[:cfg.n_firmware]


def our_exactness(model, x: np.ndarray, workdir: Path) -> dict:
    """Keras = emulator = C++ (the HLS C simulation, ``ap_fixed`` arithmetic, compiled once) of our
    calibrated ``model`` on ``x`` and ``4 x``: the differing values (an error is recorded as such,
    never as 0)."""
    import hgq_fpga
    from hgq_fpga.backends.hls.writer import write_project

    try:
        fw = hgq_fpga.to_firmware(model)
        prj = write_project(fw, Path(workdir) / "hls", cache_dir=Path(workdir) / "cache")
        prj.compile(macs="ap_fixed")
    except Exception as exc:  # noqa: BLE001 - recorded loudly in the section
        error = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"}
        return {"x": error, "x4": error}
    out = {}
    for name, scale in (("x", 1.0), ("x4", 4.0)):
        report = hgq_fpga.verify(model, (scale * x).astype(np.float32), firmware=fw, project=prj)
        out[name] = {"values": int(report.mismatches), "compared": int(report.compared),
                     "keras_vs_emulator": int(report.keras_vs_emulator),
                     "emulator_vs_csim": int(sum((report.emulator_vs or {}).values()))}
    return out


def train_ours(arch: str, split, cfg: ParticleConfig, seed: int, staging: Path, beta_scale: float = 1.0,
               start: str | None = None) -> dict:
    """Our side of one run (see the module docstring), β times ``beta_scale``, the layers built under
    the quantizer start ``start`` (None: the default)."""
    import contextlib

    import keras

    from hgq_fpga.nn.quantizers.starts import DEFAULT_START, quantizer_start

    from bench.common.training import accuracy, train_front
    from examples.particles.models import ARCHITECTURES

    keras.utils.set_random_seed(seed)
    n, f = split.image_shape
    with quantizer_start(start) if start else contextlib.nullcontext():
        model = ARCHITECTURES[arch](n=n, f=f, classes=int(split.y_train.max()) + 1)
    models, facts = train_front(model, "ours", _plan(arch, cfg, beta_scale), split, _study_config(cfg, seed),
                                str(staging))
    points = [{**m.point(), "calibrated_val_accuracy": accuracy(m.model, split.x_val, split.y_val)} for m in models]
    best = max(range(len(models)), key=lambda i: (points[i]["calibrated_val_accuracy"], -points[i]["ebops"]))
    facts["exactness_of"] = models[best].label
    facts["start"] = start or DEFAULT_START
    models[best].model.save(staging / "ours.keras")     # the RTL comparisons start from it
    facts["exactness"] = our_exactness(models[best].model, held_out(split, cfg), staging / "exactness")
    shutil.rmtree(staging / "exactness", ignore_errors=True)    # the projects: megabytes, not results
    return {"points": points, "facts": facts}


def train_hgq2_side(arch: str, split, cfg: ParticleConfig, seed: int, staging: Path) -> dict:
    """HGQ2's side of one run (see the module docstring): every epoch recounted; its most accurate
    model on validation data kept as ``hgq2.keras``."""
    import json

    from bench.common.training import accuracy, calibrate_and_score
    from bench.contenders.hgq2_particles import check_weights, to_ours, train_hgq2, zero_width_activations

    epochs = staging / "epochs"
    data = staging / "data.npz"
    np.savez(data, x_train=split.x_train, y_train=split.y_train, x_val=split.x_val, y_val=split.y_val)
    betas = cfg.betas()
    facts = train_hgq2(arch, {}, data, epochs, betas, cfg.batch_size, cfg.learning_rate, seed)
    data.unlink()
    graph = json.loads((epochs / "graph.json").read_text())
    points = []
    for epoch in range(1, cfg.epochs + 1):
        with np.load(epochs / f"epoch{epoch}.npz") as f:
            export = {k: f[k] for k in f.files}
        model = to_ours(graph, export)
        m = calibrate_and_score(f"hgq2-e{epoch}", model, split.x_train, split,
                                {"epoch": epoch, "beta": betas[epoch - 1],
                                 "hgq2_val_accuracy": float(export["val_accuracy"]),
                                 "hgq2_ebops": float(export["ebops"]),
                                 "zero_width_activations": zero_width_activations(graph, export)})
        check_weights(model, export)
        points.append({**m.point(), "calibrated_val_accuracy": accuracy(model, split.x_val, split.y_val)})
    best = max(points, key=lambda p: (p["calibrated_val_accuracy"], -p["ebops"]))
    shutil.copy(epochs / f"epoch{best['epoch']}.keras", staging / "hgq2.keras")
    shutil.rmtree(epochs)
    return {"points": points, "facts": {**facts, "kept": best["label"]}}


def firmware_check(arch: str, split, cfg: ParticleConfig, run_dir: Path, staging: Path) -> dict:
    """HGQ2's kept model of ``run_dir`` through alkaid and hls4ml (see the module docstring)."""
    from bench.contenders.hgq2_firmware import check_hgq2_firmware

    t0 = time.perf_counter()
    tools = check_hgq2_firmware(run_dir / "hgq2.keras", held_out(split, cfg), staging)
    return {"tools": tools, "seconds": round(time.perf_counter() - t0, 1)}


#: held-out events simulated in our RTL (Verilator) against the emulator
N_RTL = 200


def rtl_figures(arch: str, split, cfg: ParticleConfig, ours_dir: Path, staging: Path) -> dict:
    """Our RTL of our kept model (``ours.keras`` of ``ours_dir``): written, compiled by Verilator,
    simulated on held-out events against the emulator, synthesized by Yosys
    (:func:`bench.studies.rtl.run.ours_row`: LUT / FF / DSP, latency, Yosys time). A model the RTL
    backend refuses raises, so the run stays undone and is retried by the next ``--rtl`` run."""
    import keras

    import hgq_fpga
    from bench.studies.rtl.run import CLOCK_NS, ours_row

    model = keras.saving.load_model(ours_dir / "ours.keras", compile=False)
    fw = hgq_fpga.to_firmware(model)
    row, _ = ours_row(fw, held_out(split, cfg)[:N_RTL], staging, str(staging / "cache"))
    for folder in ("rtl", "cache"):
        shutil.rmtree(staging / folder, ignore_errors=True)     # the projects: megabytes, not results
    return {"rtl": {**row, "clock_ns": CLOCK_NS, "latency_ns": row["latency_cycles"] * CLOCK_NS}}


def alkaid_step(arch: str, split, cfg: ParticleConfig, ours_dir: Path, rtl: dict, staging: Path,
                alkaid_venv: Path) -> dict:
    """alkaid's design of our kept model (``ours.keras`` of ``ours_dir``) beside our RTL's figures
    ``rtl`` (its pipeline matched to our latency with both ports registered): LUT / FF / DSP, latency,
    and its interpreter's differing values from our emulator on the held-out events and four times
    them. A model alkaid cannot express raises (the op named), recorded as a failed run."""
    import keras

    import hgq_fpga
    from bench.contenders.alkaid_rtl import ensure_alkaid
    from bench.studies.particles.alkaid import alkaid_figures

    model = keras.saving.load_model(ours_dir / "ours.keras", compile=False)
    fw = hgq_fpga.to_firmware(model)
    python = ensure_alkaid(alkaid_venv)
    return {"alkaid": alkaid_figures(fw, held_out(split, cfg)[:N_RTL], staging, python,
                                     rtl["latency_both_registered"])}


STEPS = {"ours": train_ours, "hgq2": train_hgq2_side}


def run_name(dataset: str, arch: str, step: str, seed: int) -> str:
    return f"{dataset}-{arch}-{step}-seed{seed}"


def plan_runs(cfg: ParticleConfig, rtl: bool = False) -> list[tuple[str, str, str, int]]:
    """Every run ``(dataset, arch, step, seed)``, the most needed first: per data set and seed, both
    sides of each architecture, then HGQ2's firmware check where it applies (and, with ``rtl``, our
    RTL's hardware figures and alkaid's beside them, on the first seed only)."""
    out = []
    for dataset in cfg.datasets:
        for seed in cfg.seeds:
            for arch in cfg.architectures:
                out += [(dataset, arch, side, seed) for side in SIDES]
                out.append((dataset, arch, "firmware", seed))
                out += [(dataset, arch, variant_side(name), seed) for name in cfg.ours_variants]
                if rtl and seed == cfg.seeds[0]:
                    out += [(dataset, arch, "rtl", seed), (dataset, arch, "alkaid", seed)]
    return out


def wants_firmware(arch: str, hgq2: dict | None) -> bool:
    """Whether HGQ2's kept model of ``arch`` goes through its paths to firmware: a softmax inside, or
    zero-width activations in the kept model."""
    if arch in FIRMWARE_ARCHS:
        return True
    kept = hgq2 and next((p for p in hgq2["points"] if p["label"] == hgq2["facts"]["kept"]), None)
    return bool(kept and kept.get("zero_width_activations"))


def run(cfg: ParticleConfig, folder: Path, train: bool = True, rtl: bool = False, log=click.echo,
        alkaid_venv: Path | None = None) -> dict:
    """Run what ``folder`` lacks (nothing when ``train`` is False; our RTL's figures and alkaid's
    beside them only with ``rtl``, alkaid from ``alkaid_venv``), one run at a time, and summarise."""
    from bench.contenders.alkaid_rtl import DEFAULT_VENV

    from hgq_fpga.app.sweep.run import is_done, produce, read_result, run_folder

    folder.mkdir(parents=True, exist_ok=True)
    records, failed = {}, {}
    variants = {variant_side(name): options for name, options in cfg.ours_variants.items()}
    for dataset, arch, step, seed in plan_runs(cfg, rtl=True):
        name = run_name(dataset, arch, step, seed)
        final = run_folder(folder, name)
        if is_done(final):
            records[name] = read_result(final)
            continue
        hgq2_name, ours_name = run_name(dataset, arch, "hgq2", seed), run_name(dataset, arch, "ours", seed)
        rtl_name = run_name(dataset, arch, "rtl", seed)
        if (not train or (step == "rtl" and (not rtl or ours_name not in records))
                or (step == "alkaid" and (not rtl or rtl_name not in records))
                or (step == "firmware" and (hgq2_name not in records or not wants_firmware(arch, records[hgq2_name])))):
            continue
        particles, events = cfg.datasets[dataset]
        split = load_split(dataset, particles, events)
        log(f"particles: {name} ...")
        t0 = time.perf_counter()

        def work(staging: Path, step=step, arch=arch, seed=seed, split=split) -> dict:
            if step == "firmware":
                body = firmware_check(arch, split, cfg, run_folder(folder, hgq2_name), staging)
            elif step == "rtl":
                body = rtl_figures(arch, split, cfg, run_folder(folder, ours_name), staging)
            elif step == "alkaid":
                body = alkaid_step(arch, split, cfg, run_folder(folder, ours_name), records[rtl_name]["rtl"], staging,
                                   alkaid_venv or DEFAULT_VENV)
            elif step in variants:
                body = train_ours(arch, split, cfg, seed, staging, **variants[step])
            else:
                body = STEPS[step](arch, split, cfg, seed, staging)
            return {"dataset": dataset, "arch": arch, "step": step, "seed": seed, **body,
                    "seconds": round(time.perf_counter() - t0, 1), "machine_cores": os.cpu_count()}

        try:
            records[name], _ = produce(final, work)
            log(f"particles: {name} done in {records[name]['seconds']:.0f} s")
        except Exception as exc:  # noqa: BLE001 - one failed run must not lose the others; it is recorded
            failed[name] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300] if str(exc) else ''}"
            log(f"particles: {name} FAILED: {failed[name]}\n{traceback.format_exc()}")
    return summarise(cfg, records, failed)


def summarise(cfg: ParticleConfig, records: dict[str, dict], failed: dict[str, str]) -> dict:
    """Per data set and architecture: the front-wide comparison pooled over seeds, each side's best
    accuracies, the firmware mismatch counts (ours and HGQ2's tools)."""
    out = {}
    for dataset in cfg.datasets:
        for arch in cfg.architectures:
            entry = {"per_seed": {}, "firmware": {}, "ours_exactness": {}, "rtl": {}, "alkaid": {}, "variants": {}}
            for seed in cfg.seeds:
                ours, theirs = (records.get(run_name(dataset, arch, s, seed)) for s in SIDES)
                if ours:
                    entry["ours_exactness"][str(seed)] = {"model": ours["facts"]["exactness_of"],
                                                          **ours["facts"]["exactness"]}
                hw = records.get(run_name(dataset, arch, "rtl", seed))
                if hw and ours:
                    kept = next(p for p in ours["points"] if p["label"] == ours["facts"]["exactness_of"])
                    entry["rtl"][str(seed)] = {"model": kept["label"], "ebops": kept["ebops"], **hw["rtl"]}
                    theirs_hw = records.get(run_name(dataset, arch, "alkaid", seed))
                    if theirs_hw:
                        entry["alkaid"][str(seed)] = {
                            "model": kept["label"], **theirs_hw["alkaid"],
                            "ours_over_alkaid_lut": hw["rtl"]["resources"]["LUT"] / theirs_hw["alkaid"]["resources"]["LUT"]}
                fw = records.get(run_name(dataset, arch, "firmware", seed))
                if fw:
                    entry["firmware"][str(seed)] = {"model": theirs["facts"]["kept"] if theirs else None, **fw["tools"]}
                if not (ours and theirs):
                    continue
                mine, front = val_points(ours["points"]), front_of(val_points(theirs["points"]))
                comparison = front_comparison(front, mine)
                best_ours = max(mine, key=lambda p: (p["accuracy"], -p["ebops"]))
                best_theirs = max(front, key=lambda p: (p["accuracy"], -p["ebops"]))
                entry["per_seed"][str(seed)] = {
                    **comparison, "hgq2_front": front, "ours_front": front_of(mine),
                    "ours_best_model": {k: best_ours[k] for k in ("label", "accuracy", "test_accuracy", "ebops")},
                    "hgq2_best_model": {k: best_theirs[k] for k in ("label", "accuracy", "test_accuracy", "ebops")},
                    "hgq2_own_val_accuracy_of_best": best_theirs["hgq2_val_accuracy"],
                    "seconds": {"ours": ours["seconds"], "hgq2": theirs["seconds"]}}
            for name in cfg.ours_variants:
                entry["variants"][name] = _variant_comparison(dataset, arch, name, cfg, records, entry)
            seeds = entry["per_seed"]
            entry["front_comparison"] = pooled_comparison(seeds)
            entry["hgq2_count_ratio"] = _own_count_ratio(
                [p for seed in cfg.seeds for p in (records.get(run_name(dataset, arch, "hgq2", seed)) or {}).get("points", [])])
            for side in ("ours", "hgq2"):
                entry[f"{side}_best_val_accuracy"] = mean_std([s[f"{side}_best_model"]["accuracy"] for s in seeds.values()])
                entry[f"{side}_best_test_accuracy"] = mean_std([s[f"{side}_best_model"]["test_accuracy"]
                                                                for s in seeds.values()])
            out.setdefault(dataset, {})[arch] = entry
    planned = [run_name(*r) for r in plan_runs(cfg)]
    return {"config": cfg.describe(), "results": out, "runs_done": sorted(records), "failed": failed,
            "run_seconds": round(sum(r.get("seconds", 0.0) for r in records.values()), 1),
            "run_seconds_each": {name: r.get("seconds", 0.0) for name, r in sorted(records.items())},
            "ours_starts": sorted({r["facts"]["start"] for r in records.values()
                                   if r.get("step") == "ours" and "start" in r["facts"]}),
            "not_run": [n for n in planned if n not in records and "-firmware-" not in n],
            "rtl_not_run": [run_name(*r) for r in plan_runs(cfg, rtl=True) if r[2] == "rtl"
                            and run_name(*r) not in records],
            "alkaid_not_run": [run_name(*r) for r in plan_runs(cfg, rtl=True) if r[2] == "alkaid"
                               and run_name(*r) not in records],
            "targets": TARGETS}


def _variant_comparison(dataset: str, arch: str, name: str, cfg: ParticleConfig, records: dict,
                        entry: dict) -> dict:
    """HGQ2's fronts (of ``entry``) against our side trained in variant ``name``, pooled over the
    seeds; its exactness checks go into ``entry["ours_exactness"]`` as ``"<seed>, <name>"``."""
    per_seed, best = {}, []
    for seed in cfg.seeds:
        ours = records.get(run_name(dataset, arch, variant_side(name), seed))
        if not ours:
            continue
        entry["ours_exactness"][f"{seed}, {name}"] = {"model": ours["facts"]["exactness_of"],
                                                     **ours["facts"]["exactness"]}
        if str(seed) in entry["per_seed"]:
            mine = val_points(ours["points"])
            per_seed[str(seed)] = {**front_comparison(entry["per_seed"][str(seed)]["hgq2_front"], mine),
                                   "ours_front": front_of(mine)}
            best.append(max(p["accuracy"] for p in mine))
    starts = sorted({r["facts"]["start"] for seed in cfg.seeds
                     if (r := records.get(run_name(dataset, arch, variant_side(name), seed))) and "start" in r["facts"]})
    return {"settings": cfg.ours_variants[name], "starts": starts, "per_seed": per_seed, "front_comparison": pooled_comparison(per_seed),
            "best_val_accuracy": mean_std(best)}


def _own_count_ratio(points: list[dict]) -> float | None:
    """The geometric mean over HGQ2's models of its own EBOPs count over ours of the same model: the
    scale on which β weighs resources during HGQ2's training, relative to ours."""
    logs = [math.log(p["hgq2_ebops"] / p["ebops"]) for p in points if p["ebops"] > 0 and p["hgq2_ebops"] > 0]
    return math.exp(sum(logs) / len(logs)) if logs else None


def versions() -> dict[str, str]:
    """The peers' versions, as their venvs pin them."""
    from bench.contenders.hgq2_firmware import PACKAGES

    pins = dict(p.split("==") for p in PACKAGES if "==" in p)
    return {"hgq2": pins["hgq2"], "alkaid": pins["alkaid"], "hls4ml": pins["hls4ml"]}


def record(summary: dict, preset: str, wall_seconds: float) -> dict:
    """The study's record: the summary, the preset and what it leaves out, this sitting's wall time."""
    return {**summary, "preset": preset, "reduced": REDUCTIONS[preset], "wall_seconds": round(wall_seconds, 1),
            "versions": versions(),
            "cores": os.cpu_count(), "load_average": [round(v, 2) for v in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d", time.gmtime())}


def run_arch(name: str) -> str:
    """The architecture of run ``name`` (:func:`run_name`)."""
    return name.split("-")[1]


#: the record's lists of run names (merged architecture by architecture)
RUN_LISTS = ("runs_done", "not_run", "rtl_not_run", "alkaid_not_run")


def study_key(preset: str) -> str:
    """Where a preset's record is stored: the full study under ``particles_full`` (its own section,
    filled architecture by architecture over many sittings), the shorter presets under ``particles``,
    so that neither replaces the other."""
    return "particles_full" if preset == "full" else "particles"


def merged_into_store(new: dict, archs: tuple[str, ...]):
    """The store change that puts ``new``, a run of some architectures (``--archs``), over the stored
    record of the same preset: the other architectures' results, runs and seconds are kept.  Where
    the stored record lacks each run's seconds (records before ``run_seconds_each``), its total is
    kept whole and flagged (``run_seconds_includes_replaced``): the replaced runs' time stays in it."""
    name = study_key(new["preset"])

    def change(results: dict) -> None:
        old = results.get("studies", {}).get(name)
        if not old or old.get("preset") != new["preset"]:
            put({name: new})(results)
            return
        kept = lambda names: [n for n in names if run_arch(n) not in archs]  # noqa: E731
        merged = {**new, "results": {},
                  "failed": {**{k: v for k, v in old.get("failed", {}).items() if run_arch(k) not in archs},
                             **new["failed"]}}
        for key in RUN_LISTS:
            merged[key] = sorted(kept(old.get(key, [])) + new.get(key, []))
        for dataset in {**old["results"], **new["results"]}:
            others = {a: e for a, e in old["results"].get(dataset, {}).items() if a not in archs}
            both = {**others, **new["results"].get(dataset, {})}
            merged["results"][dataset] = {a: both[a] for a in ARCHS if a in both}    # the study's order
        order = [a for a in ARCHS if any(a in d for d in merged["results"].values())]
        merged["config"] = {**new["config"], "architectures": order}
        merged["ours_starts"] = sorted(set(old.get("ours_starts", [])) | set(new["ours_starts"]))
        merged["wall_seconds"] = round(old.get("wall_seconds", 0.0) + new["wall_seconds"], 1)
        if "run_seconds_each" in old:
            each = {**{n: t for n, t in old["run_seconds_each"].items() if run_arch(n) not in archs},
                    **new["run_seconds_each"]}
            merged["run_seconds_each"] = dict(sorted(each.items()))
            merged["run_seconds"] = round(sum(each.values()), 1)
        else:
            merged.pop("run_seconds_each")
            merged["run_seconds"] = round(old["run_seconds"] + new["run_seconds"], 1)
            merged["run_seconds_includes_replaced"] = True
        put({name: merged})(results)

    return change


@click.command()
@click.option("--preset", "preset", type=click.Choice(sorted(PRESETS)), default="quick", show_default=True,
              help="quick: toy jets, 1 seed, 12 epochs; full: toy jets and point-cloud Fashion-MNIST, "
                   "3 seeds, 40 epochs (resumable); smoke: tiny, measures nothing")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"the runs' folder (default: {DEFAULT_FOLDER}/<preset>); a rerun resumes it")
@click.option("--summarise-only", is_flag=True, help="train nothing: summarise the finished runs")
@click.option("--rtl", is_flag=True, help="also our RTL of the first seed's kept model of ours: Verilator simulation, Yosys "
                                          "LUT / FF / DSP, latency; and alkaid's design of the same model beside it")
@click.option("--alkaid-venv", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="alkaid 0.8.2's own venv for --rtl (default /work/venvs/alkaid; created from PyPI when missing)")
@click.option("--archs", default=None, metavar="A,B",
              help=f"only these architectures (of {', '.join(ARCHS)}); their results replace the stored ones, "
                   "the other architectures' stay")
@out_option
def main(preset: str, folder: Path | None, summarise_only: bool, rtl: bool, alkaid_venv: Path | None,
         archs: str | None, out: Output) -> None:
    """The particle study: ours against HGQ2 0.2.0 on four architectures, and HGQ2's firmware exactness."""
    t0 = time.perf_counter()
    cfg = PRESETS[preset]
    if archs is not None:
        chosen = tuple(a for a in archs.split(",") if a)
        unknown = [a for a in chosen if a not in cfg.architectures]
        if unknown or not chosen:
            raise click.BadParameter(f"{unknown[0]!r} is not an architecture of preset {preset!r} "
                                     f"({', '.join(cfg.architectures)})" if unknown else "names no architecture",
                                     param_hint="--archs")
        cfg = replace(cfg, architectures=chosen)
    for dataset, (particles, events) in cfg.datasets.items():   # a missing data set: one line, now
        try:
            load_split(dataset, particles, events)
        except FileNotFoundError as err:
            raise click.ClickException(str(err)) from err
    summary = run(cfg, folder or DEFAULT_FOLDER / preset, train=not summarise_only, rtl=rtl, alkaid_venv=alkaid_venv)
    rec = record(summary, preset, time.perf_counter() - t0)
    key = study_key(preset)
    if archs is None:
        out.store(key, rec)
    else:
        out.change(merged_into_store(rec, cfg.architectures), f"studies.{key}")


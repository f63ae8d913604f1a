"""Multiplier-free weights on the resource study's MLP: fronts of test accuracy against exact EBOPs,
the adder count and Yosys LUTs (``docs/method.md`` §8; issue 17).

Methods, all with the resource study's recipe (architecture, data, optimiser, beta ramp,
:class:`~hgq_fpga.nn.callbacks.ParetoCheckpoint` on validation accuracy and training EBOPs,
calibration, test score of the calibrated model):

* ``hgq``: plain HGQ (the reference);
* ``nhot<n>`` for each ``n``: n-hot kernels, two-stage schedule (the first half of the epochs with
  plain HGQ rounding, then ``n`` terms: :class:`hgq_fpga.nn.nhot_schedule.NHotSchedule`);
* ``<method>+adders<r>``: the same with the adder-count cost (:mod:`hgq_fpga.nn.adder_cost`),
  ``adder_gamma = r * beta`` along the ramp;
* ``ternary<N>-post``: every HGQ front model ternarized with groups of ``N`` (``ternarize``), then
  calibrated, no training;
* ``ternary<N>-ft``: the most accurate HGQ front model (by validation accuracy) ternarized and
  fine-tuned for ``finetune_epochs`` with the beta ramp (straight-through estimator).

Every point records ``accuracy``, exact ``ebops`` and ``adders`` (``fw.resources().adders``). The
comparison: for each method, the fewest adders among its points that reach the accuracy of the
most accurate HGQ front model less one standard error, and HGQ's adders at that accuracy divided by
it. Those selected points (and HGQ's) are written as RTL and synthesised with Yosys for their
LUTs (one Yosys run of a 784-input model takes many minutes, so not the whole fronts). Model
selection uses validation data only; the test set only scores.

Run: ``python -m bench run multiplier_free --mode study`` (stores the record; ``--work DIR`` keeps the
finished methods so that a rerun resumes, ``--only m1,m2`` trains some methods in this process,
``--synth-only`` runs the Yosys stage; ``--mode smoke``: synthetic data, seconds).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import click
import keras

import hgq_fpga
from hgq_fpga.backends.rtl import write_project
from hgq_fpga.nn.adder_cost import set_adder_gamma
from hgq_fpga.nn.nhot_schedule import NHotSchedule
from hgq_fpga.nn.quantizers.nhot import nhot
from hgq_fpga.nn.ternarize import ternarize

from bench.cli import out_option
from bench.common import data
from bench.common.models import MLP, Architecture, build
from bench.common.pareto import pareto_indices, smallest_reaching, standard_error
from bench.common.training import Plan, StudyConfig, Trained, calibrate_and_score, train_data, train_front


#: the adder-cost runs ``(method, r)``: ``adder_gamma = r * beta`` along the ramp. ``r = 10`` makes a
#: weight's two gradients on ``f`` comparable (EBOPs: its input width, ~4 bits; adders: ~0.5 digit
#: per bit); ``r = 2`` is the next point of a coarse log sweep
GAMMA_RUNS = (("hgq", 10.0), ("nhot2", 10.0), ("hgq", 2.0), ("nhot1", 2.0))


@dataclass(frozen=True)
class MultiplierFreeConfig:
    """Sizes of one run: the study settings (one plan: the MLP), the methods' parameters.

    ``gamma_runs``: ``(method, r)`` pairs, the methods (``"hgq"``, ``"nhot<n>"``) also trained with
    the adder cost (:mod:`hgq_fpga.nn.adder_cost`; named ``<method>+adders<r>``), ``adder_gamma =
    r * beta`` at every epoch.
    """

    study: StudyConfig
    load_data: object
    nhot_terms: tuple[int, ...] = (1, 2, 3)
    group_sizes: tuple[int, ...] = (4, 16, 64)
    alpha_bits: int = 4
    finetune_epochs: int = 10
    gamma_runs: tuple[tuple[str, float], ...] = GAMMA_RUNS
    #: what this preset reduces against the issue's full study (rendered with the record)
    reduced: str = ""

    def methods(self) -> list[str]:
        """Every method name, in training order (``ternary*`` need the HGQ front first)."""
        names = ["hgq"] + [f"nhot{n}" for n in self.nhot_terms]
        names += [f"{m}+adders{r:g}" for m, r in self.gamma_runs]
        for N in self.group_sizes:
            names += [f"ternary{N}-post", f"ternary{N}-ft"]
        return names


#: mode: (epochs, beta_start, training images, validation images, fine-tuning epochs)
PRESETS = {"quick": (20, 1e-8, 10000, 5000, 6), "study": (8, 1e-7, 10000, 3000, 3),
           "reduced": (8, 1e-7, 5000, 2000, 3)}


def preset(mode: str) -> MultiplierFreeConfig:
    """``quick`` (Fashion-MNIST, 10,000 images, 20 epochs), ``study`` (10,000 images, 8 epochs:
    what fits on a shared 2-core machine), ``reduced`` (5,000 images, 8 epochs, a CPU-friendly
    preview) or ``smoke`` (synthetic, tiny, one epoch)."""
    if mode in PRESETS:
        epochs, beta_start, n_train, n_val, ft = PRESETS[mode]
        plan = Plan(MLP, epochs=epochs, beta_start=beta_start, beta_stop=1e-5)
        study = StudyConfig((plan,), uniform_bits=(), batch_size=64, learning_rate=2e-3,
                            n_calibration=2000, hgq_init_bits=4, hgq_f_init=4.0)
        reduced = (f"{n_train:,} training images instead of 55,000 ({n_val:,} validation instead of "
                   f"5,000), {epochs} epochs per run instead of 50 (beta ramp {beta_start:g} → 1e-5 "
                   f"instead of 1e-8 → 1e-5), ternary fine-tuning {ft} epochs, calibration on 2,000 "
                   "images instead of 20,000, one seed, no repeat; Yosys LUTs only for the points "
                   "selected at matched accuracy (a 784-input model takes many minutes to write and "
                   "synthesise), not for whole fronts.")
        return MultiplierFreeConfig(study, lambda: data.fashion_mnist(n_train=n_train, n_val=n_val),
                                    finetune_epochs=ft, reduced=reduced)
    if mode == "smoke":
        plan = Plan(Architecture("mlp", "mlp", hidden=(8,)), epochs=2, beta_start=1e-6, beta_stop=1e-6)
        study = StudyConfig((plan,), uniform_bits=(), batch_size=128)
        return MultiplierFreeConfig(study, data.synthetic, nhot_terms=(2,), group_sizes=(4,),
                                    finetune_epochs=1, gamma_runs=(("nhot2", 10.0),))
    raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join([*PRESETS, 'smoke'])}")


class _GammaFollowsBeta(keras.callbacks.Callback):
    """``adder_gamma = ratio * beta`` of the plan's ramp at every epoch start."""

    def __init__(self, plan: Plan, ratio: float) -> None:
        super().__init__()
        self.ramp, self.ratio = plan.beta_scheduler(), float(ratio)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        set_adder_gamma(self.model, self.ratio * self.ramp.schedule(epoch))


def _point(m: Trained) -> dict:
    point = m.point()
    point["adders"] = int(hgq_fpga.to_firmware(m.model).resources().adders)
    return point


def _front(points: list[dict]) -> list[dict]:
    keep = pareto_indices([p["accuracy"] for p in points], [p["adders"] for p in points])
    return [points[i] for i in keep]


def compare(methods: dict[str, list[dict]], n_test: int, level: float | None = None) -> dict:
    """Fewest adders (and EBOPs) per method at HGQ's accuracy ``level`` (default: its best) less one
    standard error; LUTs and their ratio where the selected point was synthesised (``luts``)."""
    hgq = methods["hgq"]
    best = max(p["accuracy"] for p in hgq) if level is None else level
    target = best - standard_error(best, n_test)
    ref = hgq[smallest_reaching([p["accuracy"] for p in hgq], [p["adders"] for p in hgq], target)]
    rows = {}
    for name, points in methods.items():
        i = smallest_reaching([p["accuracy"] for p in points], [p["adders"] for p in points], target)
        if i is None:
            rows[name] = {"reaches": False, "best_accuracy": max((p["accuracy"] for p in points), default=None)}
            continue
        p = points[i]
        luts, ref_luts = p.get("luts"), ref.get("luts")
        rows[name] = {"reaches": True, "label": p["label"], "accuracy": p["accuracy"], "adders": p["adders"],
                      "ebops": p["ebops"], "luts": luts,
                      "adder_ratio_vs_hgq": ref["adders"] / p["adders"] if p["adders"] else None,
                      "lut_ratio_vs_hgq": ref_luts / luts if luts and ref_luts else None}
    return {"target_accuracy": target, "hgq_best_accuracy": best, "hgq_reference": ref["label"],
            "standard_error": standard_error(best, n_test), "n_test": n_test, "methods": rows}


class Store:
    """The study's working folder: each finished method's points (``parts/<method>.json``), its
    calibrated models (``models/<label>.keras``) and each synthesised point's LUTs
    (``luts/<label>.json``). A rerun with the same folder skips what is there, so methods can
    run in several processes and the synthesis after them."""

    def __init__(self, workdir: str | Path) -> None:
        self.root = Path(workdir)
        for sub in ("parts", "models", "luts"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, obj) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(obj, indent=1))
        os.replace(tmp, path)

    def part(self, name: str) -> dict | None:
        path = self.root / "parts" / f"{name}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def save_part(self, name: str, models: list[Trained], facts: dict | None) -> dict:
        points = []
        for m in models:
            m.model.save(self.root / "models" / f"{m.label}.keras")
            points.append(_point(m))
        part = {"points": points, "facts": facts}
        self._write(self.root / "parts" / f"{name}.json", part)
        return part

    def model(self, label: str) -> keras.Model:
        return keras.saving.load_model(self.root / "models" / f"{label}.keras", compile=False)

    def luts(self, label: str) -> dict | None:
        path = self.root / "luts" / f"{label}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    def synth(self, label: str, timeout: float | None = None, cse: bool = True) -> dict:
        """Yosys ``synth_xilinx`` of the RTL project of model ``label`` (cached; ``cse``: the
        writer's sub-expression sharing, whose pair search is slow on a 784-input layer)."""
        got = self.luts(label)
        if got is not None:
            return got
        fw = hgq_fpga.to_firmware(self.model(label))
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as d:
            prj = write_project(fw, Path(d) / "rtl", cse=cse)
            t1 = time.perf_counter()
            rep = prj.synth(tool="yosys", timeout=timeout)
        got = {"luts": int(rep["resources"]["LUT"]), "resources": rep["resources"], "cse": cse,
               "latency_cycles": rep["latency_cycles"], "write_s": round(t1 - t0, 1),
               "yosys_s": round(time.perf_counter() - t1, 1)}
        self._write(self.root / "luts" / f"{label}.json", got)
        return got


def train_methods(cfg: MultiplierFreeConfig, store: Store, only: Sequence[str] | None = None,
                  log=print) -> None:
    """Train and score the methods (``only`` those, else all) that ``store`` does not hold yet."""
    split = cfg.load_data()
    plan = cfg.study.plans[0]
    study = cfg.study
    x_calib = train_data(split, plan)[0]
    x_calib = x_calib if study.n_calibration is None else x_calib[:study.n_calibration]
    unknown = set(only or ()) - set(cfg.methods())
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; this preset has {cfg.methods()}")

    def quantizer(method: str):
        n = int(method[4:]) if method.startswith("nhot") else None
        return None if n is None else (lambda: nhot(n, init_bits=study.hgq_init_bits, name="kernel_quantizer"))

    def fresh(method: str, gamma: float | None = None):
        return build(plan.arch, split.image_shape, "hgq", seed=study.seed, init_bits=study.hgq_init_bits,
                     f_init=study.hgq_f_init, kernel_quantizer=quantizer(method), adder_gamma=gamma)

    def trained(method: str):
        base, _, ratio = method.partition("+adders")
        gamma = bool(ratio)
        callbacks = (NHotSchedule(plan.epochs // 2, n_loose=0),) if base.startswith("nhot") else ()
        callbacks += (_GammaFollowsBeta(plan, float(ratio)),) if gamma else ()
        return train_front(fresh(base, 0.0 if gamma else None), method, plan, split, study,
                           str(store.root / "ckpt"), callbacks=callbacks)

    for method in cfg.methods():
        if (only and method not in only) or store.part(method) is not None:
            continue
        if method.startswith("ternary"):
            N, kind = int(method[7:].split("-")[0]), method.split("-")[1]
            hgq = store.part("hgq")
            if hgq is None:
                raise ValueError(f"{method} needs the HGQ front: train 'hgq' first")
            if kind == "post":
                models = [calibrate_and_score(f"ternary{N}-post-{p['label']}",
                                  ternarize(store.model(p["label"]), N, alpha_bits=cfg.alpha_bits),
                                  x_calib, split, {"source": p["label"]})
                          for p in hgq["points"]]
                facts = None
            else:
                best = max(hgq["points"], key=lambda p: (p["val_accuracy"], -p["ebops"]))
                models, facts = train_front(ternarize(store.model(best["label"]), N, alpha_bits=cfg.alpha_bits),
                                            method, replace(plan, epochs=cfg.finetune_epochs), split, study,
                                            str(store.root / "ckpt"))
        else:
            models, facts = trained(method)
        store.save_part(method, models, facts)
        log(f"{method}: {len(models)} front models")


def synthesise(cfg: MultiplierFreeConfig, store: Store, n_test: int, log=print,
               timeout: float | None = None, cse: bool = True, only: Sequence[str] | None = None) -> None:
    """Yosys LUTs of the matched-accuracy points: HGQ's reference first, then the other methods'
    selected points, fewest adders first (cached in ``store``; ``only``: these labels)."""
    methods = {m: store.part(m)["points"] for m in cfg.methods() if store.part(m) is not None}
    rows = compare(methods, n_test)
    labels = [rows["hgq_reference"]] + [r["label"] for _, r in sorted(
        ((k, r) for k, r in rows["methods"].items() if r["reaches"]), key=lambda kr: kr[1]["adders"])]
    for label in dict.fromkeys(labels):
        if store.luts(label) is None and (not only or label in only):
            got = store.synth(label, timeout, cse)
            log(f"{label}: {got['luts']} LUTs (write {got['write_s']} s, Yosys {got['yosys_s']} s)")


def assemble(cfg: MultiplierFreeConfig, store: Store) -> dict:
    """The JSON record (see the module doc) from the finished methods in ``store``."""
    split = cfg.load_data()
    plan = cfg.study.plans[0]
    missing = [m for m in cfg.methods() if store.part(m) is None]
    if missing:
        raise ValueError(f"methods not trained yet: {', '.join(missing)}")
    methods, facts = {}, {}
    for m in cfg.methods():
        part = store.part(m)
        methods[m] = [{**p, **({"luts": store.luts(p["label"])["luts"]} if store.luts(p["label"]) else {})}
                      for p in part["points"]]
        if part["facts"] is not None:
            facts[m] = part["facts"]
    synthesised = {label: store.luts(label) for m in methods.values() for label in [p["label"] for p in m]
                   if store.luts(label) is not None}
    return {"dataset": split.describe(), "architecture": plan.arch.describe(split.image_shape),
            "config": {**cfg.study.describe(), "nhot_terms": list(cfg.nhot_terms),
                       "group_sizes": list(cfg.group_sizes), "alpha_bits": cfg.alpha_bits,
                       "finetune_epochs": cfg.finetune_epochs, "nhot_loose_epochs": plan.epochs // 2,
                       "gamma_runs": [list(r) for r in cfg.gamma_runs],
                       "yosys": "Yosys 0.23 synth_xilinx via hgq_fpga.backends.rtl.write_project "
                                "(vu9p, default pipelining; CSE per point in `synthesis`) of the "
                                "matched-accuracy points only"},
            "runs": facts,
            "reduced": cfg.reduced,
            "synthesis": synthesised,
            "methods": {k: {"points": v, "front": _front(v)} for k, v in methods.items()},
            "comparison": compare(methods, len(split.x_test)),
            # the same at every HGQ front model's accuracy (the headline is the first)
            "comparisons": [compare(methods, len(split.x_test), p["accuracy"])
                            for p in sorted(methods["hgq"], key=lambda p: -p["accuracy"])]}


@click.command()
@click.option("--mode", default="study", show_default=True, type=click.Choice([*PRESETS, "smoke"]))
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="working folder kept between runs (resumable; default: a temporary one)")
@click.option("--only", help="comma-separated methods to train now (then stop; needs --work)")
@click.option("--synth-only", is_flag=True, help="only the Yosys stage (needs --work)")
@click.option("--no-synth", is_flag=True, help="skip Yosys (no LUTs)")
@click.option("--synth-timeout", type=float, default=None, help="seconds per Yosys run")
@click.option("--no-cse", is_flag=True, help="RTL without sub-expression sharing")
@click.option("--synth-labels", help="comma-separated points to synthesise (default: all selected)")
@click.option("--note", default="", help="what this run measured or left out, kept in the record")
@out_option
def main(mode: str, work: Path | None, only: str | None, synth_only: bool, no_synth: bool,
         synth_timeout: float | None, no_cse: bool, synth_labels: str | None, note: str, out) -> None:
    """Multiplier-free weights (n-hot, ternary, the adder cost) against plain HGQ."""
    cfg = preset(mode)
    if (only or synth_only) and not work:
        raise click.UsageError("--only and --synth-only need --work")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(work or tmp)
        if only:
            train_methods(cfg, store, only=only.split(","))
            return
        if not synth_only:
            train_methods(cfg, store)
        if not no_synth:
            synthesise(cfg, store, len(cfg.load_data().x_test), timeout=synth_timeout, cse=not no_cse,
                       only=synth_labels.split(",") if synth_labels else None)
        if synth_only:
            return
        record = assemble(cfg, store)
    if note:
        record["note"] = note
    out.store("multiplier_free", record)

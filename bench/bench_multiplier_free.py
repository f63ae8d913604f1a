"""Multiplier-free weights on the resource study's MLP: fronts of test accuracy against exact EBOPs
and the adder count (``docs/method.md`` §8; issue 17).

Methods, all with the resource study's recipe (architecture, data, optimiser, beta ramp,
:class:`~hgq_fpga.nn.callbacks.ParetoCheckpoint` on validation accuracy, calibration, test score
of the deployed model):

* ``hgq``: plain HGQ (the reference);
* ``nhot<n>`` for each ``n``: n-hot kernels, two-stage schedule (the first half of the epochs with
  plain HGQ rounding, then ``n`` terms: :class:`hgq_fpga.nn.nhot_schedule.NHotSchedule`);
* ``ternary<N>-post``: every HGQ front model ternarized with groups of ``N`` (``ternarize``), then
  calibrated, no training;
* ``ternary<N>-ft``: the most accurate HGQ front model (by validation accuracy) ternarized and
  fine-tuned for ``finetune_epochs`` with the beta ramp (straight-through estimator).

Every point records ``accuracy``, exact ``ebops`` and ``adders`` (``fw.resources().adders``). The
comparison: for each method, the fewest adders among its points that reach the accuracy of the
most accurate HGQ front model less one standard error, and HGQ's adders at that accuracy divided by
it. Selection never looks at the test set beyond that report. LUTs need the RTL backend (not here).

Run: ``python -m bench.bench_multiplier_free --mode quick --out DIR`` (``smoke``: synthetic data).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import hgq_fpga
from hgq_fpga.nn.nhot_schedule import NHotSchedule
from hgq_fpga.nn.quantizers.nhot import nhot
from hgq_fpga.nn.ternarize import ternarize

from . import data
from .models import MLP, Architecture, build
from .pareto import pareto_indices, smallest_reaching, standard_error
from .resource_study import Plan, StudyConfig, Trained, _finish, _train_data, train_front


@dataclass(frozen=True)
class MultiplierFreeConfig:
    """Sizes of one run: the study settings (one plan: the MLP), the methods' parameters."""

    study: StudyConfig
    load_data: object
    nhot_terms: tuple[int, ...] = (1, 2, 3)
    group_sizes: tuple[int, ...] = (4, 16, 64)
    alpha_bits: int = 4
    finetune_epochs: int = 10


def preset(mode: str) -> MultiplierFreeConfig:
    """``quick`` (Fashion-MNIST, 10,000 images, 20 epochs), ``reduced`` (5,000 images, 8 epochs,
    a CPU-friendly preview) or ``smoke`` (synthetic, tiny, one epoch)."""
    if mode == "quick":
        plan = Plan(MLP, epochs=20, beta_start=1e-8, beta_stop=1e-5)
        study = StudyConfig((plan,), uniform_bits=(), batch_size=64, learning_rate=2e-3,
                            n_calibration=2000, hgq_init_bits=4, hgq_f_init=4.0)
        return MultiplierFreeConfig(study, lambda: data.fashion_mnist(n_train=10000, n_val=5000),
                                    finetune_epochs=6)
    if mode == "reduced":
        plan = Plan(MLP, epochs=8, beta_start=1e-7, beta_stop=1e-5)
        study = StudyConfig((plan,), uniform_bits=(), batch_size=64, learning_rate=2e-3,
                            n_calibration=2000, hgq_init_bits=4, hgq_f_init=4.0)
        return MultiplierFreeConfig(study, lambda: data.fashion_mnist(n_train=5000, n_val=2000),
                                    finetune_epochs=3)
    if mode == "smoke":
        plan = Plan(Architecture("mlp", "mlp", hidden=(8,)), epochs=2, beta_start=1e-6, beta_stop=1e-6)
        study = StudyConfig((plan,), uniform_bits=(), batch_size=128)
        return MultiplierFreeConfig(study, data.synthetic, nhot_terms=(2,), group_sizes=(4,),
                                    finetune_epochs=1)
    raise ValueError(f"unknown mode {mode!r}; expected 'quick', 'reduced' or 'smoke'")


def _point(m: Trained) -> dict:
    point = m.point()
    point["adders"] = int(hgq_fpga.to_firmware(m.model).resources().adders)
    return point


def _front(points: list[dict]) -> list[dict]:
    keep = pareto_indices([p["accuracy"] for p in points], [p["adders"] for p in points])
    return [points[i] for i in keep]


def compare(methods: dict[str, list[dict]], n_test: int) -> dict:
    """Fewest adders (and EBOPs) per method at the best HGQ accuracy less one standard error."""
    hgq = methods["hgq"]
    best = max(p["accuracy"] for p in hgq)
    target = best - standard_error(best, n_test)
    ref = hgq[smallest_reaching([p["accuracy"] for p in hgq], [p["adders"] for p in hgq], target)]
    rows = {}
    for name, points in methods.items():
        i = smallest_reaching([p["accuracy"] for p in points], [p["adders"] for p in points], target)
        if i is None:
            rows[name] = {"reaches": False, "best_accuracy": max((p["accuracy"] for p in points), default=None)}
            continue
        p = points[i]
        rows[name] = {"reaches": True, "label": p["label"], "accuracy": p["accuracy"], "adders": p["adders"],
                      "ebops": p["ebops"],
                      "adder_ratio_vs_hgq": ref["adders"] / p["adders"] if p["adders"] else None}
    return {"target_accuracy": target, "hgq_best_accuracy": best, "hgq_reference": ref["label"],
            "methods": rows}


def run(cfg: MultiplierFreeConfig, workdir: str, log=print) -> dict:
    """Train and score every method; return the JSON record (see the module doc)."""
    split = cfg.load_data()
    plan = cfg.study.plans[0]
    study = cfg.study
    x_calib = _train_data(split, plan)[0]
    x_calib = x_calib if study.n_calibration is None else x_calib[:study.n_calibration]

    def fresh(kernel_quantizer=None):
        return build(plan.arch, split.image_shape, "hgq", seed=study.seed, init_bits=study.hgq_init_bits,
                     f_init=study.hgq_f_init, kernel_quantizer=kernel_quantizer)

    methods: dict[str, list[dict]] = {}
    facts: dict[str, dict] = {}
    hgq_models, facts["hgq"] = train_front(fresh(), "hgq", plan, split, study, workdir)
    methods["hgq"] = [_point(m) for m in hgq_models]
    log(f"hgq: {len(hgq_models)} front models")
    for n in cfg.nhot_terms:
        schedule = NHotSchedule(plan.epochs // 2, n_loose=0)
        models, facts[f"nhot{n}"] = train_front(
            fresh(lambda n=n: nhot(n, init_bits=study.hgq_init_bits, name="kernel_quantizer")),
            f"nhot{n}", plan, split, study, workdir, callbacks=(schedule,))
        methods[f"nhot{n}"] = [_point(m) for m in models]
        log(f"nhot{n}: {len(models)} front models")
    best = max(hgq_models, key=lambda m: (m.extra["val_accuracy"], -m.ebops))
    ft_plan = replace(plan, epochs=cfg.finetune_epochs)
    for N in cfg.group_sizes:
        post = []
        for m in hgq_models:
            t = ternarize(m.model, N, alpha_bits=cfg.alpha_bits)
            post.append(_point(_finish(f"ternary{N}-post-{m.label}", t, x_calib, split, dict(m.extra))))
        methods[f"ternary{N}-post"] = post
        models, facts[f"ternary{N}-ft"] = train_front(ternarize(best.model, N, alpha_bits=cfg.alpha_bits),
                                                      f"ternary{N}-ft", ft_plan, split, study, workdir)
        methods[f"ternary{N}-ft"] = [_point(m) for m in models]
        log(f"ternary{N}: {len(post)} post-training, {len(models)} fine-tuned front models")
    return {"dataset": split.describe(), "architecture": plan.arch.describe(split.image_shape),
            "config": {**study.describe(), "nhot_terms": list(cfg.nhot_terms),
                       "group_sizes": list(cfg.group_sizes), "alpha_bits": cfg.alpha_bits,
                       "finetune_epochs": cfg.finetune_epochs, "nhot_loose_epochs": plan.epochs // 2},
            "runs": facts,
            "methods": {k: {"points": v, "front": _front(v)} for k, v in methods.items()},
            "comparison": compare(methods, len(split.x_test))}


def plot(record: dict, path: Path) -> Path:
    """Test accuracy against adders and against EBOPs (log x), one front per method."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), dpi=120, sharey=True)
    for ax, key, label in zip(axes, ("adders", "ebops"), ("adders (CSD digits − 1 + trees)", "exact EBOPs")):
        for name, method in record["methods"].items():
            front = sorted(_front(method["points"]) if key == "adders" else
                           [method["points"][i] for i in pareto_indices(
                               [p["accuracy"] for p in method["points"]], [p["ebops"] for p in method["points"]])],
                           key=lambda p: p[key])
            ax.plot([max(p[key], 1) for p in front], [p["accuracy"] for p in front], "o-", ms=3, label=name)
        ax.set_xscale("log")
        ax.set_xlabel(label + " (log scale)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("test accuracy (deployed model)")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"multiplier-free weights: {record['architecture']} on {record['dataset']['name']}")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def write(record: dict, out: Path) -> None:
    """``multiplier_free.json`` and ``multiplier_free.png`` into ``out`` (each written, then renamed)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "multiplier_free.json.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, out / "multiplier_free.json")
    plot(record, out / "multiplier_free.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="quick", choices=("quick", "reduced", "smoke"))
    parser.add_argument("--out", default="bench/multiplier_free", help="output folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        record = run(preset(args.mode), workdir)
    write(record, Path(args.out))
    print(json.dumps(record["comparison"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

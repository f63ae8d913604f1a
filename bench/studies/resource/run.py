"""The resource study (the headline): accuracy against exact EBOPs, HGQ against uniform widths.

For each architecture of the preset (:mod:`bench.common.presets`), HGQ's front and one uniform model
per width are trained, calibrated and scored (:mod:`bench.common.training`); then the **ratio at
matched accuracy**: for each uniform model, its EBOPs divided by the EBOPs of the smallest HGQ model
that reaches at least its test accuracy. The headline is the ratio for the most accurate uniform
model. Run by ``python -m bench suite`` with the exactness check of its front models
(:mod:`bench.studies.exactness.run`).
"""

from __future__ import annotations

import time

from bench.common.data import Split
from bench.common.pareto import matched_ratio, pareto_indices
from bench.common.training import Plan, StudyConfig, Trained, train_data, train_hgq, train_uniform

#: the issue's target for the EBOPs ratio at matched accuracy, per architecture name
TARGET_RATIO = {"mlp": 5.0}


def compare(hgq: list[dict], uniform: list[dict]) -> dict:
    """Fronts and matched-accuracy ratios from the JSON points (also used to re-check results.json)."""
    front = [hgq[i] for i in pareto_indices([p["accuracy"] for p in hgq], [p["ebops"] for p in hgq])]
    per_width = [{"label": u["label"], **matched_ratio(u, front)} for u in uniform]
    for row in per_width:
        row["match_label"] = front[row["match"]]["label"] if row["match"] is not None else None
    best = max(range(len(uniform)), key=lambda i: (uniform[i]["accuracy"], -uniform[i]["ebops"]),
               default=None)
    uniform_front = pareto_indices([p["accuracy"] for p in uniform], [p["ebops"] for p in uniform])
    return {"hgq_front": front, "uniform_front_labels": [uniform[i]["label"] for i in uniform_front],
            "matched": per_width, "headline": per_width[best] if best is not None else None}


def run_plan(plan: Plan, split: Split, cfg: StudyConfig, workdir: str) -> tuple[dict, list[Trained]]:
    """The whole study for one architecture: JSON results and the calibrated HGQ front models."""
    t0 = time.perf_counter()
    hgq_models, hgq_run = train_hgq(plan, split, cfg, workdir)
    uniform_models = [train_uniform(plan, split, cfg, b) for b in cfg.uniform_bits]
    hgq_points = [m.point() for m in hgq_models]
    uniform_points = [m.point() for m in uniform_models]
    result = {
        "architecture": plan.arch.describe(split.image_shape),
        "n_train": len(train_data(split, plan)[0]),
        "hgq_run": hgq_run,
        "hgq_points": hgq_points,
        "uniform_points": uniform_points,
        **compare(hgq_points, uniform_points),
        "target_ratio": TARGET_RATIO.get(plan.arch.name),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    front_labels = {p["label"] for p in result["hgq_front"]}
    return result, sorted((m for m in hgq_models if m.label in front_labels), key=lambda m: m.ebops)


def run(split: Split, cfg: StudyConfig, workdir: str, log=print) -> tuple[dict, dict[str, list[Trained]]]:
    """Run the study for every plan of ``cfg``.

    Returns:
        ``(results, fronts)``: the JSON section, and per architecture name the calibrated HGQ
        front models sorted by EBOPs (for :mod:`bench.studies.exactness.run`).
    """
    results = {"dataset": split.describe(), "config": cfg.describe(), "architectures": {}}
    fronts = {}
    for plan in cfg.plans:
        log(f"resource study: {plan.arch.name} ({plan.arch.describe(split.image_shape)}), "
            f"{plan.epochs} epochs per run")
        res, models = run_plan(plan, split, cfg, workdir)
        results["architectures"][plan.arch.name] = res
        fronts[plan.arch.name] = models
        h = res["headline"]
        ratio = "n/a" if h is None or h["ratio"] is None else f"{h['ratio']:.1f}x"
        log(f"  {len(res['hgq_front'])} HGQ front models, {len(res['uniform_points'])} uniform; "
            f"EBOPs ratio at matched accuracy {ratio} ({res['seconds']:.0f} s)")
    return results, fronts

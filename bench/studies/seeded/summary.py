"""The statistics of the seeded study over its trainings' records (see :mod:`bench.studies.seeded.run`):
per uniform configuration the mean and spread over seeds and the matched-accuracy ratio, per HGQ2
start its ratio against our front and the front-wide comparison (for each HGQ2 front point, our
cheapest point at least as accurate: :func:`bench.common.pareto.front_comparison`); all matched on
validation accuracy only."""

from __future__ import annotations

import math
from typing import Sequence

from bench.common.pareto import front_comparison, matched_ratio, pareto_indices, pooled_comparison

#: the configuration label of an HGQ2 training is this prefix and its start
HGQ2_PREFIX = "hgq2-"


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


def val_points(points: list[dict]) -> list[dict]:
    """The points with the calibrated validation accuracy as ``accuracy`` (for :mod:`bench.common.pareto`)."""
    return [{**p, "test_accuracy": p["accuracy"], "accuracy": p["calibrated_val_accuracy"]} for p in points]


def front_of(points: list[dict]) -> list[dict]:
    """The (validation accuracy, EBOPs) Pareto front of ``points``."""
    return [points[i] for i in pareto_indices([p["accuracy"] for p in points], [p["ebops"] for p in points])]


def summarise_hgq2(records: list[dict], fronts: dict[int, list[dict]]) -> dict:
    """Per HGQ2 start: its fronts per seed and the ratio HGQ2 EBOPs / ours at the validation
    accuracy of its most accurate front model, per seed and as mean +- SE (see the module docstring)."""
    out = {}
    for r in records:
        init = r["config"][len(HGQ2_PREFIX):]
        entry = out.setdefault(init, {"fronts": {}, "per_seed": {}})
        front = front_of(val_points(r["points"]))
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
    for r in records:   # the front-wide comparison: every HGQ2 front point against our front
        init, seed = r["config"][len(HGQ2_PREFIX):], r["seed"]
        if seed in fronts and out[init]["fronts"][str(seed)]:
            out[init].setdefault("front_per_seed", {})[str(seed)] = front_comparison(
                out[init]["fronts"][str(seed)], fronts[seed])
    for entry in out.values():
        entry["front_comparison"] = pooled_comparison(entry.get("front_per_seed", {}))
        ratios = [m["ratio"] for m in entry["per_seed"].values() if m["ratio"] is not None]
        entry["ratio"] = mean_se(ratios)
        entry["seeds_matched"], entry["seeds"] = len(ratios), len(entry["per_seed"])
        back = [m["at_ours_best"]["ratio"] for m in entry["per_seed"].values() if m["at_ours_best"]["ratio"]]
        entry["ratio_at_ours_best"], entry["seeds_matched_at_ours_best"] = mean_se(back), len(back)
        entry["best_val_accuracy"] = mean_std([m["target_accuracy"] for m in entry["per_seed"].values()])
        entry["best_test_accuracy"] = mean_std([m["hgq2_test_accuracy"] for m in entry["per_seed"].values()])
        # a start that did not train: its most accurate model has 0 EBOPs (constant outputs) on every seed
        entry["untrained"] = bool(entry["per_seed"]) and all(m["reference_ebops"] == 0
                                                             for m in entry["per_seed"].values())
    return out


def summarise_arch(records: list[dict], seeds: Sequence[int]) -> dict:
    """The seeded summary of one architecture from its task records (see the module docstring)."""
    hgq = {r["seed"]: val_points(r["points"]) for r in records if r["config"] == "hgq"}
    fronts = {s: front_of(pts) for s, pts in hgq.items()}
    uniform: dict[str, dict[int, dict]] = {}
    for r in records:
        if r["config"] != "hgq" and not r["config"].startswith(HGQ2_PREFIX):
            uniform.setdefault(r["config"], {})[r["seed"]] = val_points(r["points"])[0]
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
    # HGQ2's better start: the one whose best model is more accurate (a start that stays at chance
    # accuracy shows nothing about cost)
    better = max((i for i in hgq2 if hgq2[i]["best_val_accuracy"]["mean"] is not None),
                 key=lambda i: hgq2[i]["best_val_accuracy"]["mean"], default=None)
    return {"seeds": list(seeds), "hgq_fronts": {str(s): f for s, f in sorted(fronts.items())},
            "hgq_front_size": mean_std([len(f) for f in fronts.values()]), "uniform": configs,
            "headline_config": headline, "headline_ratio": configs[headline]["ratio"] if headline else None,
            "hgq2": hgq2, "hgq2_headline_init": better,
            "hgq2_headline_ratio": hgq2[better]["ratio"] if better else None}

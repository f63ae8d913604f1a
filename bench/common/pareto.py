"""Pareto fronts of (accuracy, EBOPs) points and the EBOPs ratio at matched accuracy.

Pure functions on plain numbers, so the headline figure of the resource study is easy to test and
to recompute from results.json.
"""

from __future__ import annotations

import math
from typing import Sequence

from hgq_fpga.pareto import pareto_indices  # noqa: F401 - re-exported for the bench modules


def smallest_reaching(accuracy: Sequence[float], ebops: Sequence[float], target: float) -> int | None:
    """Index of the lowest-EBOPs point with accuracy ``>= target``, or None if none reaches it."""
    best = None
    for i, (a, e) in enumerate(zip(accuracy, ebops)):
        if a >= target and (best is None or e < ebops[best]):
            best = i
    return best


def standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on ``n`` images."""
    if n < 1:
        raise ValueError(f"need at least one image, got {n}")
    return (accuracy * (1 - accuracy) / n) ** 0.5


def matched_ratio(reference: dict, candidates: Sequence[dict], tolerance: float = 0.0) -> dict:
    """How many times fewer EBOPs the candidates need to match ``reference``'s accuracy.

    Args:
        reference: a point ``{"accuracy", "ebops", ...}`` (a uniform model).
        candidates: points of the same form (the HGQ front).
        tolerance: how far (as a fraction, e.g. one standard error) below the reference's accuracy a
            candidate may be and still count as matching it; 0 is the strict comparison.

    Returns:
        ``{"target_accuracy" (the reference's), "required_accuracy" (less the tolerance),
        "reference_ebops", "match": candidate index or None,
        "match_accuracy", "match_ebops", "ratio"}``; ``ratio = reference EBOPs / match EBOPs``,
        None where no candidate reaches the accuracy.
    """
    acc = [float(c["accuracy"]) for c in candidates]
    ebo = [float(c["ebops"]) for c in candidates]
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    required = float(reference["accuracy"]) - tolerance
    i = smallest_reaching(acc, ebo, required)
    out = {"target_accuracy": float(reference["accuracy"]), "required_accuracy": required,
           "reference_ebops": float(reference["ebops"]),
           "match": i, "match_accuracy": None, "match_ebops": None, "ratio": None}
    if i is not None:
        out.update(match_accuracy=acc[i], match_ebops=ebo[i],
                   ratio=float(reference["ebops"]) / ebo[i] if ebo[i] > 0 else None)
    return out


def front_comparison(references: Sequence[dict], ours: Sequence[dict]) -> dict:
    """For each reference point (a point of HGQ2's front), our cheapest point at least as accurate.

    Args:
        references: points ``{"accuracy", "ebops", ...}`` (one seed of the peer's front).
        ours: points of the same form (our front, or all our points: the cheapest match is the same).

    Returns:
        ``{"points": [{"accuracy", "reference_ebops", "match_ebops", "ratio"}], "matched",
        "cheaper", "n", "log_ratio_sum", "reference_best", "ours_best", "zero_ebops"}``: ``ratio`` =
        the reference's EBOPs over ours (None where none of ours is as accurate: it counts as not
        cheaper); ``cheaper`` counts ratios above 1; ``log_ratio_sum`` sums ``ln(ratio)`` over the
        matched points (for a geometric mean over several seeds); ``*_best`` are the best accuracies.

    A point of 0 EBOPs multiplies nothing (every weight pruned: its outputs are constants), so it
    has no cost to compare by ratio; such points of either side are left out of the comparison,
    and ``zero_ebops`` counts the reference's.
    """
    refs = [p for p in references if float(p["ebops"]) > 0]
    live = [p for p in ours if float(p["ebops"]) > 0]
    points, cheaper, logs = [], 0, 0.0
    for ref in sorted(refs, key=lambda p: p["ebops"]):
        m = matched_ratio(ref, live)
        points.append({"accuracy": m["target_accuracy"], "reference_ebops": m["reference_ebops"],
                       "match_ebops": m["match_ebops"], "ratio": m["ratio"]})
        if m["ratio"] is not None:
            logs += math.log(m["ratio"])
            cheaper += m["ratio"] > 1
    return {"points": points, "n": len(points), "matched": sum(p["ratio"] is not None for p in points),
            "cheaper": cheaper, "log_ratio_sum": logs,
            "reference_best": max((float(p["accuracy"]) for p in references), default=None),
            "ours_best": max((float(p["accuracy"]) for p in ours), default=None),
            "zero_ebops": len(references) - len(refs)}


def pooled_comparison(per_seed: dict[str, dict]) -> dict:
    """:func:`front_comparison` of several seeds pooled: the geometric mean of the EBOPs ratios over
    every matched point of every seed, the share of all reference points where ours is cheaper
    (an unmatched point is not), and the seeds where our best accuracy reaches the reference's."""
    n = sum(c["n"] for c in per_seed.values())
    matched = sum(c["matched"] for c in per_seed.values())
    logs = sum(c["log_ratio_sum"] for c in per_seed.values())
    best = [s for s, c in per_seed.items() if c["ours_best"] is not None and c["reference_best"] is not None
            and c["ours_best"] >= c["reference_best"]]
    return {"points": n, "matched": matched, "geomean_ratio": math.exp(logs / matched) if matched else None,
            "zero_ebops": sum(c.get("zero_ebops", 0) for c in per_seed.values()),
            "share_cheaper": sum(c["cheaper"] for c in per_seed.values()) / n if n else None,
            "seeds": sorted(per_seed), "seeds_best_reached": sorted(best)}

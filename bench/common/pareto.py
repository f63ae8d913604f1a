"""Pareto fronts of (accuracy, EBOPs) points and the EBOPs ratio at matched accuracy.

Pure functions on plain numbers, so the headline figure of the resource study is easy to test and
to recompute from results.json.
"""

from __future__ import annotations

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

"""The (accuracy, EBOPs) trade-off of a training run: the Pareto front and the choice of one model.

HGQ training with a rising β walks from accurate-and-large to small-and-less-accurate models;
:class:`hgq_fpga.nn.callbacks.ParetoCheckpoint` keeps every model that no other beats on both numbers.
This module holds the dominance test that every front uses, turns a front into plain data (for
reports and JSON) and picks the model to deploy: the smallest one whose accuracy is within a
tolerance of the best. Pure Python: the Keras side, the reports and the benchmarks all use it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

_EPOCH = re.compile(r"epoch(\d+)")


def covers(metric_a: float, cost_a: float, metric_b: float, cost_b: float,
           higher_is_better: bool = True) -> bool:
    """Whether point ``a`` is at least as good as ``b`` on both axes: its metric as good or better
    and its cost (EBOPs) no larger. A point that another covers adds nothing to a front."""
    as_good = metric_a >= metric_b if higher_is_better else metric_a <= metric_b
    return as_good and cost_a <= cost_b


def pareto_indices(accuracy: Sequence[float], ebops: Sequence[float]) -> list[int]:
    """Indices of the points that no other point beats (accuracy at least as high and EBOPs at most
    as large, one of them strictly), sorted by increasing EBOPs. Exact duplicates keep the first."""
    if len(accuracy) != len(ebops):
        raise ValueError(f"{len(accuracy)} accuracies but {len(ebops)} EBOPs values")
    keep = []
    for i, (a, e) in enumerate(zip(accuracy, ebops)):
        dominated = False
        for j, (b, f) in enumerate(zip(accuracy, ebops)):
            if j == i:
                continue
            if covers(b, f, a, e) and (b > a or f < e or j < i):
                dominated = True
                break
        if not dominated:
            keep.append(i)
    return sorted(keep, key=lambda i: (ebops[i], -accuracy[i]))


@dataclass
class ParetoPoint:
    """One checkpoint on the front: its validation metric, its training-time EBOPs and its file."""

    metric: float
    ebops: float
    path: str = ""
    epoch: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def front_from_checkpoint(front: Iterable[tuple[float, float, str]]) -> list[ParetoPoint]:
    """Points from ``ParetoCheckpoint.front`` (``(metric, ebops, path)`` tuples), by EBOPs."""
    points = []
    for metric, ebops, path in front:
        match = _EPOCH.search(Path(path).name)
        points.append(ParetoPoint(float(metric), float(ebops), str(path),
                                  int(match.group(1)) if match else None))
    return sorted(points, key=lambda p: p.ebops)


def front_from_dicts(items: Sequence[dict], metric: str = "metric") -> list[ParetoPoint]:
    """Points from JSON data: a list of objects with a numeric ``metric`` (or the key named by
    ``metric``, e.g. a sweep's ``val_accuracy``) and ``ebops``; the file is ``path`` or ``checkpoint``."""
    points = []
    for n, item in enumerate(items):
        try:
            points.append(ParetoPoint(float(item[metric]), float(item["ebops"]),
                                      str(item.get("path") or item.get("checkpoint") or ""), item.get("epoch")))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"Pareto point {n} needs numeric {metric!r} and 'ebops' fields, "
                             f"got {item!r}") from None
    return sorted(points, key=lambda p: p.ebops)


def choose(points: Sequence[ParetoPoint], tolerance: float = 0.01,
           higher_is_better: bool = True) -> ParetoPoint:
    """The smallest-EBOPs point whose metric is within ``tolerance`` of the best one.

    ``tolerance`` is absolute in the metric's unit: 0.01 on an accuracy means one percentage point.
    """
    if not points:
        raise ValueError("the Pareto front is empty: no checkpoint was saved during training")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if higher_is_better:
        best = max(p.metric for p in points)
        good = [p for p in points if p.metric >= best - tolerance]
    else:
        best = min(p.metric for p in points)
        good = [p for p in points if p.metric <= best + tolerance]
    return min(good, key=lambda p: (p.ebops, -p.metric if higher_is_better else p.metric))


def best_within(points: Sequence[ParetoPoint], budget: float, higher_is_better: bool = True) -> ParetoPoint:
    """The point with the best metric among those with EBOPs at most ``budget`` (the smaller
    EBOPs on a tie): "the best model under 20k EBOPs"."""
    within = [p for p in points if p.ebops <= budget]
    if not within:
        cheapest = min((p.ebops for p in points), default=None)
        raise ValueError(f"no Pareto point within {budget:g} EBOPs"
                         + ("" if cheapest is None else f" (the cheapest has {cheapest:g})"))
    sign = 1 if higher_is_better else -1
    return max(within, key=lambda p: (sign * p.metric, -p.ebops))

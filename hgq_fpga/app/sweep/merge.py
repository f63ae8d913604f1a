"""The merged Pareto front of a sweep: every calibrated checkpoint of every finished run.

Points are ``(validation accuracy, exact EBOPs)`` of the deployed models (see :mod:`.run`); the
front keeps those that no other point beats on both, and the model to deploy is picked with
:func:`hgq_fpga.pareto.choose` (smallest EBOPs within the tolerance of the best validation
accuracy). Test accuracies ride along for the report and never select anything.
``front.json`` and ``front.png`` are written beside ``runs/``, each by temp file + rename.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from hgq_fpga.pareto import ParetoPoint, choose, pareto_indices

from hgq_fpga.app.report.log_axis import log_scale
from hgq_fpga.app.sweep.run import RUNS, read_result
from hgq_fpga.folders import write_file

METRIC = "val_accuracy"
FRONT_JSON = "front.json"
FRONT_PLOT = "front.png"


def non_dominated(points: Sequence[dict], metric: str = METRIC) -> list[dict]:
    """The points that no other beats (``metric`` at least as high and ``ebops`` at most as large,
    one strictly), by increasing EBOPs; of exact duplicates the first is kept."""
    return [points[i] for i in pareto_indices([p[metric] for p in points], [p["ebops"] for p in points])]


def collect(out_dir: Path, names: Sequence[str]) -> list[dict]:
    """Every calibrated point of the finished runs ``names``, tagged with its run; checkpoint
    paths relative to the sweep folder."""
    points = []
    for name in names:
        record = read_result(Path(out_dir) / RUNS / name)
        for p in record["points"]:
            points.append({**p, "run": name, "seed": record["settings"]["seed"],
                           "checkpoint": f"{RUNS}/{name}/{p['checkpoint']}"})
    return points


def merged_front(points: Sequence[dict], tolerance: float) -> dict:
    """``{"metric", "tolerance", "points", "front", "chosen"}`` of ``points`` (``chosen`` is None
    when there are none)."""
    front = non_dominated(points)
    chosen = None
    if front:
        candidates = [ParetoPoint(p[METRIC], p["ebops"], p["checkpoint"], p.get("epoch")) for p in front]
        pick = choose(candidates, tolerance)
        chosen = front[candidates.index(pick)]
    return {"metric": f"{METRIC} (calibrated model)", "metric_key": METRIC, "ebops": "exact (calibrated model)",
            "tolerance": tolerance, "points": list(points), "front": front, "chosen": chosen}


def front_figure(merged: dict, title: str = "sweep"):
    """The figure of :func:`plot` (a matplotlib ``Figure``, no pyplot): every run's points, one colour
    per run, the legend naming each run (its folder name: the settings that set it apart), and the
    merged front as a step line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    runs = sorted({p["run"] for p in merged["points"]})
    cmap = colormaps["tab10" if len(runs) <= 10 else "viridis"]
    for n, run in enumerate(runs):
        pts = [p for p in merged["points"] if p["run"] == run]
        color = cmap(n % 10) if len(runs) <= 10 else cmap(n / max(len(runs) - 1, 1))
        ax.scatter([p["ebops"] for p in pts], [100 * p[METRIC] for p in pts], s=14, alpha=0.6,
                   color=color, label=run if len(runs) <= 10 else None)
    front = merged["front"]
    if front:
        ax.step([p["ebops"] for p in front], [100 * p[METRIC] for p in front], where="post", color="black",
                lw=1.5, label="merged front")
        c = merged["chosen"]
        ax.scatter([c["ebops"]], [100 * c[METRIC]], marker="*", s=150, color="red", zorder=5,
                   label=f"chosen ({c['run']})")
    log_scale(ax)
    ax.set_xlabel("EBOPs (exact, calibrated)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(f"{title}: {len(runs)} runs, {len(merged['points'])} checkpoints")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", title="run" if len(runs) <= 10 else None, title_fontsize=7)
    fig.tight_layout()
    return fig


def plot(merged: dict, path: Path, title: str = "sweep") -> Path | None:
    """Write :func:`front_figure` to ``path``; nothing (None) when no run has a point: an empty
    figure says nothing."""
    if not merged["points"]:
        return None
    fig = front_figure(merged, title)
    write_file(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"), replace=True)
    return path


def write(out_dir: Path, names: Sequence[str], tolerance: float, title: str = "sweep") -> dict:
    """Merge the finished runs ``names``; write ``front.json`` and, when a run finished, ``front.png``
    (an earlier one is removed when none did: a figure without points says nothing); return the merge."""
    out_dir = Path(out_dir)
    merged = merged_front(collect(out_dir, names), tolerance)

    def dump(tmp: str) -> None:
        with open(tmp, "w") as fh:
            json.dump(merged, fh, indent=1)

    write_file(out_dir / FRONT_JSON, dump, replace=True)
    if plot(merged, out_dir / FRONT_PLOT, title) is None:
        (out_dir / FRONT_PLOT).unlink(missing_ok=True)
    return merged

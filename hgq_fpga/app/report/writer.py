"""Write ``report.json``, ``report.md`` and the PNG figures of one design.

The numbers come from two places only: the firmware IR (bit widths, EBOPs, latency; see
:mod:`hgq_fpga.app.report.stats`) and the design's manifest (board, verification results,
accuracy, the training's Pareto front, and the synthesis figures of its projects, set beside the
estimates).
"""

from __future__ import annotations

import json
from pathlib import Path

from hgq_fpga.app.report import plots
from hgq_fpga.app.report.latency import estimate_latency
from hgq_fpga.app.report.markdown import metric_label, render_markdown
from hgq_fpga.app.report.stats import DesignStats, summarize
from hgq_fpga.app.report.synthesis import sections
from hgq_fpga.app.report.timing import timing_record
from hgq_fpga.folders import move_into_place, observe, staging_folder
from hgq_fpga.pareto import front_from_dicts

#: run-record keys copied into the report as they are
RUN_KEYS = ("name", "board", "created", "hgq_fpga_version", "metrics", "verification", "checks", "training",
            "classification", "input_image", "profile")


#: the report's JSON, the source of the Markdown
REPORT_FILE = "report.json"


def _training_figure(training: dict, path: Path) -> Path | None:
    points = front_from_dicts(training.get("front") or [])
    if not points:
        return None
    chosen = training.get("chosen")
    return plots.plot_pareto(
        points, path, chosen=front_from_dicts([chosen])[0] if chosen else None,
        epochs=[tuple(e) for e in training.get("epochs") or []],
        metric_name=metric_label(training.get("metric", "val_accuracy")),
        deployed=tuple(training["deployed"]) if training.get("deployed") else None,
        ebops_label="EBOPs (exact, calibrated)" if training.get("ebops_exact") else None)


def _figures(stats: DesignStats, run: dict, synthesis: dict, timing: dict | None, out: Path) -> dict[str, str]:
    """Draw every figure the data allows; ``{title: file name}`` of those drawn (a figure with
    nothing to show returns None and is left out)."""
    classification, training, image = run.get("classification"), run.get("training"), run.get("input_image")
    figures = {
        "Bit-width distributions": plots.plot_bit_widths(stats, out / "bit_widths.png"),
        "Weight bit widths (heat map)": plots.plot_weight_heatmaps(stats, out / "weight_heatmap.png"),
        "EBOPs per layer": plots.plot_ebops(stats, out / "ebops.png"),
        "First-layer weight bits as images of the input":
            image and plots.plot_unit_images(stats, image, out / "first_layer_units.png"),
        "Pareto front of the training run": training and _training_figure(training, out / "pareto.png"),
        "ROC curve per class (background rejection against signal efficiency)":
            classification and plots.plot_roc(classification, out / "roc.png"),
        "Firmware outputs against the reference model":
            classification and plots.plot_outputs(classification, out / "outputs.png"),
        "Profile: weights and activations against the chosen types":
            run.get("profile") and plots.plot_profile(run["profile"], out / "profile.png"),
        "Synthesis beside the estimates": synthesis and plots.plot_synthesis(synthesis, out / "synthesis.png"),
        "Timing estimate: adder levels per pipeline stage": timing and plots.plot_timing(timing, out / "timing.png"),
    }
    return {title: Path(p).name for title, p in figures.items() if p}


def write_report(fw, out_dir: str | Path, run: dict | None = None) -> dict:
    """Write the report of firmware ``fw`` into ``out_dir``; return the report data.

    Args:
        fw: the :class:`~hgq_fpga.ir.FirmwareModel`.
        out_dir: folder for ``report.json``, ``report.md`` and the PNGs. It is written in one
            step; an existing folder is replaced only if it holds an earlier report.
        run: the manifest (``name``, ``board``, ``metrics``, ``verification``, ``training``,
            ``synthesis`` figures by backend, ...).
    """
    run = dict(run or {})
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"report folder {out} is a file; give a folder (new, or one that holds "
                              "an earlier report)")
    seen = observe(out)
    if seen.exists and not seen.empty and not is_report_folder(out):
        raise FileExistsError(f"report folder {out} exists and holds no earlier report (no "
                              f"{REPORT_FILE}); refusing to write into it: give a new folder")
    with staging_folder(out) as staging:
        data = _write(fw, staging, run)
        move_into_place(staging, out, seen=seen, ours=is_report_folder, force=True)
    return data


def is_report_folder(path: Path) -> bool:
    """Whether ``path`` holds a report that :func:`write_report` wrote."""
    try:
        doc = json.loads((Path(path) / REPORT_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "design" in doc and "figures" in doc


def _write(fw, out: Path, run: dict) -> dict:
    stats = summarize(fw)
    data = {key: run[key] for key in RUN_KEYS if key in run}
    data["design"] = stats.to_dict()
    board = run.get("board") or {}
    if board.get("clock_period_ns"):
        data["design"]["latency_estimate"] = estimate_latency(
            stats.latency_adder_levels, board["clock_period_ns"], board.get("clock_uncertainty"))
    synthesis = sections(run.get("synthesis"), stats.ebops, stats.latency_adder_levels)
    if synthesis:
        data["synthesis"] = synthesis
    timing = timing_record((run.get("backends") or {}).get("rtl"), (run.get("synthesis") or {}).get("rtl"))
    if timing:
        data["timing"] = timing
    data["figures"] = _figures(stats, run, synthesis, timing, out)
    (out / REPORT_FILE).write_text(json.dumps(data, indent=1) + "\n")
    (out / "report.md").write_text(render_markdown(data))
    return data

"""Render BENCHMARKS.md from results.json: every number in the document is read from the record.

``python -m bench`` calls :func:`write` at the end of a run; ``python -m bench.report`` re-renders
the document (and the plots) from an existing results.json without running anything.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import pareto, plots, studies
from .results import flatten, load

HERE = Path(__file__).resolve().parent
DEFAULT_RESULTS = HERE / "results.json"
DEFAULT_MARKDOWN = HERE.parent / "BENCHMARKS.md"


# ------------------------------------------------------------------------------ formatting
def fmt_int(v: Any) -> str:
    """``1234567`` → ``1,234,567``; ``None`` → ``n/a``."""
    return "n/a" if v is None else f"{int(round(v)):,}"


def fmt_pct(v: Any) -> str:
    """An accuracy in [0, 1] as a percentage with two decimals."""
    return "n/a" if v is None else f"{100 * v:.2f} %"


def fmt_ratio(v: Any) -> str:
    """A ratio as ``5.3×``."""
    return "n/a" if v is None else f"{v:.2f}×"


def fmt_num(v: Any) -> str:
    """Any scalar, compactly: ints with separators, floats with 4 significant digits."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"
    return str(v)


def verdict(ok: Any) -> str:
    """✅ / ❌ / — for True / False / unknown."""
    return "—" if ok is None else ("✅" if ok else "❌")


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table (cells are already strings)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ sections
def _machine(m: dict) -> str:
    v = m.get("versions", {})
    rows = [("CPU", m.get("cpu")), ("cores (logical / usable by the run)",
                                     f"{m.get('logical_cores')} / {m.get('usable_cores')}"),
            ("RAM", f"{m.get('ram_gib')} GiB"), ("OS", m.get("os")), ("Python", m.get("python")),
            *((name, ver or "not installed") for name, ver in v.items()),
            ("C++ compiler", m.get("compiler") or "not found"), ("date", m.get("date")),
            ("load average at start (1/5/15 min)", ", ".join(map(str, m.get("load_average_at_start") or [])))]
    return "## Machine\n\n" + table(("", ""), rows)


def _headline(r: dict) -> str:
    rows = []
    for name, a in r["resource_study"]["architectures"].items():
        h = a.get("headline") or {}
        target = a.get("target_ratio")
        ok = None if target is None else (h.get("ratio") is not None and h["ratio"] >= target)
        rows.append((f"EBOPs ratio at matched accuracy, {name} ({a['architecture']})",
                     fmt_ratio(h.get("ratio")) + (_match_detail(h) if h else ""),
                     "≥ " + fmt_ratio(target) if target else "—", verdict(ok)))
        noisy = within_noise(a, r["resource_study"]["dataset"]["n_test"])
        if noisy is not None:
            rows.append((f"for reading the noise, not the target: the same ratio counting as a match any HGQ "
                         f"model within one standard error ({100 * noisy['tolerance']:.2f} points) of "
                         f"{noisy['label']}, {name}", fmt_ratio(noisy["ratio"]) + _match_detail(noisy),
                         "—", "—"))
    ex = r["exactness"]
    rows.append((f"mismatching output values, Keras = emulator = C sim, {ex['models_checked']} models "
                 f"× {fmt_int(ex['samples'])} test images", fmt_int(ex["mismatches"]), "0",
                 verdict(ex["mismatches"] == 0)))
    for t in r["speed"]["targets"]:
        target = "—" if t["target"] is None else f"{t['comparison']} {fmt_num(t['target'])}"
        rows.append((f"{t['benchmark']}: {t['what']}", fmt_num(t["measured"]), target, verdict(t["meets"])))
    return "## Headline\n\n" + table(("measure", "result", "target", ""), rows)


METHOD = """\
**HGQ.** One training run per architecture. `beta` (the weight of EBOPs in the loss) follows
`BetaScheduler.log_ramp` over the run; `ParetoCheckpoint` keeps every epoch on the (validation
accuracy, training EBOPs) front. Each kept checkpoint is loaded as a copy, calibrated with
`hgq_fpga.calibrate` on training images (which returns its exact EBOPs), and scored on the test set
in calibrated mode, i.e. exactly as the firmware computes. The front below is recomputed from those
exact numbers.

**Uniform baseline: how "fixed bits" is realised.** The same layers and quantizer, with every
quantizer at `granularity="per_tensor"`, its `f` variable made non-trainable and `beta = 0`. Before
every epoch a callback (`bench/uniform.py`) sets each tensor's single `f` so that its largest element
has exactly B bits: `f = B - 1 - i_max` for weights, `f = B - k - i_max` for activations (`k`,
`i_max` from the range seen so far). So every weight and every activation tensor is a B-bit
fixed-point type with one binary point per tensor. Calibration and EBOPs are the same as for HGQ;
elements that need fewer than B bits (small weights, narrow activations) are counted with the bits
they use, which flatters the baseline if anything.

**Ratio at matched accuracy.** For each uniform model: its EBOPs divided by the EBOPs of the smallest
model on the HGQ front whose test accuracy is at least as high. The headline uses the most accurate
uniform model. Both sides are trained with the same optimiser, learning rate, batch size, number of
epochs (per run), rounding (`RND`) and activation overflow (`SAT`), and both are selected on the
validation images: HGQ keeps its (validation accuracy, EBOPs) front, each uniform run keeps its
epoch with the best validation accuracy ("kept epoch" below). "n/a" means no HGQ model reached that
accuracy. At 2 to 4 bits this baseline is unstable: its steps follow each tensor's largest value and
nothing clips during training, so activation ranges grow, steps coarsen and the training loss runs
away (within a few epochs at 2 and 3 bits, where a kept epoch of 1 or 2 marks it). Those points are
weak baselines and flatter HGQ's ratios against them; the headline compares with the most accurate
uniform model, whose training loss falls steadily at 8 bits. Below the
headline ratio, for reading only, the same comparison counts as a match any HGQ model within one
binomial standard error of the reference's test accuracy: on a single seed the top of both fronts
is that noisy, so this row shows how much of the ratio the strict rule hides. The target is judged
on the strict ratio.
"""


def within_noise(arch: dict, n_test: int) -> dict | None:
    """The headline comparison with one binomial standard error of the reference's test accuracy as
    tolerance: :func:`bench.pareto.matched_ratio` plus ``label``, ``tolerance`` and ``match_label``.

    The strict headline is decided by noise when the fronts meet at the top; this shows how much of
    the ratio that noise hides. None when the study has no headline."""
    head = arch.get("headline")
    if not head:
        return None
    reference = {"accuracy": head["target_accuracy"], "ebops": head["reference_ebops"]}
    tolerance = pareto.standard_error(reference["accuracy"], n_test)
    front = arch["hgq_front"]
    out = pareto.matched_ratio(reference, front, tolerance)
    return {**out, "label": head["label"], "tolerance": tolerance,
            "match_label": None if out["match"] is None else front[out["match"]]["label"]}


def _match_detail(m: dict) -> str:
    """The two models behind a matched-accuracy ratio, or what no HGQ model reached."""
    if m["match_label"] is None:
        return (f" (no HGQ model reached {fmt_pct(m.get('required_accuracy', m['target_accuracy']))}; "
                f"{m['label']}: {fmt_pct(m['target_accuracy'])} at {fmt_int(m['reference_ebops'])} EBOPs)")
    return (f" ({m['label']}: {fmt_pct(m['target_accuracy'])} at {fmt_int(m['reference_ebops'])} EBOPs; "
            f"{m['match_label']}: {fmt_pct(m['match_accuracy'])} at {fmt_int(m['match_ebops'])})")


def _noise(arch: dict, n_test: int) -> str:
    """The binomial standard error of a test accuracy near the top of this architecture's fronts."""
    top = max(p["accuracy"] for p in arch["hgq_points"] + arch["uniform_points"])
    se = pareto.standard_error(top, n_test)
    return (f"A test accuracy near {fmt_pct(top)} on {fmt_int(n_test)} images has a standard error of "
            f"about {100 * se:.2f} percentage points, so near the top of the fronts \"at least as "
            "accurate\" is decided within that noise.")


def _warmup(plan: dict) -> str:
    w = plan.get("warmup_epochs", 0)
    return f"beta = 0 for the first {w} epoch(s), then " if w else ""


def _resource(r: dict, md_dir: Path, plot_dir: Path) -> str:
    rs = r["resource_study"]
    ds = rs["dataset"]
    cfg = rs["config"]
    parts = ["## Resource study: accuracy against EBOPs", METHOD,
             f"Data: {ds['name']}, {fmt_int(ds['n_train'])} training images available, "
             f"{fmt_int(ds['n_val'])} held out for validation (checkpoint selection), "
             f"{fmt_int(ds['n_test'])} test images. Adam, learning rate {cfg['learning_rate']}, batch "
             f"{cfg['batch_size']}; HGQ starts from {cfg['hgq_init_bits']}-bit weights and "
             f"{cfg['hgq_f_init']:g} fractional bits per activation; uniform widths "
             f"{', '.join(str(b) for b in cfg['uniform_bits'])} bits."]
    rel = os.path.relpath(plot_dir, md_dir)
    for name, a in rs["architectures"].items():
        plan = cfg["plans"][name]
        n_uniform = len(a["uniform_points"])
        parts.append(f"### {name}: {a['architecture']}\n\n"
                     f"{fmt_int(a['n_train'])} training images. HGQ: one run of {plan['epochs']} epoch(s), "
                     f"{_warmup(plan)}beta ramped from {plan['beta_start']:g} to {plan['beta_stop']:g} "
                     f"({a['hgq_run']['train_s']:.0f} s). Uniform: {plan['epochs']} epoch(s) for each of "
                     f"{n_uniform} widths ({n_uniform * plan['epochs']} epochs in all). The whole "
                     f"architecture took {a['seconds']:.0f} s. {_noise(a, ds['n_test'])}\n\n"
                     f"![{name}: accuracy against EBOPs]({Path(rel, plots.plot_name(name)).as_posix()})")
        parts.append("HGQ Pareto front (calibrated copies of the kept checkpoints):\n\n" + table(
            ("model", "epochs trained", "beta", "test accuracy", "exact EBOPs"),
            ((p["label"], p["epoch"], f"{p['beta']:.3g}", fmt_pct(p["accuracy"]), fmt_int(p["ebops"]))
             for p in a["hgq_front"])))
        by_label = {m["label"]: m for m in a["matched"]}
        parts.append("Uniform widths and the EBOPs ratio at matched accuracy:\n\n" + table(
            ("uniform model", "kept epoch", "test accuracy", "exact EBOPs", "smallest HGQ model as accurate",
             "its accuracy", "its EBOPs", "ratio"),
            ((p["label"], p.get("epoch", "n/a"), fmt_pct(p["accuracy"]), fmt_int(p["ebops"]),
              by_label[p["label"]]["match_label"] or "none",
              fmt_pct(by_label[p["label"]]["match_accuracy"]), fmt_int(by_label[p["label"]]["match_ebops"]),
              fmt_ratio(by_label[p["label"]]["ratio"])) for p in a["uniform_points"])))
    return "\n\n".join(parts)


def _speed(r: dict) -> str:
    parts = ["## Speed", "Each benchmark is a module of `bench/` with a `run(quick)` function; all "
             "timings are from this run on the machine above, and each comparison is a ratio of two "
             "timings taken in the same process."]
    rows = []
    for t in r["speed"]["targets"]:
        target = "—" if t["target"] is None else f"{t['comparison']} {fmt_num(t['target'])}"
        rows.append((t["benchmark"], t["what"], fmt_num(t["measured"]), target, verdict(t["meets"])))
    parts.append(table(("benchmark", "target", "measured", "required", ""), rows))
    for name, entry in r["speed"]["benchmarks"].items():
        if entry["status"] != "ok":
            parts.append(f"### {name}\n\n**{entry['status']}**: {entry.get('reason', '')}")
            continue
        flat = flatten(entry["result"])
        parts.append(f"### {name}\n\nran in {entry['seconds']:.1f} s\n\n" + table(
            ("quantity", "value"), ((k, fmt_num(v)) for k, v in flat.items())))
    return "\n\n".join(parts)


def _exactness(r: dict) -> str:
    ex = r["exactness"]
    rows = []
    for name, models in ex["architectures"].items():
        for m in models:
            rows.append((name, m["model"], fmt_int(m["ebops"]), fmt_pct(m["accuracy"]), fmt_int(m["samples"]),
                         fmt_int(m["keras_vs_emulator"]), fmt_int(m["emulator_vs_csim"]),
                         fmt_int(m["emulator_vs_csim_integer_build"]),
                         f"{m['csim_compile_s']:.1f}", f"{m['verify_s']:.1f}"))
    scope = "; ".join(f"{name}: {len(ex['architectures'][name])} of the {n} models on its HGQ front"
                      + ("" if ex["limits"].get(name) is None else ", spread over it")
                      for name, n in ex["front_sizes"].items())
    return ("## Exactness at scale\n\n"
            f"All {fmt_int(ex['samples'])} test images through the calibrated Keras model, the firmware "
            "emulator and the C simulation (g++, `ap_fixed`: the text HLS synthesises) of the generated HLS "
            f"project, compared value by value with `hgq_fpga.verify` ({scope}); then the C simulation's "
            "default build (multiply-accumulates on integer codes, what `prj.predict` runs) against the "
            "emulator. Total mismatching values: "
            f"**{fmt_int(ex['mismatches'])}**.\n\n" + table(
                ("arch", "model", "EBOPs", "accuracy", "images", "Keras ≠ emulator", "emulator ≠ C sim",
                 "emulator ≠ C sim (integer build)", "C sim compile (s)", "verify (s)"), rows))


MODE_NOTES = {
    "quick": ("Quick mode: the MLP only, a subset of the training images, fewer epochs, fewer uniform widths "
              "and one model in the exactness check. `make bench` runs the full study (MLP and CNN)."),
    "smoke": ("Smoke mode: tiny synthetic images, tiny models, one epoch. These numbers only show that "
              "the bench runs; they say nothing about HGQ."),
}


def render(results: dict, md_dir: Path, plot_dir: Path) -> str:
    """The whole BENCHMARKS.md text for ``results`` (plots are referenced relative to ``md_dir``)."""
    mode = results["mode"]
    intro = (f"# Benchmarks\n\nWritten by `{results['command']}` ({mode} mode) on {results['machine']['date']}; "
             f"the run took {results['wall_s'] / 60:.1f} minutes of wall time. Every number here is read "
             "from `bench/results.json` by `bench/report.py`; re-render with `python -m bench.report`.")
    if mode in MODE_NOTES:
        intro += "\n\n> " + MODE_NOTES[mode]
    parts = [intro, _headline(results), _machine(results["machine"]),
             _resource(results, md_dir, plot_dir), _speed(results), _exactness(results)]
    parts += studies.render_all(results.get("studies", {}), md_dir, plot_dir)
    return "\n\n".join(parts) + "\n"


def write(results: dict, markdown: Path = DEFAULT_MARKDOWN, plot_dir: Path = HERE) -> Path:
    """Draw the plots into ``plot_dir`` and write the markdown to ``markdown``."""
    markdown = Path(markdown)
    plots.write_all(results, plot_dir)
    markdown.write_text(render(results, markdown.resolve().parent, Path(plot_dir).resolve()))
    return markdown


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m bench.report``: re-render BENCHMARKS.md and the plots from results.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--markdown", type=Path, default=DEFAULT_MARKDOWN)
    parser.add_argument("--plots", type=Path, default=None, help="plot folder (default: next to results)")
    args = parser.parse_args(argv)
    out = write(load(args.results), args.markdown, args.plots or args.results.resolve().parent)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

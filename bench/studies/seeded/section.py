"""BENCHMARKS.md section of the seeded resource study (``python -m bench run seeded``): per
configuration the mean and spread over seeds, the matched-accuracy ratio as mean ± standard error
over seeds, chosen on validation only; the figure ``<arch>_hgq2.png`` of our fronts and HGQ2's.
The full study's section (:mod:`bench.studies.seeded_full.section`) uses the same :func:`body`."""

from __future__ import annotations

from bench.common.fmt import fmt_stat
from bench.common.plots import finished, log_scale, pyplot
from bench.studies import Page

ORDER = 44


def render(record: dict, page: Page) -> str:
    cfg = record["config"]
    lines = ["## Resource study over seeds (sweep engine)", "",
             f"Preset `{record['preset']}`, {len(cfg['seeds'])} seeds ({', '.join(map(str, cfg['seeds']))}), "
             f"{record['trainings']} trainings, {record['wall_seconds'] / 60:.1f} min wall on {record['cores']} "
             f"shared cores (load average at the end {record['load_average'][0]:.1f}). "
             f"Reduced from the full study: {record['reduced']}.", ""]
    lines += body(record, page)
    if record.get("failed") or record.get("missing"):
        lines += [f"Missing trainings: {', '.join(record.get('missing', []))}; failed: "
                  f"{', '.join(record.get('failed', {}))}.", ""]
    return "\n".join(lines)


def body(record: dict, page: Page, provisional: bool = False) -> list[str]:
    """The tables, verdicts and plots of a seeded record; ``provisional``: the record is part way,
    so the headline is among the configurations finished so far."""
    lines = ["Models are chosen and matched on the validation set only; test accuracies are reported. "
             "EBOPs are the exact counts of the calibrated models. Spreads: ± standard deviation over "
             "seeds; the ratio: ± standard error over the seeds that matched.", ""]
    so_far = " finished so far" if provisional else ""
    for arch, a in record["architectures"].items():
        if not a["hgq_fronts"]:
            continue
        lines += [f"**{arch}**: HGQ front size {fmt_stat(a['hgq_front_size'])} points.", ""]
        if a["uniform"]:
            lines += ["| configuration | val. accuracy % | test accuracy % | EBOPs | HGQ test acc. % within its EBOPs "
                      "| EBOPs ratio at matched val. accuracy | seeds matched |",
                      "|---|---|---|---|---|---|---|"]
        for label, c in a["uniform"].items():
            lines.append(f"| {label} | {fmt_stat(c['val_accuracy'], 100)} | "
                         f"{fmt_stat(c['test_accuracy'], 100)} | {fmt_stat(c['ebops'], digits=0)} | "
                         f"{fmt_stat(c['hgq_test_accuracy_within_its_ebops'], 100)} | "
                         f"{fmt_stat(c['ratio'], digits=2, spread='se')} | {c['seeds_matched']}/{c['seeds']} |")
        head = a.get("headline_ratio") or {}
        target = a.get("target_ratio")
        verdict = ("n/a" if head.get("mean") is None or target is None
                   else ("met" if head["mean"] >= target else "missed"))
        if provisional and verdict != "n/a":
            verdict += " so far"
        if a["uniform"]:
            lines += ["", f"Headline ({a['headline_config']}, the uniform configuration{so_far} with the best mean "
                      f"validation accuracy): {fmt_stat(head, digits=2, spread='se')}×"
                      + (f", target ≥ {target}× (mean): **{verdict}**." if target is not None else " (no target).")
                      , ""]
        lines += _hgq2_lines(arch, a, page)
    return lines


def _hgq2_lines(arch: str, a: dict, page: Page) -> list[str]:
    """The HGQ2 table (both starts), the verdict and the plot of both fronts, where HGQ2 ran."""
    hgq2 = a.get("hgq2") or {}
    if not hgq2:
        return []
    lines = ["HGQ2 0.2.0 on the same recipe (its own venv), each epoch's model rebuilt as ours and "
             "calibrated, so both sides' EBOPs are our exact count from the trained values (a weight is "
             "charged the bits its value needs; HGQ2's own count charges declared widths and biases). "
             "Ratio: HGQ2's EBOPs over ours at the validation accuracy of HGQ2's most accurate front "
             "model, same seed.", "",
             "| HGQ2 start | its best val. accuracy % | its test accuracy % | HGQ2 EBOPs ÷ ours at that "
             "accuracy (± SE) | seeds matched | HGQ2 EBOPs ÷ ours at *our* best val. accuracy | seeds matched |",
             "|---|---|---|---|---|---|---|"]
    for init, h in hgq2.items():
        # a start that did not train has 0 EBOPs at its best: no ratio to read
        ratio = "– (did not train)" if h.get("untrained") else fmt_stat(h["ratio"], digits=2, spread="se")
        lines.append(f"| {init} | {fmt_stat(h['best_val_accuracy'], 100)} | "
                     f"{fmt_stat(h['best_test_accuracy'], 100)} | "
                     f"{ratio} | {h['seeds_matched']}/{h['seeds']} | "
                     f"{fmt_stat(h.get('ratio_at_ours_best'), digits=2, spread='se')} | "
                     f"{h.get('seeds_matched_at_ours_best', 0)}/{h['seeds']} |")
    dead = [init for init, h in hgq2.items() if h.get("untrained")]
    if dead:
        lines += ["", "; ".join(f"HGQ2's {init} start did not train: its most accurate model has 0 EBOPs (nothing "
                                f"left to multiply: constant outputs) on every seed" for init in dead) + "."]
    best = a.get("hgq2_headline_init")
    if best:
        ratio = a["hgq2_headline_ratio"]
        h = hgq2[best]
        if ratio["mean"] is None:
            lines += ["", f"HGQ2's better start ({best}, the more accurate): our front reaches its best validation "
                      f"accuracy on none of the {h['seeds']} seeds: **HGQ2 is more accurate**.", ""]
        else:
            verdict = "ours needs fewer EBOPs" if ratio["mean"] > 1 else "HGQ2 needs fewer EBOPs"
            if h["seeds_matched"] < 2:
                verdict += ", on one seed only"
            lines += ["", f"HGQ2's better start ({best}, the more accurate): HGQ2's EBOPs are "
                      f"{fmt_stat(ratio, digits=2, spread='se')}× ours at matched validation accuracy "
                      f"({h['seeds_matched']}/{h['seeds']} seeds where our front reaches HGQ2's best): **{verdict}**.", ""]
    lines += _front_wide_lines(a)
    return lines + [f"![HGQ and HGQ2 fronts, {arch}]({page.link(f'{arch}_hgq2.png')})", ""]


def _zero_note(rows: dict) -> str:
    """Which starts' fronts had points of 0 EBOPs (constant outputs), left out of the comparison."""
    zero = {init: c.get("zero_ebops", 0) for init, c in rows.items() if c.get("zero_ebops")}
    if not zero:
        return ""
    return (" Points of 0 EBOPs (every weight pruned: constant outputs, at chance accuracy) have no cost to "
            "compare by ratio and are left out: " + ", ".join(f"{n} of HGQ2's {init} start" for init, n in zero.items())
            + ".")


def _front_wide_lines(a: dict) -> list[str]:
    """The front-wide comparison (every HGQ2 front point against our cheapest point at least as
    accurate on validation) per HGQ2 start, and the verdicts on its targets."""
    rows = {init: h["front_comparison"] for init, h in a["hgq2"].items() if h.get("front_comparison", {}).get("points")}
    if not rows:
        return []
    lines = ["**Across the whole front**: for each point of HGQ2's front (validation accuracy, exact EBOPs), our "
             "cheapest point that is at least as accurate on validation, same seed. The geometric mean of HGQ2's "
             "EBOPs over ours runs over the points we match; an HGQ2 point more accurate than any of ours counts "
             "as one where ours is not cheaper." + _zero_note(rows), "",
             "| HGQ2 start | HGQ2 front points (we match) | HGQ2 EBOPs ÷ ours, geometric mean | ours cheaper at | "
             "best val. accuracy per seed, ours / HGQ2 |", "|---|---|---|---|---|"]
    for init, c in rows.items():
        per = a["hgq2"][init]["front_per_seed"]
        best = "; ".join(f"seed {s}: {100 * v['ours_best']:.2f} / {100 * v['reference_best']:.2f} %"
                         for s, v in sorted(per.items()))
        geo = "n/a" if c["geomean_ratio"] is None else f"{c['geomean_ratio']:.2f}×"
        lines.append(f"| {init} | {c['points']} ({c['matched']}) | {geo} | {100 * c['share_cheaper']:.0f} % of its points "
                     f"| {best} |")
    targets = a.get("hgq2_targets")
    c = rows.get(targets["start"]) if targets else None
    if c:
        seeds = len(c["seeds"])
        checks = [(f"geometric mean ≥ {targets['geomean_ratio']}×", c["geomean_ratio"] is not None
                   and c["geomean_ratio"] >= targets["geomean_ratio"]),
                  (f"ours cheaper at ≥ {100 * targets['share_cheaper']:.0f} % of HGQ2's points",
                   c["share_cheaper"] >= targets["share_cheaper"]),
                  (f"our best validation accuracy ≥ HGQ2's on every seed ({len(c['seeds_best_reached'])}/{seeds})",
                   len(c["seeds_best_reached"]) == seeds)]
        lines += ["", f"Targets against HGQ2's {targets['start']} start: "
                  + "; ".join(f"{what}: **{'met' if ok else 'missed'}**" for what, ok in checks) + "."]
    return lines + [""]


def _figure(a: dict):
    """Validation accuracy against exact EBOPs: our HGQ fronts and HGQ2's, one marker per seed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = "osD^v<>"
    series = [("HGQ (ours)", a["hgq_fronts"], "C0")]
    series += [(f"HGQ2, {init} start", h["fronts"], f"C{k + 1}") for k, (init, h) in enumerate(a["hgq2"].items())]
    for label, fronts, colour in series:
        for k, (seed, front) in enumerate(sorted(fronts.items())):
            pts = sorted(front, key=lambda p: p["ebops"])
            ax.plot([p["ebops"] for p in pts], [100 * p["accuracy"] for p in pts], color=colour,
                    marker=markers[k % len(markers)], ms=4, lw=1,
                    label=f"{label}, seed {seed}")
    log_scale(ax)
    ratios = "; ".join(f"{init} start {fmt_stat(h['ratio'], digits=2, spread='se')}, "
                       f"matched on {h['seeds_matched']}/{h['seeds']} seeds" for init, h in a["hgq2"].items())
    ax.set_title(f"HGQ2 EBOPs ÷ ours at HGQ2's best validation accuracy\n{ratios}", fontsize=9)
    ax.set_xlabel("EBOPs (exact, calibrated; our count on both sides)")
    ax.set_ylabel("validation accuracy %")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return finished(fig)


def figures(record: dict, page: Page) -> dict:
    """``<arch>_hgq2.png`` for every architecture where HGQ2 ran."""
    return {f"{arch}_hgq2.png": _figure(a) for arch, a in record["architectures"].items()
            if a["hgq_fronts"] and a.get("hgq2")}


def problems(record: dict) -> list[str]:
    out = []
    if record.get("missing"):
        out.append(f"seeded: {len(record['missing'])} trainings missing")
    if record.get("failed"):
        out.append(f"seeded: {len(record['failed'])} trainings failed")
    if len(record["config"]["seeds"]) < 3:
        out.append("seeded: fewer than 3 seeds")
    return out

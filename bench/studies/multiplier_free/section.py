"""The multiplier-free weights study (issue 17; ``python -m bench run multiplier_free``): n-hot, FGQ
ternary and the adder cost against plain HGQ, in test accuracy, exact EBOPs, adders and Yosys LUTs.
"""

from __future__ import annotations

from bench.common.plots import log_scale, pyplot
from bench.studies import Page

ORDER = 41
#: the issue's goal: an n-hot (+ HGQ) model with this many times fewer LUTs than plain HGQ
GOAL = 1.5
_NEEDED = ("dataset", "architecture", "config", "methods", "comparison")


def problems(record: dict) -> list[str]:
    """Missing parts, a comparison without the HGQ reference, ratios inconsistent with their rows."""
    out = [f"missing {k!r}" for k in _NEEDED if k not in record]
    if out:
        return out
    comp = record["comparison"]
    rows = comp.get("methods", {})
    if "hgq" not in rows or not rows["hgq"].get("reaches"):
        out.append("comparison has no HGQ reference row")
        return out
    ref = rows["hgq"]
    for name, row in rows.items():
        if name not in record["methods"]:
            out.append(f"comparison row {name!r} has no method")
        if not row.get("reaches"):
            continue
        if row["accuracy"] < comp["target_accuracy"]:
            out.append(f"{name}: selected accuracy {row['accuracy']} below the target")
        if row["adders"] and abs(row["adder_ratio_vs_hgq"] - ref["adders"] / row["adders"]) > 1e-12:
            out.append(f"{name}: adder ratio does not match its row")
        if row.get("luts") and ref.get("luts") and abs(row["lut_ratio_vs_hgq"] - ref["luts"] / row["luts"]) > 1e-12:
            out.append(f"{name}: LUT ratio does not match its row")
    return out


def _fronts(record: dict, key: str) -> dict[str, list[dict]]:
    from hgq_fpga.pareto import pareto_indices
    out = {}
    for name, method in record["methods"].items():
        pts = method["points"]
        keep = pareto_indices([p["accuracy"] for p in pts], [p[key] for p in pts])
        out[name] = sorted((pts[i] for i in keep), key=lambda p: p[key])
    return out


def figures(record: dict, page: Page) -> dict:
    """``fronts.png``: test accuracy against adders and against exact EBOPs (log x), one front per
    method; the synthesised points' LUTs in a third panel."""
    plt = pyplot()
    synth = [(n, p) for n, m in record["methods"].items() for p in m["points"] if p.get("luts")]
    fig, axes = plt.subplots(1, 3 if synth else 2, figsize=(15 if synth else 11, 4.8), dpi=110, sharey=True)
    colour = dict(zip(record["methods"], plt.get_cmap("tab20").colors))
    panels = (("adders", "adders (CSD digits − 1 + trees)"), ("ebops", "exact EBOPs"))
    for ax, (key, label) in zip(axes, panels):
        for name, front in _fronts(record, key).items():
            style = "s--" if "adders" in name else ("^:" if "post" in name else "o-")
            ax.plot([max(p[key], 1) for p in front], [p["accuracy"] for p in front], style, ms=3, label=name,
                    color=colour[name])
        log_scale(ax)
        ax.set_xlabel(label + " (log scale)")
    for name, r in synth:
        axes[2].plot([r["luts"]], [r["accuracy"]], "o", ms=6, label=name, color=colour[name])
        axes[2].annotate(r["label"], (r["luts"], r["accuracy"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if synth:
        log_scale(axes[2])
        axes[2].set_xlabel("Yosys LUTs (every synthesised point; log scale)")
    target = record["comparison"]["target_accuracy"]
    for ax in axes:
        ax.axhline(target, color="grey", lw=0.8, ls=":")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("test accuracy (deployed model)")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"multiplier-free weights: {record['architecture']} on {record['dataset']['name']}")
    fig.tight_layout()
    return {"fronts.png": fig}


def _fmt(x, digits: int = 2) -> str:
    return "–" if x is None else (f"{x:,}" if isinstance(x, int) else f"{x:.{digits}f}")


def _best(rows: dict, key: str) -> tuple[str, dict] | None:
    have = [(n, r) for n, r in rows.items() if r.get("reaches") and r.get(key)]
    return min(have, key=lambda nr: nr[1][key]) if have else None


def answer(record: dict) -> str:
    """The issue's question answered from the comparison rows (what was measured, goal met or not)."""
    comp = record["comparison"]
    rows = comp["methods"]
    ref = rows["hgq"]
    lines = []
    best_add = _best(rows, "adders")
    if best_add:
        name, r = best_add
        lines.append(f"Fewest adders at matched accuracy: **{name}** ({r['label']}), {r['adders']:,} adders "
                     f"against HGQ's {ref['adders']:,}: **{r['adder_ratio_vs_hgq']:.2f}×** fewer, with "
                     f"{r['ebops'] / ref['ebops']:.2f}× HGQ's exact EBOPs ({r['ebops']:,} against "
                     f"{ref['ebops']:,}).")
    best_lut = _best(rows, "luts")
    if best_lut and ref.get("luts"):
        name, r = best_lut
        ratio = r["lut_ratio_vs_hgq"]
        nhot = {n: x for n, x in rows.items() if n.startswith("nhot") and x.get("reaches") and x.get("luts")}
        best_nhot = max(nhot.items(), key=lambda nx: nx[1]["lut_ratio_vs_hgq"]) if nhot else None
        lines.append(f"Fewest LUTs at matched accuracy: **{name}** ({r['label']}), {r['luts']:,} LUTs against "
                     f"HGQ's {ref['luts']:,}: **{ratio:.2f}×** fewer.")
        if best_nhot:
            n, x = best_nhot
            met = "met" if x["lut_ratio_vs_hgq"] >= GOAL else "**missed**"
            lines.append(f"Goal (an n-hot model with ≥ {GOAL}× fewer LUTs than plain HGQ at the same accuracy "
                         f"± one s.e.): {met}; the best n-hot point, {n} ({x['label']}), needs "
                         f"{x['lut_ratio_vs_hgq']:.2f}× fewer LUTs.")
        else:
            lines.append(f"Goal (≥ {GOAL}× fewer LUTs for an n-hot model): not measured, no n-hot point "
                         "was synthesised.")
        for c in record.get("comparisons", [])[1:]:
            lower = {n: x for n, x in c["methods"].items()
                     if n.startswith("nhot") and x.get("reaches") and x.get("lut_ratio_vs_hgq")}
            if lower:
                n, x = max(lower.items(), key=lambda nx: nx[1]["lut_ratio_vs_hgq"])
                met = "met" if x["lut_ratio_vs_hgq"] >= GOAL else "missed"
                lines.append(f"At HGQ's lower front model {c['hgq_reference']} ({c['hgq_best_accuracy']:.4f}, "
                             f"{c['methods']['hgq']['luts']:,} LUTs), {n} ({x['label']}, {x['accuracy']:.4f}) "
                             f"needs {x['luts']:,} LUTs: **{x['lut_ratio_vs_hgq']:.2f}×** fewer, the goal "
                             f"{met} at that accuracy.")
    else:
        lines.append(f"No LUTs were measured for the HGQ reference, so the issue's LUT goal (an n-hot model "
                     f"with ≥ {GOAL}× fewer LUTs than plain HGQ) is **not answered** by this record; it is "
                     "answered in adders only.")
    missed = [n for n, r in rows.items() if not r.get("reaches")]
    if missed:
        lines.append("Not reaching the matched accuracy at all: " + ", ".join(
            f"{n} (best {rows[n]['best_accuracy']:.4f})" for n in missed) + ".")
    return " ".join(lines)


def render(record: dict, page: Page) -> str:
    comp = record["comparison"]
    cfg = record["config"]
    ds = record["dataset"]
    plan = next(iter(cfg["plans"].values()))
    out = [
        "## Multiplier-free weights: n-hot, fine-grained ternary and the adder cost (issue 17)",
        "",
        f"{record['architecture']} on {ds['name']}: {ds['n_train']:,} training images, {ds['n_val']:,} "
        f"validation images (checkpoint selection), the official {ds['n_test']:,} test images (scores). "
        f"One seed ({cfg['seed']}); {plan['epochs']} epochs per run with the beta ramp "
        f"{plan['beta_start']:g} → {plan['beta_stop']:g}, Adam lr {cfg['learning_rate']:g}, batch "
        f"{cfg['batch_size']}. n-hot: {cfg['nhot_loose_epochs']} epochs of plain HGQ rounding, then n terms. "
        f"Ternary: FGQ groups of N along the input axis, α with {cfg['alpha_bits']} significant bits, "
        f"post-training on every HGQ front model, or the HGQ model with the best validation accuracy "
        f"fine-tuned {cfg['finetune_epochs']} epochs. `+adders<r>`: the adder-count cost "
        f"(`hgq_fpga.nn.adder_cost`) with `adder_gamma = r · beta` "
        f"({', '.join(f'{m} r = {r:g}' for m, r in cfg['gamma_runs'])}). "
        f"Every front model is calibrated and scored as deployed; LUTs: {cfg['yosys']}.",
        "",
        f"Matched accuracy: the most accurate HGQ front model ({comp['hgq_best_accuracy']:.4f}) less one "
        f"binomial standard error ({comp['standard_error']:.4f}): **{comp['target_accuracy']:.4f}**. "
        "Per method, the point with the fewest adders at or above it:",
        "",
        "| method | point | test accuracy ± s.e. | exact EBOPs | adders | Yosys LUTs | adders ÷ HGQ's "
        "| LUTs ÷ HGQ's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    n = comp["n_test"]
    for name, r in comp["methods"].items():
        if not r.get("reaches"):
            out.append(f"| {name} | – | best {r['best_accuracy']:.4f} (does not reach) | – | – | – | – "
                       "| – |")
            continue
        se = (r["accuracy"] * (1 - r["accuracy"]) / n) ** 0.5
        inv = lambda x: None if not x else 1 / x  # noqa: E731
        out.append(f"| {name} | {r['label']} | {r['accuracy']:.4f} ± {se:.4f} | {r['ebops']:,} | "
                   f"{r['adders']:,} | {_fmt(r.get('luts'))} | {_fmt(inv(r['adder_ratio_vs_hgq']))} | "
                   f"{_fmt(inv(r.get('lut_ratio_vs_hgq')))} |")
    out += ["", answer(record), ""]
    others = record.get("comparisons", [])[1:]
    if others:
        out += ["The same comparison at each lower HGQ front model's accuracy (less one s.e.): adders "
                "of each method's cheapest point reaching it, and HGQ's adders divided by them (and its "
                "Yosys LUTs, HGQ's LUTs divided by them, where both points were synthesised).", "",
                "| HGQ point (accuracy) | target | " + " | ".join(comp["methods"]) + " |",
                "|---|---|" + "---|" * len(comp["methods"])]
        for c in others:
            cells = []
            for name in comp["methods"]:
                r = c["methods"].get(name, {})
                lut = (f"; {r['luts']:,} LUTs, {r['lut_ratio_vs_hgq']:.2f}×" if r.get("reaches")
                       and r.get("lut_ratio_vs_hgq") else "")
                cells.append(f"{r['adders']:,} ({r['adder_ratio_vs_hgq']:.2f}×{lut})" if r.get("reaches") else "–")
            out.append(f"| {c['hgq_reference']} ({c['hgq_best_accuracy']:.4f}) | {c['target_accuracy']:.4f} | "
                       + " | ".join(cells) + " |")
        out.append("")
    out += [f"![multiplier-free fronts]({page.link('fronts.png')})", ""]
    synth = record.get("synthesis", {})
    if synth:
        out.append("Synthesis runs: " + "; ".join(
            f"{k} {v['luts']:,} LUTs (write {v['write_s']:g} s, Yosys {v['yosys_s']:g} s)"
            for k, v in synth.items()) + ".")
        out.append("")
    if record.get("reduced"):
        out += [f"**Reduced study.** {record['reduced']}", ""]
    if record.get("note"):
        out += [f"**This run.** {record['note']}", ""]
    return "\n".join(out)

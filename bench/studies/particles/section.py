"""BENCHMARKS.md section of the particle study (``python -m bench run particles``, issue 32): ours
against HGQ2 0.2.0 on the four reference architectures (the front-wide EBOPs comparison at matched
validation accuracy, each side's best accuracy, how low each front reaches), the exactness of HGQ2's own
paths to firmware beside ours, our RTL's hardware figures and alkaid's design of the same weights beside
them (ours ÷ alkaid LUTs against the goal of 0.9), and what the study has not run yet. Every number comes from the record."""

from __future__ import annotations

import numpy as np

from bench.common.fmt import fmt_pct, fmt_ratio, fmt_stat, table, verdict
from bench.common.plots import finished, log_scale, pyplot
from bench.studies import Page

ORDER = 47
DATASET_NAMES = {"jets": "toy jets (synthetic)", "fashion_mnist": "point-cloud Fashion-MNIST"}
#: what the study has not measured yet (issue 32's third part), until `--rtl` runs it
#: (``{rtl}``: :func:`rtl_command` of the record's preset)
NOT_YET = ("ours ÷ alkaid {alkaid} LUTs on the same weights: not run (`{rtl}` measures it beside our RTL)")
RTL_NOT_YET = ("our RTL's hardware figures (LUT / FF / DSP, latency, Yosys time) of the models: not run "
               "(`{rtl}` measures them)")


def rtl_command(preset: str) -> str:
    """The command that measures the RTL columns of a record of ``preset`` (quick is the default)."""
    return "python -m bench run particles " + ("" if preset == "quick" else f"--preset {preset} ") + "--rtl"


def _mismatch_cell(*checks: dict) -> str:
    """``values / compared`` of one comparison, or summed over several (our models' checks); any
    error is shown, never summed away."""
    errors = [c["error"] for c in checks if "error" in c]
    if errors:
        return f"failed ({'; '.join(errors)})"
    return f"{sum(c['values'] for c in checks):,} / {sum(c['compared'] for c in checks):,}"


def _data_name(dataset: str) -> str:
    """A data set's name in the section's words."""
    return DATASET_NAMES.get(dataset, dataset)


def _comparison_rows(arches: dict) -> list[tuple]:
    rows = []
    for arch, e in arches.items():
        c = e["front_comparison"]
        if not c["points"]:
            rows.append((arch, "not run", "", "", "", "", "", ""))
            continue
        best = f"{len(c['seeds_best_reached'])} / {len(c['seeds'])}"
        rows.append((arch, f"{c['matched']} / {c['points']}", fmt_ratio(c["geomean_ratio"]), fmt_pct(c["share_cheaper"]),
                     f"{fmt_stat(e['ours_best_val_accuracy'], 100)} / {fmt_stat(e['hgq2_best_val_accuracy'], 100)}",
                     f"{fmt_stat(e['ours_best_test_accuracy'], 100)} / {fmt_stat(e['hgq2_best_test_accuracy'], 100)}",
                     best, fmt_ratio(e.get("hgq2_count_ratio"))))
    return rows


def _variant(settings: dict) -> str:
    """A variant of our side in words, e.g. ``β × 4`` or ``start hgq_fpga-0.2``."""
    words = ([f"β × {settings['beta_scale']:g}"] if "beta_scale" in settings else [])
    return ", ".join(words + ([f"start {settings['start']}"] if "start" in settings else []))


def _scaled_rows(arches: dict) -> list[tuple]:
    rows = []
    for arch, e in arches.items():
        for name, sc in e.get("variants", {}).items():
            c = sc["front_comparison"]
            if not c["points"]:
                continue
            settings = {**sc["settings"], **({"start": "; ".join(sc["starts"])} if sc.get("starts") else {})}
            rows.append((arch, _variant(settings), f"{c['matched']} / {c['points']}", fmt_ratio(c["geomean_ratio"]),
                         fmt_pct(c["share_cheaper"]),
                         f"{fmt_stat(sc['best_val_accuracy'], 100)} / {fmt_stat(e['hgq2_best_val_accuracy'], 100)}",
                         f"{len(c['seeds_best_reached'])} / {len(c['seeds'])}"))
    return rows


def _firmware_rows(arches: dict) -> list[tuple]:
    rows = []
    for arch, e in arches.items():
        for seed, fw in e["firmware"].items():
            for tool in ("alkaid", "hls4ml"):
                t = fw.get(tool)
                if t is None:
                    continue
                if not t["ok"]:
                    rows.append((arch, seed, f"HGQ2 → {tool}", f"refused: {t['error']}", ""))
                else:
                    rows.append((arch, seed, f"HGQ2 → {tool}", _mismatch_cell(t["x"]), _mismatch_cell(t["x4"])))
        models = e["ours_exactness"]
        if models:
            rows.append((arch, _ours_models(models), "ours: Keras = emulator = C++",
                         *(_mismatch_cell(*(checks[key] for checks in models.values())) for key in ("x", "x4"))))
    return rows


def _ours_models(models: dict) -> str:
    """Our checked models of one architecture in words: ``0, 1, 2; 3 recipes, 9 models``."""
    parts = [name.partition(", ") for name in models]          # "0" or "0, beta4"
    seeds = sorted({seed for seed, _, _ in parts}, key=int)
    recipes = {recipe for _, _, recipe in parts}
    return (f"{', '.join(seeds)}"
            + (f"; {len(recipes)} recipes, {len(models)} models" if len(recipes) > 1 else ""))


def _cheapest(fronts: list[list[dict]]) -> tuple[float, float, list[int]]:
    """The median over seeds of each front's cheapest model: EBOPs, validation accuracy, and the
    epochs those models come from."""
    cheapest = [min(front, key=lambda p: p["ebops"]) for front in fronts if front]
    return (float(np.median([p["ebops"] for p in cheapest])),
            float(np.median([p["calibrated_val_accuracy"] for p in cheapest])), [p["epoch"] for p in cheapest])


def _low_end_rows(record: dict) -> list[tuple]:
    """Per data set and architecture: how low each side's front reaches (the median over seeds of its
    cheapest model), ours in the main recipe and in the β-multiplied supplement, and how many of our
    runs had their cheapest model in the last two epochs (the front still falling when training stops)."""
    last = record["config"]["epochs"] - 1
    rows = []
    for dataset, arches in record["results"].items():
        for arch, e in arches.items():
            seeds = e["per_seed"].values()
            if not seeds:
                continue
            ours = [("ours", [s["ours_front"] for s in seeds])]
            ours += [(_variant(v["settings"]), [s["ours_front"] for s in v["per_seed"].values()])
                     for v in e.get("variants", {}).values() if "beta_scale" in v["settings"] and v["per_seed"]]
            cells, ours_epochs = [], []
            for name, fronts in [("HGQ2", [s["hgq2_front"] for s in seeds]), *ours]:
                ebops, acc, epochs = _cheapest(fronts)
                cells.append(f"{name}: {ebops:,.0f} ({100 * acc:.1f} %)")
                if name != "HGQ2":
                    ours_epochs += epochs
            rows.append((_data_name(dataset), arch, "; ".join(cells),
                         f"{sum(ep >= last for ep in ours_epochs)} / {len(ours_epochs)}"))
    return rows


def _replaced(record: dict) -> str:
    return ("; including the earlier runs of architectures run again later"
            if record.get("run_seconds_includes_replaced") else "")


def render(record: dict, page: Page) -> str:
    return body(record, page, "Particle taggers: ours against HGQ2, and HGQ2's path to firmware")


def body(record: dict, page: Page, title: str, intro: str | None = None) -> str:
    """The section of a particle-study record under the heading ``title``, with an ``intro``
    paragraph first where given (the full study's section, :mod:`bench.studies.particles_full.section`,
    uses it too)."""
    cfg = record["config"]
    t = record["targets"]
    v = record["versions"]
    lines = [f"## {title}", ""] + ([intro, ""] if intro else []) + [
             f"Preset `{record['preset']}` on {record['date']} (left out of the full study: {record['reduced']}); "
             f"{len(record['runs_done'])} runs done, taking {record['run_seconds'] / 60:.1f} min (each run's own wall "
             f"time, summed; resumable over sittings{_replaced(record)}) on {record['cores']} shared cores (load average at the end {record['load_average'][0]:.1f}). "
             f"Both sides train the architectures of `examples/particles/models.py` (HGQ2 {v['hgq2']} from its own layers, "
             f"in its own venv) on the same events, {cfg['epochs']} epochs, batch {cfg['batch_size']}, Adam at "
             f"{cfg['learning_rate']}, β log-linear from {cfg['beta_start']:g} to {cfg['beta_stop']:g} (ours from the "
             f"quantizer start {', '.join(record.get('ours_starts', [])) or 'n/a'}, HGQ2 from its own), seeds "
             f"{', '.join(map(str, cfg['seeds']))}. Every HGQ2 epoch is rebuilt as our model and calibrated, so both "
             "sides are counted in our exact EBOPs. Each point of HGQ2's front (validation accuracy, EBOPs) is "
             "matched with our cheapest model at least as accurate on validation data; the ratio is HGQ2's "
             "EBOPs over ours (above 1: ours is cheaper), its geometric mean taken over HGQ2's front points and "
             "the seeds. Test accuracies are reported only. The last column is the geometric mean, over HGQ2's models, "
             "of HGQ2's own EBOPs count (the one its β multiplies in training; it charges declared widths, additions "
             "and biases) over ours of the same model: the same β weighs resources that many times harder on "
             "HGQ2's side.", ""]
    for dataset, arches in record["results"].items():
        particles = cfg["datasets"][dataset]["particles"]
        events = cfg["datasets"][dataset]["events"]
        lines += [f"**{_data_name(dataset)}**, {particles} particles, {events:,} events "
                  "(60 / 20 / 20 % training / validation / test).", "",
                  f"![fronts]({page.link(f'{dataset}_fronts.png')})", "",
                  table(("architecture", "HGQ2 front points matched", "HGQ2 ÷ ours EBOPs (geomean)",
                         "HGQ2 points where ours is cheaper", "best val. accuracy ours / HGQ2",
                         "its test accuracy ours / HGQ2", "seeds where our best ≥ HGQ2's",
                         "HGQ2's own EBOPs count ÷ ours, same models"), _comparison_rows(arches)),
                  ""]
        scaled = _scaled_rows(arches)
        if scaled:
            lines += ["Supplement, not the comparison the issue asks for: our side trained again with β multiplied "
                      "(HGQ2's β unchanged), or from another named start of our quantizers "
                      "(`hgq_fpga.nn.quantizers.starts`), against the same HGQ2 fronts.", "",
                      table(("architecture", "our variant", "HGQ2 front points matched", "HGQ2 ÷ ours EBOPs (geomean)",
                             "HGQ2 points where ours is cheaper", "best val. accuracy ours / HGQ2",
                             "seeds where our best ≥ HGQ2's"), scaled), ""]
    goals = []
    for dataset, arches in record["results"].items():
        for arch, e in arches.items():
            c = e["front_comparison"]
            if not c["seeds"]:
                continue
            # no HGQ2 point matched at all (ours never as accurate): a miss, not a blank
            ok = (c["geomean_ratio"] is not None and c["geomean_ratio"] >= t["geomean_ratio"]
                  and c["share_cheaper"] >= t["share_cheaper"] and len(c["seeds_best_reached"]) == len(c["seeds"]))
            goals.append(f"{arch} ({dataset}) {verdict(ok)}")
    low_end = _low_end_rows(record)
    if low_end:
        lines += ["**The low end of the fronts.** How low each front reaches: the median over seeds of the "
                  "cheapest model on it, EBOPs (validation accuracy). Where HGQ2's reaches lower than ours, its "
                  "points there have no cheaper model of ours to match. The last column counts our runs whose "
                  "cheapest model is from the last two epochs: there the front was still moving down when "
                  "training stopped, and how far it gets is set by β's pressure on our count (which the same β "
                  "presses less than HGQ2's, see its count ratio above) and by the epochs.", "",
                  table(("data", "architecture", "cheapest model on the front (median over seeds)",
                         "our runs cheapest in the last two epochs"), low_end), ""]
    lines += [f"Goal (issue 32): ours at most HGQ2's EBOPs across the front (every HGQ2 point matched by a cheaper "
              f"or equal model of ours) and at the top (our best validation accuracy at least HGQ2's on every seed): "
              + ("; ".join(goals) if goals else "nothing measured yet") + ". Misses are reported as measured.", ""]
    fw_rows = [(_data_name(dataset),) + r for dataset, arches in record["results"].items()
               for r in _firmware_rows(arches)]
    lines += ["**Exactness of the paths to firmware.** HGQ2's model (its most accurate on validation data) through "
              f"HGQ2's own routes: alkaid {v['alkaid']}'s HGQ2 converter (alkaid's interpreter of the traced logic) "
              f"and hls4ml {v['hls4ml']} (Vitis, io_parallel, its C++ compiled with g++), each compared with `==` "
              "against HGQ2's "
              "own Keras model (`predict`). Beside them, ours: the most accurate model of each of our runs (every "
              "seed, and the supplement's recipes too), Keras = emulator = C++ (the HLS C simulation), summed over "
              "those models. Output values that differ / values compared, on held-out (test) events "
              f"inside the range, and on four times them (overflow); {cfg['n_firmware']:,} events.", ""]
    ours = [check for arches in record["results"].values() for e in arches.values()
            for checks in e["ours_exactness"].values() for check in checks.values() if isinstance(check, dict)]
    bad = sum(c.get("values", 0) for c in ours) + sum("error" in c for c in ours)
    if ours:
        lines += [f"Ours: {'0 differing values in every check' if not bad else f'**{bad} differing values or errors: the exactness claim FAILS here**'}.", ""]
    lines += [table(("data", "architecture", "seeds", "path", "in range: differing / compared", "×4: differing / compared"),
                    fw_rows) if fw_rows else "Not run yet.", ""]
    rtl = [r for arches in record["results"].values() for e in arches.values() for r in e.get("rtl", {}).values()]
    rtl_rows = [(_data_name(dataset), arch, seed, f"{r['model']}", f"{r['ebops']:,}", f"{r['resources']['LUT']:,}", f"{r['resources']['FF']:,}",
                 f"{r['resources']['DSP']:,}", f"{r['latency_cycles']} ({r['latency_ns']:g} ns)", f"{r['yosys_s']:.0f}",
                 f"{r['mismatches']:,} / {r['compared']:,}")
                for dataset, arches in record["results"].items() for arch, e in arches.items()
                for seed, r in e.get("rtl", {}).items()]
    if rtl_rows:
        lines += ["**Our RTL** of the models above (Yosys, the project's script, LUT multipliers), the clock at "
                  f"{1000 / rtl[0]['clock_ns']:g} MHz; the Verilator simulation against the emulator on held-out "
                  "events.", "",
                  table(("data", "architecture", "seed", "model", "EBOPs", "LUT", "FF", "DSP", "latency, cycles",
                         "Yosys s", "RTL ≠ emulator / compared"), rtl_rows), "",
                  f"![LUTs against EBOPs]({page.link('lut_vs_ebops.png')})", ""]
    lines += _alkaid_lines(record)
    alkaid_done = any(e.get("alkaid") for arches in record["results"].values() for e in arches.values())
    rtl = rtl_command(record["preset"])
    not_yet = (([] if alkaid_done else [NOT_YET.format(rtl=rtl, **v)])
               + ([RTL_NOT_YET.format(rtl=rtl)] if not rtl_rows else []))
    if alkaid_done and record.get("alkaid_not_run"):
        not_yet.append(f"alkaid beside our RTL for {', '.join(record['alkaid_not_run'])} (`--rtl` resumes it)")
    if rtl_rows and record.get("rtl_not_run"):
        not_yet.append(f"our RTL of {', '.join(record['rtl_not_run'])} (`--rtl` resumes it)")
    not_run = list(record.get("not_run", []))
    lines += ["**Not measured yet.** " + ("; ".join(not_yet) + "." if not_yet else "Every comparison above has been measured.")
              + (f" Runs of this preset still to do: {', '.join(not_run)}." if not_run else "")
              + (f" Failed: {'; '.join(f'{k}: {v}' for k, v in record['failed'].items())}." if record.get("failed") else "")
              + " Continue with `python -m bench run particles --preset full` (`make bench-particles`): it resumes "
              "from the finished runs.", ""]
    return "\n".join(lines)


def _alkaid_lines(record: dict) -> list[str]:
    """Ours against alkaid on the same weights: the table and the goal, where measured."""
    rows, goals = [], []
    goal = record["targets"].get("ours_over_alkaid_lut")
    for dataset, arches in record["results"].items():
        for arch, e in arches.items():
            for seed, a in e.get("alkaid", {}).items():
                ours = e["rtl"][seed]
                rows.append((_data_name(dataset), arch, seed, a["model"], f"{ours['resources']['LUT']:,}", f"{a['resources']['LUT']:,}",
                             f"{a['ours_over_alkaid_lut']:.3f}", f"{ours['resources']['FF']:,} / {a['resources']['FF']:,}",
                             f"{ours['resources']['DSP']:,} / {a['resources']['DSP']:,}",
                             f"{ours['latency_both_registered']} / {a['latency_cycles']}",
                             f"{a['mismatches']:,} / {a['compared']:,}", f"{a['mismatches_x4']:,} / {a['compared_x4']:,}"))
                goals.append(f"{arch} ({dataset}, seed {seed}) {verdict(a['ours_over_alkaid_lut'] <= goal)}")
    if not rows:
        return []
    v = record["versions"]
    return [f"**Against alkaid {v['alkaid']} on the same weights.** Our kept models' integer weights and types "
            "rebuilt with alkaid's tracing API and written as alkaid's Verilog; both designs synthesized by the "
            "same Yosys script, alkaid's pipeline stages chosen so that its latency (ports registered) equals "
            "ours. alkaid's interpreter against our emulator with `==`: differing output values / compared, "
            "on the held-out events and on four times them.", "",
            table(("data", "architecture", "seed", "model", "LUT ours", "LUT alkaid", "ours ÷ alkaid LUTs",
                   "FF ours / alkaid", "DSP ours / alkaid", "latency cycles (ports registered) ours / alkaid",
                   "alkaid ≠ emulator, in range", "alkaid ≠ emulator, ×4"), rows), "",
            f"Goal (issue 32): ours ÷ alkaid LUTs at most {goal:g} on every model: " + "; ".join(goals) + ".", ""]


def problems(record: dict) -> list[str]:
    out = []
    for key in ("config", "results", "preset", "runs_done", "targets", "versions"):
        if key not in record:
            out.append(f"particles: the record has no {key!r}")
    if out:
        return out
    if not record["runs_done"]:
        out.append("particles: no run finished")
    return out


def _fronts_figure(arches: dict):
    """Validation accuracy against exact EBOPs, one panel per architecture: our front and HGQ2's
    (both recounted by us), one marker per seed."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(arches), figsize=(3.4 * len(arches), 3.6), squeeze=False)
    markers = "osD^v<>"
    for ax, (arch, e) in zip(axes[0], arches.items()):
        for k, (seed, s) in enumerate(sorted(e["per_seed"].items())):
            for label, front, colour in (("ours", s["ours_front"], "C0"), ("HGQ2", s["hgq2_front"], "C1")):
                pts = sorted(front, key=lambda p: p["ebops"])
                ax.plot([p["ebops"] for p in pts], [100 * p["accuracy"] for p in pts], color=colour,
                        marker=markers[k % len(markers)], ms=4, lw=1, label=f"{label}, seed {seed}")
        ratio = e["front_comparison"]["geomean_ratio"]
        ax.set_title(f"{arch}\nHGQ2 ÷ ours {fmt_ratio(ratio)}", fontsize=9)
        if e["per_seed"]:
            log_scale(ax)
        ax.set_xlabel("EBOPs (exact, our count)", fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("validation accuracy %")
    return finished(fig)


def _lut_figure(record: dict, page: Page):
    """Our RTL's LUTs against EBOPs: the particle models and the RTL study's MLPs (its record)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    mlps = {name: r for name, r in page.results.get("studies", {}).get("rtl", {}).get("models", {}).items()
            if "ours" in r}             # the II-curve models have no II = 1 row of their own
    if mlps:
        ax.scatter([r["ebops"] for r in mlps.values()], [r["ours"]["resources"]["LUT"] for r in mlps.values()],
                   marker="s", label="MLPs (the RTL study)", zorder=3)
    for dataset, arches in record["results"].items():
        rows = [(arch, r) for arch, e in arches.items() for r in e.get("rtl", {}).values()]
        ax.scatter([r["ebops"] for _, r in rows], [r["resources"]["LUT"] for _, r in rows], zorder=3,
                   label=f"particle models, {_data_name(dataset)}")
        for arch, r in rows:
            ax.annotate(arch, (r["ebops"], r["resources"]["LUT"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("EBOPs (exact)")
    ax.set_ylabel("LUTs (Yosys synth_xilinx, xcup)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return finished(fig)


def figures(record: dict, page: Page) -> dict:
    """``<dataset>_fronts.png`` for every data set; ``lut_vs_ebops.png`` where our RTL was measured."""
    out = {f"{dataset}_fronts.png": _fronts_figure(arches) for dataset, arches in record["results"].items()}
    if any(e.get("rtl") for arches in record["results"].values() for e in arches.values()):
        out["lut_vs_ebops.png"] = _lut_figure(record, page)
    return out

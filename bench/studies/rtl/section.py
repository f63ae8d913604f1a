"""BENCHMARKS.md section of the RTL backend (``python -m bench run rtl``): Yosys resources, latency
and simulation mismatches of our Verilog before and now, against alkaid on the same integer
weights; the resources against the initiation interval; LUTs against EBOPs; write/compile/predict
speed."""

from __future__ import annotations

import numpy as np

from bench.common.plots import finished, pyplot
from bench.studies import Page

ORDER = 43
#: targets of issue 33
TARGET_BINARY_VS_ALKAID = 0.9        # binary model: LUTs ours ÷ alkaid
TARGET_TWO_VS_BEFORE = 0.8           # 2-bit model: LUTs ours ÷ ours before
TARGET_II4_VS_II1 = 0.4              # LUTs at II = 4 ÷ LUTs at II = 1
TARGET_WRITE_S = 30.0                # RTL write time of a 784-input model
TARGET_DEMO_S = 180.0
PLOT = "lut_vs_ebops.png"
II_PLOT = "lut_vs_ii.png"
#: LUTs counted per DSP when LUTs are set against EBOPs (the HGQ paper's rule)
DSP_LUTS = 55


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def _lut(row: dict, part: str) -> int | None:
    return ((row.get(part) or {}).get("resources") or {}).get("LUT")


def ratio(row: dict, part: str, other: str) -> float | None:
    """LUTs of ``part`` ÷ LUTs of ``other`` of one model, or None where either is missing."""
    a, b = _lut(row, part), _lut(row, other)
    return a / b if a is not None and b else None


def fit_lut_per_ebop(rows: list[dict]) -> dict:
    """Least-squares ``LUT + DSP_LUTS·DSP ≈ a · EBOPs`` through the origin, with the spread of the ratios."""
    rows = [r for r in rows if "ours" in r]
    e = np.array([r["ebops"] for r in rows], dtype=float)
    lut = np.array([r["ours"]["resources"]["LUT"] + DSP_LUTS * r["ours"]["resources"].get("DSP", 0)
                    for r in rows], dtype=float)
    a = float(e @ lut / (e @ e))
    ratios = lut / e
    resid = lut - a * e
    r2 = 1 - float(resid @ resid) / float(((lut - lut.mean()) @ (lut - lut.mean()))) if len(rows) > 1 else None
    return {"a": a, "min_ratio": float(ratios.min()), "max_ratio": float(ratios.max()), "r2": r2,
            "n": len(rows)}


def figures(record: dict, page: Page) -> dict:
    """``lut_vs_ebops.png``: LUTs (ours now, before, alkaid) against EBOPs; ``lut_vs_ii.png``: LUTs
    and FFs against the initiation interval."""
    plt = pyplot()
    models = {n: r for n, r in record["models"].items() if "ours" in r}
    fit = fit_lut_per_ebop(list(models.values()))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    e = [r["ebops"] for r in models.values()]
    for part, marker, label in (("ours", "o", "ours (Yosys LUTs)"), ("before", "s", "ours before"),
                                ("alkaid", "x", "alkaid 0.8.2")):
        pts = [(r["ebops"], _lut(r, part)) for r in models.values() if _lut(r, part) is not None]
        if pts:
            ax.scatter(*zip(*pts), marker=marker, label=label, zorder=3, alpha=0.8)
    for name, r in models.items():
        ax.annotate(name, (r["ebops"], r["ours"]["resources"]["LUT"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    xs = np.linspace(0, max(e) * 1.05, 50)
    ax.plot(xs, fit["a"] * xs, "--", lw=1, label=f"fit (ours): LUT = {fit['a']:.2f} · EBOPs")
    ax.plot(xs, xs, ":", lw=1, color="grey", label=f"LUT = EBOPs (HGQ paper, + {DSP_LUTS}·DSP)")
    ax.set_xlabel("EBOPs (exact, from the firmware IR)")
    ax.set_ylabel("LUTs (Yosys synth_xilinx, xcup)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    finished(fig)
    out = {PLOT: fig}
    curves = {n: r["ii_curve"] for n, r in record["models"].items() if r.get("ii_curve")}
    if curves:
        fig2, ax2 = plt.subplots(figsize=(5.5, 4))
        for name, curve in curves.items():
            iis = sorted(int(k) for k in curve)
            ax2.plot(iis, [curve[str(i)]["resources"]["LUT"] for i in iis], "o-", label=f"{name} LUT")
            ax2.plot(iis, [curve[str(i)]["resources"]["FF"] for i in iis], "s--", label=f"{name} FF")
        ax2.set_xscale("log", base=2)
        ax2.set_yscale("log")
        ax2.set_xlabel("initiation interval (clock cycles per sample)")
        ax2.set_ylabel("Yosys cells")
        ax2.legend(fontsize=7)
        ax2.grid(alpha=0.3)
        fig2.tight_layout()
        fig2.dpi = 120
        out[II_PLOT] = fig2
    return out


def _res(part: dict | None) -> str:
    if not part:
        return "–"
    if "resources" not in part:
        return part.get("error", "–")
    r = part["resources"]
    return f"{r['LUT']:,} / {r['FF']:,} / {r['CARRY']:,} / {r.get('DSP', 0)}"


def _f(v: float | None) -> str:
    return f"{v:.2f}" if v is not None else "–"


def _ratio(row: dict, other: str) -> str:
    """LUTs ours ÷ ``other``, or "equal" where the counts are the same."""
    r = ratio(row, "ours", other)
    return "equal" if r == 1 else _f(r)


def _cells(row: dict) -> list[str]:
    o, b, a = row.get("ours") or {}, row.get("before") or {}, row.get("alkaid") or {}
    lat = " / ".join(str(p.get("latency_cycles", "–")) for p in (b, o))
    lat += f" ({o['latency_both_registered']})" if "latency_both_registered" in o else ""
    mism = f"{o['mismatches']} of {o['compared']:,}" if "mismatches" in o else "–"
    amism = f"{a['mismatches']} of {a['compared']:,}" if "mismatches" in a else "–"
    return [f"{row['ebops']:,}", _res(b), _res(o), _res(a), _ratio(row, "before"), _ratio(row, "alkaid"), lat, str(a.get("latency_cycles", "–")),
            " / ".join(str(p.get("longest_path_cells", "–")) for p in (b, o, a)), mism, amism]


def _targets(models: dict) -> list[str]:
    lines = []
    if "binary" in models:
        r = ratio(models["binary"], "ours", "alkaid")
        lines.append(f"- binary model, LUTs ours ÷ alkaid ≤ {TARGET_BINARY_VS_ALKAID:g}: "
                     + (f"{_ok(r <= TARGET_BINARY_VS_ALKAID)} ({r:.2f})" if r is not None else "not measured"))
    if "two" in models:
        r = ratio(models["two"], "ours", "before")
        lines.append(f"- 2-bit model, LUTs ours ÷ ours before ≤ {TARGET_TWO_VS_BEFORE:g}: "
                     + (f"{_ok(r <= TARGET_TWO_VS_BEFORE)} ({r:.2f})" if r is not None else "not measured"))
    grown = {n: ratio(r, "ours", "before") for n, r in models.items() if ratio(r, "ours", "before") is not None}
    if grown:
        worst = max(grown, key=grown.get)
        same = sorted(n for n, r in grown.items() if r == 1)
        worst_text = (f"worst {grown[worst]:.2f}, {worst}" if grown[worst] != 1 else
                      f"equal LUTs on {', '.join(same)}, fewer on the others")
        lines.append(f"- no model worse than before (LUTs ours ÷ before ≤ 1 on every model measured: "
                     f"{', '.join(sorted(grown))}): {_ok(grown[worst] <= 1)} ({worst_text})")
    for name, row in models.items():
        curve = row.get("ii_curve") or {}
        if "1" in curve and "4" in curve:
            r = curve["4"]["resources"]["LUT"] / curve["1"]["resources"]["LUT"]
            lines.append(f"- {name}, LUTs at II = 4 ÷ II = 1 ≤ {TARGET_II4_VS_II1:g}: {_ok(r <= TARGET_II4_VS_II1)} "
                         f"({r:.2f}; FFs {curve['4']['resources']['FF']:,} against {curve['1']['resources']['FF']:,})")
    for name, row in models.items():
        if row.get("inputs") and int(np.prod(row["inputs"][0])) == 784 and "write_s" in (row.get("ours") or {}):
            o, b = row["ours"], row.get("before") or {}
            before = f"; before {b['write_s']:.1f} s ({b['write_cpu_s']:.1f} CPU-s)" if "write_s" in b else ""
            lines.append(f"- {name} (784 inputs), RTL write time < {TARGET_WRITE_S:g} s: "
                         f"{_ok(o['write_s'] < TARGET_WRITE_S)} ({o['write_s']:.1f} s wall, "
                         f"{o.get('write_cpu_s', float('nan')):.1f} CPU-s{before})")
    return lines


def _ii_table(models: dict) -> list[str]:
    lines = []
    for name, row in models.items():
        curve = row.get("ii_curve")
        if not curve:
            continue
        base = curve.get("1", {}).get("resources", {}).get("LUT")
        lines += ["", f"**{name}** ({row['ebops']:,} EBOPs):", "",
                  "| II | LUT / FF / CARRY / DSP | LUT ÷ II 1 | latency (cycles) | layers folded | "
                  "RTL mismatches | write s |", "| ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
        for key in sorted(curve, key=int):
            c = curve[key]
            ways = ", ".join(f"{k} {v.replace('_', '-')}" for k, v in c.get("folding", {}).items()) or "–"
            share = "base" if key == "1" else _f(c["resources"]["LUT"] / base if base else None)
            lines.append(f"| {key} | {_res(c)} | {share} | "
                         f"{c['latency_cycles']} | {ways} | {c['mismatches']} of {c['compared']:,} | "
                         f"{c['write_s']:.1f} |")
    return lines


def render(record: dict, page: Page) -> str:
    models = record["models"]
    s = record["settings"]
    measured = {n: r for n, r in models.items() if "ours" in r or "before" in r}
    lines = ["## RTL backend: Yosys LUTs and latency, before and now, against alkaid", "",
             f"`python -m bench run rtl` ({record['tools']['yosys']}; {record['tools']['verilator']}; "
             f"{record['tools'].get('alkaid', '')} in its own venv). Every design is synthesized by the same script: "
             f"`{s['yosys']}`. Our RTL at {s['clock_ns']:g} ns (outputs registered, inputs not); *before*: the "
             "RTL of the commit named in each row (`--before`), written and synthesized in the same run; alkaid "
             "with as many pipeline stages as our latency with both ports registered (it registers both). "
             "Resources are LUT / FF / CARRY / DSP. Latency in clock cycles, before / now (now with both ports "
             "registered in brackets). The longest path counts cells between registers (Yosys `ltp -noff`), "
             "before / now / alkaid. RTL mismatches: Verilator simulation against our emulator on "
             f"{s['n_sim']:,} samples spread over and beyond the input range; alkaid mismatches: alkaid's own "
             f"interpreter against our emulator on the same samples. Machine: {record['machine']['cpus']} CPUs, "
             "shared.", "",
             "| model | EBOPs | before | now | alkaid | LUT now ÷ before | LUT now ÷ alkaid | latency before / now | "
             "latency alkaid | longest path | RTL mismatches | alkaid mismatches |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in measured.items():
        lines.append(f"| {name} | " + " | ".join(_cells(row)) + " |")
    lines += ["", "Targets (issue 33):", ""] + _targets(models)
    est = {n: r["ours"]["lut_estimate"] / r["ours"]["resources"]["LUT"] for n, r in models.items()
           if (r.get("ours") or {}).get("lut_estimate") and r["ours"]["resources"].get("LUT")}
    for n, r in models.items():
        for ii, c in (r.get("ii_curve") or {}).items():
            if c.get("lut_estimate") and c["resources"].get("LUT"):
                est[f"{n} II {ii}"] = c["lut_estimate"] / c["resources"]["LUT"]
    if est:
        lines += ["", "The LUT estimate that chooses among the ways to build each layer "
                      "(`hgq_fpga/backends/rtl/cost.py`, recorded as `lut_estimate` in `project.json`) against "
                      "Yosys's LUTs, estimate ÷ Yosys: " + ", ".join(f"{n} {v:.2f}" for n, v in est.items()) + "."]
    notes = [f"- {n}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in r["info"].items() if v is not None)
             for n, r in models.items() if r.get("info")]
    if notes:
        lines += ["", "Models:", ""] + notes
    if any(r.get("ii_curve") for r in models.values()):
        lines += ["", "### Resources against the initiation interval", "",
                  f"`write_project(fw, dir, ii=N)`: each Dense layer built the cheapest of parallel, bit-serial "
                  f"(a slice of every input per cycle into shift-accumulators) or input-serial (a share of the "
                  f"inputs per cycle into accumulators) by the LUT estimate. Simulated with inputs at the "
                  f"declared cadence on {s.get('n_sim_ii', 0):,} samples. Folding saves less than 1/N of the "
                  "logic: the work still ends in LUT6 tables and adders, and a table that also reads the cycle "
                  "number has fewer inputs left for data ([docs/rtl.md](docs/rtl.md), \"II > 1\")."]
        lines += _ii_table(models) + ["", f"![LUTs and FFs against II]({page.link(II_PLOT)})"]
    fit = fit_lut_per_ebop(list(models.values()))
    lines += ["", "### LUTs against EBOPs", "",
              f"Over the {fit['n']} models, our LUT + {DSP_LUTS}·DSP ≈ **{fit['a']:.2f} × EBOPs** (least squares "
              f"through the origin; R² {fit['r2']:.3f}); the per-model ratio ranges from {fit['min_ratio']:.2f} "
              f"to {fit['max_ratio']:.2f}. The HGQ paper's rule is ratio 1 (after Vivado place and route, "
              "for hls4ml's HLS)." if fit["r2"] is not None else
              f"One model: LUT + {DSP_LUTS}·DSP = {fit['a']:.2f} × EBOPs.", "",
              f"![LUTs against EBOPs]({page.link(PLOT)})"]
    speed = {n: r["speed"] for n, r in models.items() if r.get("speed")}
    for name, sp in speed.items():
        ours = models[name]["ours"]
        cpu = ([f"| the same in CPU seconds (Verilator builds with 2 jobs) | "
                f"{ours['write_cpu_s']:.1f} + {ours['verilator_cpu_s']:.1f} s |"] if "write_cpu_s" in ours else [])
        lines += ["", f"### Speed ({name} model)", "",
                  "| quantity | value |", "| --- | ---: |",
                  f"| RTL write + Verilator compile, cold cache | {sp['write_compile_cold_s']:.1f} s "
                  f"({sp['write_s']:.1f} + {sp['verilator_compile_cold_s']:.1f}) |",
                  *cpu,
                  f"| HLS C simulation compile (for comparison) | {sp['csim_compile_s']:.1f} s |",
                  f"| Verilator predict, one thread | {sp['rtl_samples_per_s']:,.0f} samples/s |",
                  f"| HLS C simulation predict, one thread | {sp['csim_samples_per_s']:,.0f} samples/s |",
                  f"| throughput RTL ÷ C simulation (medians of {sp['repeats']} interleaved repeats of "
                  f"{sp['samples']:,} samples) | {sp['rtl_over_csim_throughput']:.2f} |",
                  f"| RTL vs C simulation mismatches | {sp['rtl_vs_csim_mismatches']} |"]
        if "load_average" in ours:
            lines.append(f"| load average while measured | {ours['load_average']:.1f} |")
    demo = record.get("demo_run")
    if demo:
        lines += ["", f"Whole `make demo` after installation (`{demo['command']}`: train, choose, calibrate, "
                      f"HLS and RTL projects, C and RTL simulation, Yosys): **{demo['wall_s']:.0f} s** wall, "
                      f"{demo['cpu_s']:.0f} CPU-s, load average {demo['load_average_before']:.1f} before and "
                      f"{demo['load_average_after']:.1f} after; target < {TARGET_DEMO_S:g} s on 2 cores: "
                      f"{_ok(demo['wall_s'] < TARGET_DEMO_S)}."]
    return "\n".join(lines) + "\n"


def problems(record: dict) -> list[str]:
    out = []
    models = record.get("models") or {}
    if not models:
        return ["no models"]
    for name, row in models.items():
        if (row.get("ours") or {}).get("mismatches"):
            out.append(f"{name}: {row['ours']['mismatches']} RTL simulation mismatches")
        a = row.get("alkaid") or {}
        if a.get("mismatches"):
            out.append(f"{name}: alkaid computes another function ({a['mismatches']} mismatches)")
        for ii, c in (row.get("ii_curve") or {}).items():
            if c.get("mismatches"):
                out.append(f"{name}: {c['mismatches']} RTL simulation mismatches at II = {ii}")
        if (row.get("speed") or {}).get("rtl_vs_csim_mismatches"):
            out.append(f"{name}: RTL and C simulation differ")
    return out

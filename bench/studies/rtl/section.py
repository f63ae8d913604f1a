"""BENCHMARKS.md section of the RTL backend (``python -m bench run rtl``): Yosys resources, latency
and simulation mismatches of our Verilog against da4ml on the same integer weights, LUTs against
EBOPs, and write/compile/predict speed."""

from __future__ import annotations

import numpy as np

from bench.common.plots import pyplot
from bench.studies import Page

ORDER = 43
#: targets of the issue
TARGET_LUT_RATIO = 1.0
TARGET_WRITE_COMPILE_S = 30.0
TARGET_DEMO_S = 180.0
PLOT = "lut_vs_ebops.png"
#: LUTs counted per DSP when LUTs are set against EBOPs (the HGQ paper's rule)
DSP_LUTS = 55


def _ok(flag: bool) -> str:
    return "met" if flag else "**missed**"


def lut_ratio(row: dict) -> float | None:
    """LUTs ours / LUTs da4ml, or None without a da4ml result."""
    theirs = (row.get("da4ml") or {}).get("resources", {}).get("LUT")
    return row["ours"]["resources"]["LUT"] / theirs if theirs else None


def fit_lut_per_ebop(rows: list[dict]) -> dict:
    """Least-squares ``LUT + DSP_LUTS·DSP ≈ a · EBOPs`` through the origin, with the spread of the ratios."""
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
    """``lut_vs_ebops.png``: our LUTs (and da4ml's) against EBOPs, with the least-squares fit."""
    plt = pyplot()
    models = record["models"]
    rows = list(models.values())
    fit = fit_lut_per_ebop(rows)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    e = [r["ebops"] for r in rows]
    ax.scatter(e, [r["ours"]["resources"]["LUT"] for r in rows], label="ours (Yosys LUTs)", zorder=3)
    da = [(r["ebops"], r["da4ml"]["resources"]["LUT"]) for r in rows if "resources" in (r.get("da4ml") or {})]
    if da:
        ax.scatter(*zip(*da), marker="x", label="da4ml 0.6.0 (Yosys LUTs)", zorder=3)
    for name, r in models.items():
        ax.annotate(name, (r["ebops"], r["ours"]["resources"]["LUT"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    xs = np.linspace(0, max(e) * 1.05, 50)
    ax.plot(xs, fit["a"] * xs, "--", lw=1, label=f"fit: LUT = {fit['a']:.2f} · EBOPs")
    ax.plot(xs, xs, ":", lw=1, color="grey", label=f"LUT = EBOPs (HGQ paper, + {DSP_LUTS}·DSP)")
    ax.set_xlabel("EBOPs (exact, from the firmware IR)")
    ax.set_ylabel("LUTs (Yosys synth_xilinx, xcup)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.dpi = 120               # laid out at 100 dpi, saved at 120
    return {PLOT: fig}


def _cells(row: dict) -> list[str]:
    o, d = row["ours"], row.get("da4ml") or {}
    res = o["resources"]
    ratio = lut_ratio(row)
    da = (f"{d['resources']['LUT']:,} / {d['resources']['FF']:,} / {d['resources']['CARRY']:,}"
          if "resources" in d else d.get("error", "–"))
    return [f"{row['ebops']:,}", f"{res['LUT']:,} / {res['FF']:,} / {res['CARRY']:,}", da,
            f"{ratio:.2f}" if ratio is not None else "–",
            f"{o['latency_cycles']} ({o['latency_both_registered']})",
            f"{d['latency_cycles']}" if "latency_cycles" in d else "–",
            f"{o.get('longest_path_cells', '–')} / {d.get('longest_path_cells', '–')}",
            f"{o['mismatches']} of {o['compared']:,}",
            f"{d['mismatches']} of {d['compared']:,}" if "mismatches" in d else "–",
            f"{_secs(o)} / {_secs(d)}"]


def _secs(part: dict) -> str:
    """Yosys wall seconds, with CPU seconds when recorded (the wall time on a shared machine)."""
    if "yosys_s" not in part:
        return "–"
    cpu = part.get("yosys_cpu_s")
    return f"{part['yosys_s']:.0f}" + (f" (CPU {cpu:.0f})" if cpu is not None else "")


def _loads(models: dict) -> str:
    """Load average of each measured part, or "not recorded" (older rows, measured under load ~10-15)."""
    out = []
    for name, row in models.items():
        for part in ("ours", "da4ml"):
            load = (row.get(part) or {}).get("load_average")
            out.append(f"{name} {part} {load:.1f}" if load is not None else f"{name} {part} not recorded")
    return "; ".join(out)


def render(record: dict, page: Page) -> str:
    models = record["models"]
    s = record["settings"]
    levels = ", ".join(sorted({str(r["ours"]["levels_per_stage"]) for r in models.values()}))
    lines = ["## RTL backend: Yosys LUTs and latency, against da4ml", "",
             f"`python -m bench run rtl` ({record['tools']['yosys']}; {record['tools']['verilator']}; "
             f"{record['tools']['da4ml']} in its own venv). Both designs are synthesized by the same script: "
             f"`{s['yosys']}`. Our RTL at {s['clock_ns']:g} ns ({levels} adder levels per stage, outputs "
             f"registered, inputs not); da4ml with `latency_cutoff={s['da4ml_latency_cutoff']:g}` "
             f"(its own delay units), registering its inputs and outputs. Latency is in clock cycles; "
             f"ours in brackets with both ports registered as da4ml does. The longest path counts cells "
             f"between registers (Yosys `ltp -noff`), the nearest to a timing figure without Vivado. "
             f"RTL mismatches: Verilator simulation against our emulator on {s['n_sim']:,} samples spread "
             f"over and beyond the input range; da4ml mismatches: da4ml's own interpreter against our "
             f"emulator on the same samples (the two designs compute the same function). Machine: "
             f"{record['machine']['cpus']} CPUs; Yosys times are wall-clock, with the load average "
             f"while each was measured where recorded ({_loads(models)}).", "",
             "| model | EBOPs | ours LUT / FF / CARRY | da4ml LUT / FF / CARRY | LUT ours ÷ da4ml | "
             "latency ours (both reg.) | latency da4ml | longest path ours / da4ml | RTL mismatches | "
             "da4ml mismatches | Yosys s ours / da4ml |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, row in models.items():
        lines.append(f"| {name} | " + " | ".join(_cells(row)) + " |")
    ratios = {n: lut_ratio(r) for n, r in models.items() if lut_ratio(r) is not None}
    if ratios:
        worst = max(ratios.values())
        lines += ["", f"Target LUTs ours ÷ da4ml ≤ {TARGET_LUT_RATIO:g} on every model: "
                      f"{_ok(worst <= TARGET_LUT_RATIO)} (worst {worst:.2f}, on {max(ratios, key=ratios.get)})."]
    notes = [f"- {n}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in r["info"].items() if v is not None)
             for n, r in models.items() if r.get("info")]
    if notes:
        lines += ["", "Models:", ""] + notes
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
                  f"({sp['write_s']:.1f} + {sp['verilator_compile_cold_s']:.1f}; target < "
                  f"{TARGET_WRITE_COMPILE_S:g} s: {_ok(sp['write_compile_cold_s'] < TARGET_WRITE_COMPILE_S)}) |",
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
        if row["ours"]["mismatches"]:
            out.append(f"{name}: {row['ours']['mismatches']} RTL simulation mismatches")
        d = row.get("da4ml") or {}
        if d.get("mismatches"):
            out.append(f"{name}: da4ml computes another function ({d['mismatches']} mismatches)")
        if (row.get("speed") or {}).get("rtl_vs_csim_mismatches"):
            out.append(f"{name}: RTL and C simulation differ")
    return out

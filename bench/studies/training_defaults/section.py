"""BENCHMARKS.md section of the study of the training defaults (``python -m bench run training_defaults``):
one table per stage, each candidate's fronts read against HGQ2's default start point by point."""

from __future__ import annotations

from bench.studies import Page

ORDER = 43
STAGE_TITLES = {"screen-start": "Stage 1, the start (reduced size)",
                "screen-beta": "Stage 2, the end of the β ramp (reduced size)",
                "screen-recipe": "Stage 3, the β and learning-rate schedules (reduced size)",
                "screen-combined": "Stage 4, the best changes together and the epoch budget (reduced size)",
                "confirm": "Stage 5, the best candidates on a new seed (reduced size)"}


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f} %"


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _settings(c: dict) -> str:
    weight = (f"{c['hgq_init_bits']} significant bits" if c.get("hgq_init_bits") is not None
              else f"{c['hgq_weight_f']:g} fractional bits")
    lr = f"{c['learning_rate']:g}" + (f" cosine → ×{c['lr_final']:g}" if c.get("lr_schedule") == "cosine" else "")
    beta = f"{c['beta_start']:g} → {c['beta_stop']:g}"
    bend = " ".join(f"{k.split('_')[1]} {c[k]:.0%}" for k in ("beta_lead", "beta_hold") if c.get(k))
    return (f"w {weight}, a {c['hgq_f_init']:g} f; lr {lr}; β {beta}{' (' + bend + ')' if bend else ''}; "
            f"{c['epochs']} epochs")


def stage_lines(stage: str, s: dict) -> list[str]:
    """The table of one stage, best first."""
    lines = [f"### {STAGE_TITLES[stage]}", "",
             f"{s['data']}; seeds {', '.join(map(str, s['seeds']))}; {s['training_seconds'] / 3600:.1f} h of "
             f"one-core training time; measured {s['date']} (load average {s['load_average'][0]:.1f} on "
             f"{s['cores']} cores). HGQ2's best validation accuracy per seed: "
             + ", ".join(f"{max(p['accuracy'] for p in f) * 100:.2f} %" for f in s["yardstick"]["fronts"].values())
             + ".", "",
             "| rank | candidate | settings | HGQ2 ÷ ours, geometric mean | ours cheaper | HGQ2 points matched "
             "| our best val. accuracy per seed | largest weight |",
             "|---|---|---|---|---|---|---|---|"]
    order = s["ranking"] + [n for n in s["candidates"] if n not in s["ranking"]]
    for n in order:
        c = s["candidates"][n]
        rank = s["ranking"].index(n) + 1 if n in s["ranking"] else "—"
        best = ", ".join(f"{v['ours_best'] * 100:.2f} %" for v in c["per_seed"].values() if v.get("ours_best"))
        lines.append(f"| {rank} | {n} | {_settings(c)} | {_ratio(c.get('geomean_ratio'))} | "
                     f"{_pct(c.get('share_cheaper'))} | {c.get('matched', 0)}/{c.get('points', 0)} | {best} | "
                     f"{max(v['max_abs_weight'] for v in c['per_seed'].values()):.2f} |")
    if s.get("missing"):
        lines += ["", f"Not finished: {', '.join(s['missing'])}."]
    return lines + [""]


def render(record: dict, page: Page) -> str:
    lines = ["## The training defaults (issue 34)", "",
             record.get("summary", "Chosen on validation data only, on seeds the benchmark studies do not use."), ""]
    for stage, s in record["stages"].items():
        lines += stage_lines(stage, s)
    return "\n".join(lines)


def problems(record: dict) -> list[str]:
    return [f"training_defaults: {stage}: {len(s['failed'])} trainings failed"
            for stage, s in record.get("stages", {}).items() if s.get("failed")]

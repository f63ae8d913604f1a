"""BENCHMARKS.md section: what training for II = 4 changes (``python -m bench run ii_training``)."""

from __future__ import annotations

import math

from bench.studies import Page
from bench.studies.emulator_cpp.section import context

ORDER = 44


def problems(record: dict) -> list[str]:
    out = [f"missing {k!r}" for k in ("machine", "settings", "arms", "floors", "chosen", "wall_s") if k not in record]
    if out:
        return out
    ii = str(record["settings"]["ii"])
    if "ebops" not in record["arms"] or not any(a["ii"] for a in record["arms"].values()):
        out.append("no arm trained for EBOPs and one for EBOPs per II")
    for c in record["chosen"]:
        if c["val_accuracy"] < c["floor"]:
            out.append(f"{c['arm']} epoch {c['epoch']} is below its floor {c['floor']}")
        if set(c["rtl"]) != {ii, "1"}:
            out.append(f"{c['arm']} epoch {c['epoch']}: no RTL at II {ii} and 1")
        if c["epoch"] not in record["arms"][c["arm"]]["front"]:
            out.append(f"{c['arm']} epoch {c['epoch']} is not on its arm's front")
    if len(record["chosen"]) != len(record["arms"]) * len(record["floors"]):
        out.append("not one choice per arm and floor")
    return out


def lut_ratios(record: dict, arm: str, ii: str) -> list[float]:
    """Per floor, the LUTs at ``ii`` of ``arm``'s choice over arm ``ebops``'s."""
    by = {(c["floor"], c["arm"]): c["rtl"][ii]["resources"]["LUT"] for c in record["chosen"]}
    return [by[f, arm] / by[f, "ebops"] for f in record["floors"]]


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _arm(name: str, arm: dict) -> str:
    if arm["ii"] is None:
        return f"`{name}` (EBOPs, the β ramp)"
    return f"`{name}` (`set_ii(model, {arm['ii']})`, the β ramp × {arm['beta_scale']:g})"


def _comparison(record: dict, ii: str) -> str:
    lines = []
    for name, arm in record["arms"].items():
        if arm["ii"] is None:
            continue
        at_ii, at_one = lut_ratios(record, name, ii), lut_ratios(record, name, "1")
        g = _geomean(at_ii)
        verdict = "fewer" if g < 1 else "as many or more"
        lines.append(f"- `{name}` ÷ `ebops`, LUTs at II = {ii} per floor: "
                     f"{', '.join(f'{r:.2f}' for r in at_ii)} (geometric mean {g:.2f}: {verdict} LUTs at "
                     f"II = {ii} in this run); at II = 1: geometric mean {_geomean(at_one):.2f}; its front reaches "
                     f"{min(p['ebops_per_ii'] for p in arm['checkpoints'] if p['epoch'] in arm['front']):,.0f} "
                     "EBOPs per II.")
    spans = {}
    for c in record["chosen"]:
        spans.setdefault(c["arm"], []).append(c["rtl"][ii]["lut_estimate"] / c["rtl"][ii]["resources"]["LUT"])
    lines.append(f"- the RTL's LUT estimate ÷ Yosys's LUTs at II = {ii}, per arm: "
                 + "; ".join(f"`{name}` {min(r):.2f}–{max(r):.2f}" for name, r in spans.items()) + ".")
    return "\n".join(lines)


def render(record: dict, page: Page) -> str:
    s = record["settings"]
    ii = str(s["ii"])
    rows = []
    for c in record["chosen"]:
        at, one = c["rtl"][ii], c["rtl"]["1"]
        rows.append(f"| {100 * c['floor']:.2f} | {c['arm']} | {c['epoch']} | {100 * c['val_accuracy']:.2f} | "
                    f"{100 * c['test_accuracy']:.2f} | {c['ebops']:,} | {c['ebops_per_ii']:,.0f} | "
                    f"{at['resources']['LUT']:,} | {at['lut_estimate']:,} | {at['resources']['FF']:,} | "
                    f"{at['latency_cycles']} | {one['resources']['LUT']:,} | {one['resources']['FF']:,} |")
    train = ", ".join(f"{name} {a['train_s']:.0f} s" for name, a in record["arms"].items())
    return "\n\n".join([
        f"## Training for II (issue 33: EBOPs per II at II = {ii})",
        f"A {s['model']} HGQ MLP on scikit-learn's digits ({s['data']}) trained from seed {s['seed']} (the "
        f"same initial weights and batches) and the quantizer start {s.get('start', 'hgq_fpga-0.2')} in "
        f"{len(record['arms'])} arms, with a log-linear β ramp "
        f"({s['beta'][0]:g} → {s['beta'][1]:g} over {s['epochs']} epochs; Adam {s['learning_rate']:g}, batch "
        f"{s['batch_size']}): " + "; ".join(_arm(n, a) for n, a in record["arms"].items()) + ". `set_ii` makes "
        f"β weigh EBOPs per II (`docs/method.md` §3), about EBOPs / {ii}, so the same β pulls about {ii} times "
        "less. Every epoch's model is calibrated and frozen. Chosen on validation data only: each arm's front of "
        f"(validation accuracy, EBOPs per II at {ii}), the same yardstick for every arm; the floors are the lowest "
        f"of the arms' best validation accuracies and {100 * s['step']:.0f}-point steps below it; at each floor "
        f"each arm's cheapest front model that reaches it. Its RTL is synthesized at II = {ii} and at II = 1 "
        "(Yosys, the RTL study's script; not simulated here); the LUT estimate is the RTL backend's own "
        "(`backends/rtl/cost.py`, which picks the folding). Test accuracy is reported, never used. "
        + context(record.get("machine")),
        f"| floor (val %) | arm | epoch | val % | test % | EBOPs | EBOPs per II | LUT II {ii} | LUT estimate "
        f"II {ii} | FF II {ii} | latency II {ii} | LUT II 1 | FF II 1 |\n"
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
        + "\n".join(rows),
        _comparison(record, ii),
        f"Training: {train}; the whole study {record['wall_s'] / 60:.1f} min "
        f"({record.get('cpu_s', 0) / 60:.1f} CPU min).",
    ])

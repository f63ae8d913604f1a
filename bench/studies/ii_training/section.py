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
    if set(record["arms"]) != {"ebops", f"ii{ii}"}:
        out.append(f"the arms are {sorted(record['arms'])}, not ebops and ii{ii}")
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


def lut_ratios(record: dict, ii: str) -> list[float]:
    """Per floor, the LUTs at ``ii`` of the II arm's choice over the EBOPs arm's."""
    arm = f"ii{record['settings']['ii']}"
    by = {(c["floor"], c["arm"]): c["rtl"][ii]["resources"]["LUT"] for c in record["chosen"]}
    return [by[f, arm] / by[f, "ebops"] for f in record["floors"]]


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def render(record: dict, page: Page) -> str:
    s = record["settings"]
    ii = str(s["ii"])
    arm = f"ii{ii}"
    rows = []
    for c in record["chosen"]:
        at, one = c["rtl"][ii], c["rtl"]["1"]
        rows.append(f"| {100 * c['floor']:.2f} | {c['arm']} | {c['epoch']} | {100 * c['val_accuracy']:.2f} | "
                    f"{100 * c['test_accuracy']:.2f} | {c['ebops']:,} | {c['ebops_per_ii']:,.0f} | "
                    f"{at['resources']['LUT']:,} | {at['resources']['FF']:,} | {at['latency_cycles']} | "
                    f"{one['resources']['LUT']:,} | {one['resources']['FF']:,} |")
    at_ii, at_one = lut_ratios(record, ii), lut_ratios(record, "1")
    g, g1 = _geomean(at_ii), _geomean(at_one)
    verdict = ("helped: fewer" if g < 1 else "did not help: as many or more") + f" LUTs at II {ii}"
    per_floor = ", ".join(f"{r:.2f}" for r in at_ii)
    train = ", ".join(f"{name} {a['train_s']:.0f} s" for name, a in record["arms"].items())
    return "\n\n".join([
        f"## Training for II (issue 33: EBOPs per II at II = {ii})",
        f"A {s['model']} HGQ MLP on scikit-learn's digits ({s['data']}) trained twice from seed {s['seed']} "
        f"(the same initial weights and batches) with the same β ramp ({s['beta'][0]:g} → {s['beta'][1]:g}, "
        f"log-linear over {s['epochs']} epochs; Adam {s['learning_rate']:g}, batch {s['batch_size']}): arm "
        f"`ebops` with today's cost, arm `{arm}` with `hgq_fpga.nn.ii_cost.set_ii(model, {ii})` (β weighs EBOPs "
        f"per II, `docs/method.md` §3). Every epoch's model is calibrated and frozen. Chosen on "
        "validation data only: each arm's front of (validation accuracy, EBOPs per II at "
        f"{ii}), the same yardstick for both; the floors are the lower arm's best validation accuracy and "
        f"{100 * s['step']:.0f}-point steps below it; at each floor each arm's cheapest front model that "
        f"reaches it. Its RTL is synthesized at II = {ii} and at II = 1 (Yosys, the RTL study's script; not "
        "simulated here). Test accuracy is reported, never used. " + context(record.get("machine")),
        f"| floor (val %) | arm | epoch | val % | test % | EBOPs | EBOPs per II | LUT II {ii} | FF II {ii} | "
        f"latency II {ii} | LUT II 1 | FF II 1 |\n"
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows),
        f"LUTs at II = {ii}, `{arm}` ÷ `ebops`, per floor: {per_floor} (geometric mean {g:.2f}); at II = 1: "
        f"geometric mean {g1:.2f}. In this run the II cost {verdict}. Training: {train}; the whole study "
        f"{record['wall_s'] / 60:.1f} min ({record.get('cpu_s', 0) / 60:.1f} CPU min).",
    ])

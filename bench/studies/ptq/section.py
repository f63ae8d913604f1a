"""Post-training quantization study (issue 18; ``python -m bench run ptq``): min/max against
EasyQuant, mixed precision, and the figures ``<kind>.png`` of the PTQ points beside the resource
study's HGQ and uniform-QAT fronts (read from that study's record in the same store).
"""

from __future__ import annotations

from bench.common.plots import log_scale, pyplot
from bench.studies import Page

ORDER = 42
BITS = (8, 7, 6, 5, 4)
#: the issue's targets: (bits, what, threshold in accuracy points)
TARGET_8 = 0.3      # EasyQuant within 0.3 points of float at 8 bits
TARGET_6 = 1.0      # EasyQuant beats min/max by at least 1 point at 6 bits
TITLES = {"mlp": "MLP", "cnn": "CNN"}


def _point(model: dict, search: str, bits: int) -> dict | None:
    return next((p for p in model["points"] if p["search"] == search and p["bits"] == bits), None)


def _mixed(model: dict) -> list[dict]:
    return sorted((p for p in model["points"] if p["search"] == "easyquant+mixed"), key=lambda p: -p["ebops"])


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _pt(x: float) -> str:
    return f"{100 * x:+.2f}"


def targets(model: dict) -> list[dict]:
    """The two targets of the issue for one architecture, measured: what, value, met."""
    out = []
    eq8, eq6, mm6 = _point(model, "easyquant", 8), _point(model, "easyquant", 6), _point(model, "minmax", 6)
    if eq8 is not None:
        loss = 100 * (model["float_accuracy"] - eq8["accuracy"])
        out.append({"target": f"8 bits: EasyQuant within {TARGET_8} points of float",
                    "measured": f"{abs(loss):.2f} points {'below' if loss > 0 else 'above'} float",
                    "met": loss <= TARGET_8 + 1e-9})
    if eq6 is not None and mm6 is not None:
        gain = 100 * (eq6["accuracy"] - mm6["accuracy"])
        room = 100 * (model["float_accuracy"] - mm6["accuracy"])
        out.append({"target": f"6 bits: EasyQuant beats min/max by at least {TARGET_6} point",
                    "measured": f"{gain:+.2f} points (min/max itself is {room:.2f} points below float)",
                    "met": gain >= TARGET_6 - 1e-9})
    return out


def fronts(results: dict, kind: str) -> dict | None:
    """The resource study's architecture ``kind`` (HGQ front, uniform-QAT points, training images)
    with its epochs per run; None where the store has no such record."""
    resource = results.get("studies", {}).get("resource", {})
    arch = resource.get("architectures", {}).get(kind)
    return None if arch is None else {**arch, "epochs": resource["config"]["plans"][kind]["epochs"]}


def _figure(model: dict, fr: dict | None):
    """Accuracy against exact EBOPs (log x): PTQ points beside the resource study's fronts ``fr``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    if fr:
        hgq = sorted(fr["hgq_front"], key=lambda p: p["ebops"])
        ax.plot([p["ebops"] for p in hgq], [p["accuracy"] for p in hgq], "o-", color="tab:blue",
                label="HGQ front (QAT)")
        uni = sorted((p for p in fr["uniform_points"] if p["ebops"] > 0), key=lambda p: p.get("bits", 0))
        ax.plot([p["ebops"] for p in uni], [p["accuracy"] for p in uni], "s", color="tab:orange",
                label="uniform QAT (best validation epoch)")
        for p in uni:
            ax.annotate(f"{p['bits']}b", (p["ebops"], p["accuracy"]), fontsize=7, color="tab:orange",
                        textcoords="offset points", xytext=(3, 3))
    for search, style, color, name in (("minmax", "v:", "tab:gray", "PTQ min/max"),
                                       ("easyquant", "^-", "tab:green", "PTQ EasyQuant")):
        pts = sorted((p for p in model["points"] if p["search"] == search), key=lambda p: p["ebops"])
        ax.plot([p["ebops"] for p in pts], [p["accuracy"] for p in pts], style, color=color, label=name)
        for p in pts:
            ax.annotate(f"{p['bits']}b", (p["ebops"], p["accuracy"]), fontsize=7, color=color,
                        textcoords="offset points", xytext=(3, -9))
    mixed = sorted(_mixed(model), key=lambda p: p["ebops"])
    if mixed:
        ax.plot([p["ebops"] for p in mixed], [p["accuracy"] for p in mixed], "D-", color="tab:red",
                label="PTQ EasyQuant, mixed precision")
    ax.axhline(model["float_accuracy"], color="black", lw=0.8, ls=":", label="float")
    log_scale(ax)
    ax.set_xlabel("EBOPs (exact, firmware)")
    ax.set_ylabel("test accuracy")
    lo = min([p["accuracy"] for p in model["points"] if p["bits"] is None or p["bits"] >= 5]
             + ([p["accuracy"] for p in fr["hgq_front"]] if fr else []))
    ax.set_ylim(max(0.0, lo - 0.03), model["float_accuracy"] + 0.01)
    ax.set_title(f"Post-training quantization: {TITLES.get(model['kind'], model['kind'])}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def figures(record: dict, page: Page) -> dict:
    """One figure per architecture, ``<kind>.png``."""
    return {f"{m['kind']}.png": _figure(m, fronts(page.results, m["kind"])) for m in record["models"]}


def _uniform_table(model: dict) -> list[str]:
    rows = ["| bits | min/max accuracy | min/max EBOPs | EasyQuant accuracy | EasyQuant EBOPs | "
            "EasyQuant − min/max (points) | output cosine min/max → EasyQuant |",
            "|---:|---:|---:|---:|---:|---:|---|"]
    for bits in BITS:
        mm, eq = _point(model, "minmax", bits), _point(model, "easyquant", bits)
        if mm is None or eq is None:
            continue
        rows.append(f"| {bits} | {_pct(mm['accuracy'])} | {mm['ebops']:,} | {_pct(eq['accuracy'])} | "
                    f"{eq['ebops']:,} | {_pt(eq['accuracy'] - mm['accuracy'])} | "
                    f"{mm['output_cosine']:.5f} → {eq['output_cosine']:.5f} |")
    return rows


def _mixed_table(model: dict) -> list[str]:
    mixed = _mixed(model)
    if not mixed:
        return ["No mixed-precision points in this record."]
    by_ebops = {p["ebops"]: p for p in model["points"] if p["search"] == "easyquant"}
    rows = ["| EBOPs budget (= uniform EasyQuant at) | mixed EBOPs | mixed accuracy | uniform EasyQuant accuracy "
            "| mixed − uniform (points) | greedy steps |", "|---:|---:|---:|---:|---:|---:|"]
    for p in mixed:
        uni = by_ebops.get(p["budget"])
        where = f"{p['budget']:,} ({uni['bits']} bits)" if uni else f"{p['budget']:,}"
        rows.append(f"| {where} | {p['ebops']:,} | {_pct(p['accuracy'])} | "
                    f"{_pct(uni['accuracy']) if uni else '–'} | "
                    f"{_pt(p['accuracy'] - uni['accuracy']) if uni else '–'} | {p.get('greedy_steps', '–')} |")
    return rows


def _architecture(model: dict, record: dict, page: Page) -> list[str]:
    kind = model["kind"]
    r = model["recipe"]
    fr = fronts(page.results, kind)
    points = model["points"]
    mism = sum(p["mismatches"] for p in points)
    lines = [f"### {TITLES.get(kind, kind)}" + (f" ({fr['architecture']})" if fr and fr.get("architecture") else ""),
             "",
             f"Float model: {_pct(model['float_accuracy'])} test accuracy, trained on {r['n_train']:,} images "
             f"for {r['epochs']} epochs (batch {r['batch_size']}, {r['optimizer']} {r['learning_rate']:g}; "
             f"weights of epoch {r['best_val_epoch']}, the best on validation)."]
    if fr:
        same = fr.get("n_train") == r["n_train"] and fr.get("epochs") == r["epochs"]
        lines[-1] += (f" The resource study's QAT models beside it trained on {fr['n_train']:,} images for "
                      f"{fr['epochs']} epochs per run"
                      + (" — the same recipe." if same else " — a **different** recipe: compare with care."))
    if not model.get("complete", True):
        missing = [f"{b} bits" for b in BITS if _point(model, "easyquant", b) is None]
        missing += [] if _mixed(model) else ["mixed precision"]
        lines += ["", "**This run stopped before it finished**: only the points below were measured"
                  + (f" (missing: {', '.join(missing)})." if missing else ".")]
    lines += ["", *_uniform_table(model), "",
              "Budgeted mixed precision (EasyQuant at 8 bits, widths lowered per layer, greedily by output "
              "cosine lost per EBOP saved, to the EBOPs of each uniform EasyQuant model):", "",
              *_mixed_table(model), "",
              f"Keras = emulator: **{mism} mismatching outputs** over {len(points)} models × "
              f"{points[0].get('test_samples', record['data']['n_test']):,} test images × 10 logits "
              "(compared with `==`).", "",
              "| target | measured | verdict |", "|---|---|---|"]
    lines += [f"| {t['target']} | {t['measured']} | {'✅ met' if t['met'] else '❌ missed'} |"
              for t in targets(model)]
    lines += ["", f"![PTQ beside the HGQ and uniform-QAT fronts, {kind}]({page.link(f'{kind}.png')})", ""]
    return lines


def render(record: dict, page: Page) -> str:
    """The BENCHMARKS.md section of the PTQ study, with one plot per architecture."""
    d = record["data"]
    lines = ["## Post-training quantization of float models (EasyQuant scale search)", "",
             "`hgq_fpga.nn.ptq`: a trained float Keras model, quantized without retraining to fixed "
             "types per tensor (weights per output channel), then converted to firmware. **min/max** puts each "
             "binary point where it holds the largest calibration value; **EasyQuant** (Wu et al. 2020) also "
             "tries clipping steps below it and keeps, per layer, the choice that maximizes the cosine "
             "similarity of the layer's output with the float model's, alternating weights and activations. "
             f"Calibration: the first {record['calibration_images']:,} training images; the greedy "
             f"mixed-precision trials are scored on the first {record['mixed_samples']:,} of them, the final "
             "types of each mixed model are searched on all of them. Accuracy is the firmware's "
             f"(`fw.predict`) on the {d['n_test']:,} test images of {d['name']}; EBOPs are the firmware's "
             "exact EBOPs. Weights and activations have the same width (\"bits\")."
             + (" **Smoke record (synthetic data), not a measurement.**" if record.get("smoke") else ""), ""]
    suite = page.results.get("suite")
    if suite and any(fronts(page.results, m["kind"]) for m in record["models"]):
        lines += [f"The HGQ and uniform-QAT points in the plots are the resource study's "
                  f"(`studies.resource.architectures.<mlp|cnn>` of `bench/results.json`: run `{suite['command']}`, "
                  f"mode {suite['mode']}).", ""]
    verdicts = []
    for model in record["models"]:
        lines += _architecture(model, record, page)
        verdicts += [f"{TITLES.get(model['kind'], model['kind'])}: {t['target']}: "
                     f"{'✅' if t['met'] else '❌'} ({t['measured']})" for t in targets(model)]
    lines += ["Targets, as measured:", ""] + [f"- {v}" for v in verdicts] + [""]
    return "\n".join(lines)


def problems(record: dict) -> list[str]:
    """What a PTQ record lacks for the section and its targets."""
    out = []
    for key in ("data", "calibration_images", "mixed_samples", "models"):
        if key not in record:
            out.append(f"missing {key!r}")
    for model in record.get("models", []):
        kind = model.get("kind", "?")
        for key in ("float_accuracy", "recipe", "points"):
            if key not in model:
                out.append(f"{kind}: missing {key!r}")
        for search in ("minmax", "easyquant"):
            for bits in (8, 6):     # a run still going (stored after every point) may lack them yet
                if model.get("complete", True) and "points" in model and _point(model, search, bits) is None:
                    out.append(f"{kind}: no {search} point at {bits} bits (the targets need it)")
    if not record.get("models"):
        out.append("no models")
    return out

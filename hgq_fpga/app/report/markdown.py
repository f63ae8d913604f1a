"""Render the report data (the same dict that becomes ``report.json``) as ``report.md``.

The Markdown is produced from the JSON data only, so the two files can never disagree.
"""

from __future__ import annotations

import math

from hgq_fpga.app.report import synthesis, timing
from hgq_fpga.app.report.classification import binomial_error, curve_classes, no_labels_text
from hgq_fpga.app.report.latency import latency_text


def metric_label(key: str) -> str:
    """A Keras log key as words: ``val_accuracy`` → ``validation accuracy``."""
    words = key.split("_")
    if words and words[0] == "val":
        words[0] = "validation"
    return " ".join(words)


def _tolerance(metric: str, tolerance: float) -> str:
    if "accuracy" in metric:
        return f"{100 * tolerance:g} percentage point(s)"
    return f"{tolerance:g}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _metric(name: str, value) -> str:
    if isinstance(value, float) and "accuracy" in name and 0 <= value <= 1:
        return _pct(value)
    return f"{value:,}" if isinstance(value, int) else f"{value}"


def _bits(stats: dict) -> str:
    if not stats["count"]:
        return "–"
    return f"{stats['min']} / {stats['mean']:.2f} / {stats['max']}"


def verification_line(verification: dict | None) -> str:
    """One sentence: how many samples were compared and how many outputs differed."""
    if not verification:
        return "not run"
    verdict = chain(verification) if verification["mismatches"] == 0 else "MISMATCH"
    return (f"{verification['mismatches']} mismatches on {verification['samples']:,} samples "
            f"({verification.get('data', 'data')}): {verdict}")


def chain(verification: dict) -> str:
    """``Keras = emulator = C++ = RTL``: the implementations a verification compared."""
    return " = ".join(verification.get("chain") or ["Keras", "emulator", "C++"])


def verifications(data: dict) -> list[dict]:
    """Every verification record of the report: the conversion's data first, then the ``checks``."""
    return [v for v in (data.get("verification"), *(data.get("checks") or [])) if v]


def _summary(data: dict) -> list[str]:
    d = data["design"]
    lines = ["## Summary", "", "| quantity | value |", "| --- | --- |"]
    for name, value in (data.get("metrics") or {}).items():
        lines.append(f"| {name} | {_metric(name, value)} |")
    share = d["pruned"] / d["weights"] if d["weights"] else 0.0
    lines += [
        f"| EBOPs (exact, from the firmware) | {d['ebops']:,} |",
        f"| adders (CSD digits − 1 per weight + accumulation trees) | {d.get('adders', 0):,} |",
        f"| weights kept / total | {d['kept']:,} / {d['weights']:,} ({d['pruned']:,} pruned, {_pct(share)}) |",
        f"| estimated latency | {latency_text(d)} |",
        f"| widest accumulator | {d['max_accumulator_width']} bits |",
        *(f"| verification | {verification_line(v)} |" for v in verifications(data) or [None]),
        "",
    ]
    return lines


def _layers(data: dict) -> list[str]:
    lines = ["## Layers", "",
             "Weight bits count magnitude bits as HGQ does (sign not counted), over the kept weights; "
             "activation bits are the full width k + i + f of every output element; adder levels "
             "count every op from the previous layer's output to this layer's (multiplier tree, ReLU, "
             "pooling, output cast), so along a chain of layers they add up to the estimated latency.",
             "",
             "| layer | kind | weights kept / total | weight bits min / mean / max | "
             "activation bits min / mean / max | EBOPs | adders | adder levels |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for l in data["design"]["layers"]:
        weights = f"{l['kept']:,} / {l['weights']:,}" if l["weights"] else "–"
        lines.append(f"| {l['name']} | {l['kind']} | {weights} | {_bits(l['weight_bits'])} | "
                     f"{_bits(l['activation_bits'])} | {l['ebops']:,} | {l.get('adders', 0):,} | {l['adder_levels']} |")
    return lines + [""]


def _training(training: dict | None) -> list[str]:
    if not training or not training.get("front"):
        return []
    chosen = training.get("chosen") or {}
    key = training.get("metric", "metric")
    metric = metric_label(key)
    ebops = "exact, calibrated" if training.get("ebops_exact") else "training estimate"
    lines = ["## Training: Pareto front", "",
             f"Checkpoints that no other beats on both {metric} and EBOPs ({ebops}). "
             f"Chosen: the smallest EBOPs within {_tolerance(key, training.get('tolerance', 0))} of the "
             f"best {metric}.", "",
             f"| epoch | {metric} | EBOPs ({ebops}) | chosen |", "| ---: | ---: | ---: | :---: |"]
    for p in training["front"]:
        mark = "★" if p.get("path") == chosen.get("path") and p["ebops"] == chosen.get("ebops") else ""
        epoch = "–" if p.get("epoch") is None else p["epoch"]
        lines.append(f"| {epoch} | {_pct(p['metric'])} | {p['ebops']:,.0f} | {mark} |")
    if training.get("deployed"):
        ebops, test = training["deployed"]
        lines += ["", f"After calibration the chosen model costs exactly {ebops:,.0f} EBOPs and reaches "
                      f"{_pct(test)} on the test set."]
    return lines + [""]


def _curves_note(record: dict) -> str:
    """Which classes have a ROC curve in the figures, and which have too few events for one."""
    drawn, few = curve_classes(record)
    minimum = (record.get("trigger") or {}).get("min_curve_events")
    if not few:
        return "The ROC curves are in the figures."
    names = ", ".join(record["classes"][c] for c in few)
    counts = [record["per_class"][c]["samples"] for c in few]
    span = f"{min(counts):,}" if min(counts) == max(counts) else f"{min(counts):,} to {max(counts):,}"
    head = "No ROC curve is drawn" if not drawn else "The ROC curves are in the figures; none is drawn"
    return (f"{head} for {'class' if len(few) == 1 else 'classes'} {names}: {span} events, fewer than the "
            f"{minimum} a curve needs.")


def _classification(record: dict | None) -> list[str]:
    """The per-class accuracy table (Keras beside the firmware), or why there is none."""
    lines = ["## Per-class accuracy", ""]
    if not record:
        return lines + [no_labels_text(), ""]
    keras = "keras" in record["accuracy"]
    lines += [f"On {record['samples']:,} labelled samples ({record['data']}): the share of each class's samples "
              "that the model assigns to that class (the highest score)"
              + ("; Keras is " + record["keras"] if keras else "") + ". " + _curves_note(record), "",
              "| class | samples | firmware | " + ("Keras | " if keras else "") + "ROC AUC (firmware) |",
              "| --- | ---: | ---: | " + ("---: | " if keras else "") + "---: |"]

    def cell(value):
        return "–" if value is None else _pct(value)

    for row, curve in zip(record["per_class"], record["roc"]["firmware"]):
        auc = "–" if curve is None else f"{curve['auc']:.4f}"
        lines.append(f"| {row['class']} | {row['samples']:,} | {cell(row['firmware_accuracy'])} | "
                     + (f"{cell(row['keras_accuracy'])} | " if keras else "") + f"{auc} |")
    lines.append(f"| all | {record['samples']:,} | {_pct(record['accuracy']['firmware'])} | "
                 + (f"{_pct(record['accuracy']['keras'])} | " if keras else "") + "|")
    return lines + [""]


def efficiency_cell(value: float | None, events: int, rate: float, minimum: int) -> str:
    """``62.2 ± 7.2 %``; ``100.0 % (all 429)`` where the binomial uncertainty is 0 and says nothing;
    or why there is no number."""
    if value is None:
        return f"too few events (needs {math.ceil(round(minimum / rate, 9)):,} background)"
    if value in (0.0, 1.0):
        return f"{100 * value:.1f} % ({'all' if value else 'none of'} {events:,})"
    return f"{100 * value:.1f} ± {100 * binomial_error(value, events):.1f} %"


def rate_label(rate: float) -> str:
    """``1 %`` for 0.01."""
    return f"{100 * rate:g} %"


def _trigger(record: dict | None) -> list[str]:
    """The signal efficiency at fixed background rates per class (firmware, and Keras beside it)."""
    trigger = (record or {}).get("trigger")
    if not trigger:
        return []
    rates, minimum = trigger["rates"], trigger["min_background_passing"]
    keras = "keras" in record["accuracy"]
    lines = ["## Trigger efficiency", "",
             "Each class as the signal and all others as the background: the share of the class's events "
             "kept by a cut on its softmax output that lets the given share of the background pass (the "
             "firmware" + ("; Keras in brackets" if keras else "") + "). ± is the binomial uncertainty; "
             f"a working point needs at least {minimum} background events passing. The ROC curves "
             f"(background rejection against signal efficiency) are drawn for classes with at least "
             f"{trigger['min_curve_events']} events.", "",
             "| class | events | background | " + " | ".join(f"at {rate_label(r)} background" for r in rates) + " |",
             "| --- | ---: | ---: | " + " | ".join("---:" for _ in rates) + " |"]
    for row in trigger["per_class"]:
        cells = []
        for n, rate in enumerate(rates):
            cell = efficiency_cell(row["firmware"][n], row["signal"], rate, minimum)
            if keras and row["keras"][n] is not None:
                cell += f" ({100 * row['keras'][n]:.1f} %)"
            cells.append(cell)
        lines.append(f"| {row['class']} | {row['signal']:,} | {row['background']:,} | " + " | ".join(cells) + " |")
    return lines + [""]


def _spread(record: dict | None, key: str = "quantiles") -> str:
    """``0.012 – 0.93`` (5 % to 95 %) of a profile box, or why there is none."""
    if not record:
        return "–"
    if not record.get(key):
        return "all zero"
    values = record[key]
    return f"{values[1]:.3g} – {values[5]:.3g}" if key == "quantiles" else f"{values[0]:.3g} – {values[1]:.3g}"


def _profile(profile: dict | None) -> list[str]:
    """Where each layer's float weights and activations lie against the range of its chosen types."""
    if not profile or not profile.get("layers"):
        return []
    lines = ["## Profile", "",
             f"Magnitudes, 5 % to 95 % of the values, against what the chosen types hold (finest step 2^-f to "
             f"largest magnitude 2^i): the float weights as trained, and the activations before each "
             f"layer's cast (the raw data before the input quantizer) on {profile['samples']:,} samples of "
             f"{profile['data']}. *Outside*: values beyond the type, which the cast clips or wraps.", "",
             "| layer | float weights | weight types | activations | activation types | outside |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for layer in profile["layers"]:
        w, a = layer["weights"], layer["activations"]
        lines.append(f"| {layer['layer']} | {_spread(w)} | {_spread(w, 'range')} | {_spread(a)} | "
                     f"{_spread(a, 'range')} | {a.get('outside', 0):,} |")
    return lines + [""]


def render_markdown(data: dict) -> str:
    """The whole ``report.md`` for report ``data``."""
    board = data.get("board") or {}
    lines = [f"# Firmware report: {data.get('name', 'design')}", ""]
    if board:
        lines += [f"Board **{board.get('name')}** (part `{board.get('part')}`), clock "
                  f"{board.get('clock_period_ns'):g} ns. Generated by hgq_fpga {data.get('hgq_fpga_version')}"
                  f" on {data.get('created', '?')}.", ""]
    lines += _summary(data) + _layers(data) + _training(data.get("training"))
    lines += _classification(data.get("classification")) + _trigger(data.get("classification"))
    lines += _profile(data.get("profile"))
    lines += synthesis.markdown_lines(data.get("synthesis") or {}, latency_text(data["design"]))
    lines += timing.markdown_lines(data.get("timing"))
    details = [v for v in verifications(data) if v.get("details")]
    if details:
        lines += ["## Verification", ""]
        for v in details:
            lines += [f"On {v.get('data', 'data')}:", "", "```text", v["details"].rstrip(), "```", ""]
    if data.get("figures"):
        lines += ["## Figures", ""]
        for title, name in data["figures"].items():
            lines += [f"### {title}", "", f"![{title}]({name})", ""]
    return "\n".join(lines)

"""Study: the hls4ml tutorial's QKeras jet tagger imported, beside HGQ on the same data.

Written by ``python -m bench run qkeras``.
"""

from __future__ import annotations

from bench.studies import Page

ORDER = 60


def _rtl(row: dict, key: str) -> str:
    rtl = row.get("rtl")
    if not rtl:
        return "not synthesised"
    if key == "latency":
        return f"{rtl['latency_cycles']} cycles ({rtl['latency_ns']:g} ns)"
    return f"{rtl[key]:,}"


def render(record: dict, page: Page) -> str:
    q, h, d = record["qkeras"], record["hgq"], record["data"]
    mism = sum(q["mismatches"].values())
    lines = [
        "## QKeras import: the hls4ml jet tagger beside HGQ",
        "",
        f"The hls4ml tutorial's QKeras network, 16-64-32-32-5 with `quantized_bits(6,0,alpha=1)` weights and "
        f"`quantized_relu(6)`, trained {q['epochs']} epochs in the legacy environment, imported with "
        f"`import_qkeras(..., input_type=\"{d['input_type']}\", drop_softmax=True)` and converted; beside it an "
        f"HGQ model of the same shape trained {h['epochs']} epochs (β {h['beta'][0]:g} → {h['beta'][1]:g}) from "
        # a record without the start was measured when hgq_fpga-0.1 was the default (2026-12-02)
        f"the quantizer start {h.get('start', 'hgq_fpga-0.1')}, "
        f"the checkpoint chosen on validation: the fewest EBOPs with validation accuracy ≥ QKeras's − "
        f"{h['tolerance'] * 100:g} points{'' if h['reached_target'] else ' (none reached it: the most accurate)'}. "
        f"**Data are synthetic** ({d['kind']}; {d['n_train']:,} train, {d['n_val']:,} validation, "
        f"{d['n_test']:,} test): the hls4ml_lhc_jets_hlf set cannot be downloaded here, so the accuracies "
        "compare the two flows, not jet-tagging results. Times are wall clock on a shared machine.",
        "",
        "| | QKeras import | HGQ |",
        "| --- | --- | --- |",
        f"| training | {q['train_s']:.0f} s (QKeras) | {h['train_s']:.0f} s |",
        f"| import + `to_firmware` | {q['import_s']:.1f} s + {q['to_firmware_s']:.1f} s | — |",
        f"| QKeras logits = import = emulator (val + test) | {mism} mismatches | — |",
        f"| EBOPs | {q['ebops']:,} | {h['ebops']:,} |",
        f"| validation accuracy | {q['val_accuracy']:.4f} | {h['val_accuracy']:.4f} |",
        f"| test accuracy | {q['test_accuracy']:.4f} | {h['test_accuracy']:.4f} |",
        f"| RTL LUTs (Yosys) | {_rtl(q, 'LUT')} | {_rtl(h, 'LUT')} |",
        f"| RTL FFs (Yosys) | {_rtl(q, 'FF')} | {_rtl(h, 'FF')} |",
        f"| RTL latency | {_rtl(q, 'latency')} | {_rtl(h, 'latency')} |",
        "",
        "Single wall-clock measurements on a heavily shared machine (not repeated); the import time includes "
        "starting TensorFlow and QKeras in the legacy subprocess (twice: description, then tables if any).",
        "",
    ]
    return "\n".join(lines)


def problems(record: dict) -> list[str]:
    out = []
    q = record.get("qkeras", {})
    if sum(q.get("mismatches", {}).values()) != 0:
        out.append(f"the QKeras import differs from QKeras's own logits: {q.get('mismatches')}")
    for side in ("qkeras", "hgq"):
        if "rtl" not in record.get(side, {}):
            out.append(f"{side}: no RTL synthesis figures (run without --no-rtl)")
    return out

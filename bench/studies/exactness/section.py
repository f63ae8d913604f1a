"""BENCHMARKS.md section of the exactness check: Keras = emulator = C simulation on the whole test set,
for the resource study's HGQ front models."""

from __future__ import annotations

from bench.common.fmt import fmt_int, fmt_pct, table
from bench.studies import Page

ORDER = 30


def headline(record: dict) -> list[tuple]:
    """The Headline row: the total of mismatching values (the target is 0)."""
    return [(f"mismatching output values, Keras = emulator = C sim, {record['models_checked']} models "
             f"× {fmt_int(record['samples'])} test images", fmt_int(record["mismatches"]), "0",
             record["mismatches"] == 0)]


def render(record: dict, page: Page) -> str:
    rows = []
    for name, models in record["architectures"].items():
        for m in models:
            rows.append((name, m["model"], fmt_int(m["ebops"]), fmt_pct(m["accuracy"]), fmt_int(m["samples"]),
                         fmt_int(m["keras_vs_emulator"]), fmt_int(m["emulator_vs_csim"]),
                         fmt_int(m["emulator_vs_csim_integer_build"]),
                         f"{m['csim_compile_s']:.1f}", f"{m['verify_s']:.1f}"))
    scope = "; ".join(f"{name}: {len(record['architectures'][name])} of the {n} models on its HGQ front"
                      + ("" if record["limits"].get(name) is None else ", spread over it")
                      for name, n in record["front_sizes"].items())
    return ("## Exactness at scale\n\n"
            f"All {fmt_int(record['samples'])} test images through the calibrated Keras model, the firmware "
            "emulator and the C simulation (g++, `ap_fixed`: the text HLS synthesises) of the generated HLS "
            f"project, compared value by value with `hgq_fpga.verify` ({scope}); then the C simulation's "
            "default build (multiply-accumulates on integer codes, what `prj.predict` runs) against the "
            "emulator. Total mismatching values: "
            f"**{fmt_int(record['mismatches'])}**.\n\n" + table(
                ("arch", "model", "EBOPs", "accuracy", "images", "Keras ≠ emulator", "emulator ≠ C sim",
                 "emulator ≠ C sim (integer build)", "C sim compile (s)", "verify (s)"), rows))


def problems(record: dict) -> list[str]:
    """Totals that are not the sums over the models."""
    rows = [r for rs in record.get("architectures", {}).values() for r in rs]
    out = []
    if record.get("mismatches") != sum(r.get("mismatches", 0) for r in rows):
        out.append("mismatches is not the sum over the models")
    if record.get("models_checked") != len(rows):
        out.append("models_checked does not count the models")
    return out

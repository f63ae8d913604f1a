"""BENCHMARKS.md section: throughput of the exported C++ emulator library (``python -m bench run emulator_cpp``)."""

from __future__ import annotations

from bench.studies import Page

ORDER = 40

LABELS = {
    "numpy_emulator": "numpy emulator (`fw.predict`, batched)",
    "cpp_integer_macs": "C++ library, integer MACs, from doubles (`NAME_predict`)",
    "cpp_integer_macs_raw": "C++ library, integer MACs, from input codes (`NAME_predict_raw`)",
    "cpp_ap_fixed_macs": "C++ library, ap_fixed MACs, from doubles",
    "cpp_ap_fixed_macs_raw": "C++ library, ap_fixed MACs, from input codes",
}


def context(machine: dict | None) -> str:
    """One line saying when and on what the study ran (from :func:`bench.common.machine.describe`)."""
    if not machine:
        return "Machine not recorded."
    load = machine.get("load_average_at_start")
    return (f"Ran {machine.get('date')} on {machine.get('cpu')} ({machine.get('usable_cores')} usable cores"
            + (f", load average {load[0]} at start" if load else "") + ").")


def problems(record: dict) -> list[str]:
    out = [f"missing {k!r}" for k in ("model", "batch", "rounds", "samples_per_s", "ratio_to_numpy")
           if k not in record]
    if record.get("bit_exact") is not True:
        out.append("the library was not checked bit-exact against fw.predict")
    rates = record.get("samples_per_s", {})
    if "numpy_emulator" not in rates:
        out.append("no numpy emulator reference rate")
    return out


def render(record: dict, page: Page) -> str:
    rows = "\n".join(
        f"| {LABELS.get(name, name)} | {rate:,.0f} | {record['ratio_to_numpy'][name]:.3f} |"
        for name, rate in record["samples_per_s"].items())
    return "\n\n".join([
        "## C++ emulator library (`hgq-fpga export-emulator`)",
        f"{record['model']} MLP (random per-element types, widths 4–8), batch {record['batch']:,}, one core, "
        f"`{record['cflags']}`. Each entry point was timed once per round, in turn, for {record['rounds']} "
        "rounds; the table gives medians. Before timing, every entry point's outputs were checked equal "
        "(`==`) to `fw.predict` on the whole batch. " + context(record.get("machine")),
        "| entry point | samples/s | ÷ numpy emulator |\n| --- | ---: | ---: |\n" + rows,
        "The library is for linking into C++ trigger software (for example CMSSW), not for speed: per-sample "
        "`ap_fixed` casts in software cost more than numpy's batched integer arithmetic.",
    ])

"""BENCHMARKS.md section: RTL write and Verilator compile time of a Deep Sets model (``python -m bench run rtl_particles``)."""

from __future__ import annotations

from bench.studies import Page
from bench.studies.emulator_cpp.section import context

ORDER = 43


def problems(record: dict) -> list[str]:
    out = [f"missing {k!r}" for k in ("model", "make_options", "write_s", "verilator_s", "total_s", "target_s", "mismatches",
                                      "load_average_before") if k not in record]
    if record.get("mismatches", 1) != 0:
        out.append("the RTL simulation differs from fw.predict")
    if "total_s" in record and record.get("target_holds") != (record["total_s"] < record.get("target_s", 0)):
        out.append("target_holds does not follow from total_s")
    return out


def render(record: dict, page: Page) -> str:
    m = record["model"]
    verdict = "holds" if record["target_holds"] else "**does not hold**"
    return "\n\n".join([
        "## RTL of a particle network (issue 31: Deep Sets)",
        f"Deep Sets, {m['particles']} particles × {m['features']} features, hidden width {m['hidden']}, "
        f"{m['classes']} logits ({m['weights']} weights, 8-bit activations; {m['ebops']:,} EBOPs). "
        "One cold run: `write_project`, then the Verilator build with an empty cache (the Verilator runtime "
        f"included; g++ `{' '.join(record['make_options'])}`); the simulation then "
        f"equals `fw.predict` with `==` on {record['compared']:,} outputs (mismatches: {record['mismatches']}). "
        + context(record.get("machine")),
        "| step | wall s | CPU s |\n| --- | ---: | ---: |\n"
        f"| write the RTL ({record['verilog_bytes'] / 1e6:.1f} MB of Verilog, latency "
        f"{record['latency_cycles']} cycles) | {record['write_s']:.1f} | {record['write_cpu_s']:.1f} |\n"
        f"| Verilator build (cold) | {record['verilator_s']:.1f} | {record['verilator_cpu_s']:.1f} |\n"
        f"| total | {record['total_s']:.1f} | {record['write_cpu_s'] + record['verilator_cpu_s']:.1f} |",
        f"Target: under {record['target_s']:.0f} s on 2 cores; it {verdict} in this run (load average "
        f"{record['load_average_before'][0]} before, {record['load_average_after'][0]} after, on a shared machine).",
    ])

"""Synthesis figures of a design folder, set beside the estimates made before synthesis.

After ``make synth`` in a project, Vitis HLS leaves ``<name>_prj/solution1/syn/report/<top>_csynth.xml``.
When it exists, the report shows the synthesised LUT/FF/DSP/BRAM and latency next to the EBOPs and
adder-level estimates, so a user sees how well the training-time cost predicted the hardware (the
HGQ authors quote EBOPs ≈ LUT + 55·DSP after place and route).
"""

from __future__ import annotations

from pathlib import Path

#: DSP → LUT exchange rate in the EBOPs comparison (``docs/method.md`` §3)
LUT_PER_DSP = 55


def find_synthesis(project_dir: str | Path, top: str):
    """The parsed C-synthesis report of ``top`` in ``project_dir``, or None if synthesis never ran."""
    from hgq_fpga.backends.hls.synth import find_csynth_xml
    from hgq_fpga.backends.hls.synth_report import parse_csynth_xml
    from hgq_fpga.backends.common.toolchain import ToolchainError

    try:
        xml = find_csynth_xml(Path(project_dir), top)
    except ToolchainError:
        return None
    return parse_csynth_xml(xml)


def compare_with_estimates(synth, ebops: int, adder_levels: int) -> dict:
    """Synthesis numbers beside the estimates: ``LUT + 55·DSP`` against EBOPs, cycles against levels."""
    lut = synth.resources.get("LUT", 0)
    dsp = synth.resources.get("DSP", 0)
    equivalent = lut + LUT_PER_DSP * dsp
    return {
        "ebops_estimate": int(ebops),
        "lut_plus_55_dsp": int(equivalent),
        "ratio_lut_equivalent_to_ebops": (equivalent / ebops) if ebops else None,
        "adder_levels_estimate": int(adder_levels),
        "latency_cycles_worst": int(synth.latency_cycles_worst),
        "latency_ns_worst": float(synth.latency_ns_worst),
    }

"""Timing without Vivado: logic levels per pipeline stage of the RTL and an estimated Fmax.

The RTL project knows its schedule (``project.json``, written by :mod:`hgq_fpga.backends.rtl`):
``stage_levels`` holds, per pipeline stage, the adder levels of its longest combinational path.
The clock can be no faster than the slowest stage, so an estimate of Fmax needs one number more, the
delay of a level, which this module takes from a per-family model:

    path of a stage (ns) = levels × ns_per_level + ns_per_stage,   Fmax = 1 / path of the slowest stage

**The delay model** (:data:`DELAY_MODELS`, by Yosys family, the RTL project's ``yosys_family``):

* *A level* is one adder (or a rounding shift, a saturation, a max, a table lookup: the RTL's
  node kinds that cost a level) of the widths HGQ learns, about 4 to 20 bits: a LUT, a carry chain
  and the route to the next level. alkaid's fitted model of such an adder on UltraScale+ (its
  latency surrogate: 1.09 ns plus 0.025 ns per carry bit) gives 1.2 to 1.6 ns over those widths;
  the RTL scheduler packs levels into stages with 1.2 ns each (``NS_PER_LEVEL`` of
  ``backends/rtl/schedule.py``). UltraScale+ uses 1.2 ns, so that the estimate and the schedule
  agree, knowing that wide adders take up to a third longer.
* *A stage* adds the registers around it: clock-to-out and setup (about 0.1 ns and 0.05 ns on
  UltraScale+) and clock skew (about 0.15 ns), 0.3 ns in all. (The scheduler's budget, whole
  levels of 1.2 ns in a clock period, leaves this out: at a 5 ns clock it packs 4 levels, 4.8 ns,
  and the estimate for such a stage is 5.1 ns.)
* *Other families* are scaled by an **assumed** fabric speed, not a measurement: UltraScale
  (20 nm) × 1.15, 7 series (28 nm, 4-bit carry chains) × 1.5.

It is an estimate to about ±30 %, labelled so wherever it is shown; Vivado's worst negative slack
(``make synth SYNTH_TOOL=vivado`` in the RTL project) is the real figure and is shown beside it
when the design has it. Yosys gives no timing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DelayModel:
    """The delay of one adder level and of one pipeline stage's register, in ns, for a family."""

    family: str
    ns_per_level: float
    ns_per_stage: float
    basis: str


#: per Yosys family (``xcup``, ``xcu``, ``xc7``); see the module docstring for where the numbers come from
DELAY_MODELS = {
    "xcup": DelayModel("UltraScale+", 1.2, 0.3, "alkaid's fitted adder delay, the RTL scheduler's 1.2 ns per level"),
    "xcu": DelayModel("UltraScale", 1.4, 0.35, "UltraScale+ × 1.15 (assumed fabric speed)"),
    "xc7": DelayModel("7 series", 1.8, 0.45, "UltraScale+ × 1.5 (assumed fabric speed)"),
}


def delay_model(rtl: dict) -> DelayModel | None:
    """The delay model of the RTL project's board (``rtl`` is its ``project.json``), or None."""
    board = (rtl.get("boards") or {}).get(rtl.get("board"), {})
    return DELAY_MODELS.get(board.get("yosys_family", ""))


def timing_record(rtl: dict | None, synthesis: dict | None = None) -> dict | None:
    """The timing estimate of an RTL project (``rtl``: its ``project.json`` as the manifest keeps it)
    and, where Vivado synthesized it (``synthesis``: its figures), the real slack beside it.

    None when the design has no RTL project or its project records no stage levels (a project
    written before they were recorded: write it again)."""
    if not rtl or not rtl.get("stage_levels"):
        return None
    levels = [int(n) for n in rtl["stage_levels"]]
    model = delay_model(rtl)
    clock = float(rtl["clock_period_ns"])
    record = {"stage_levels": levels, "levels_per_stage": rtl.get("levels_per_stage"), "clock_period_ns": clock,
              "latency_cycles": rtl.get("latency_cycles"), "ii": rtl.get("ii", 1), "critical_stage": levels.index(max(levels)),
              "critical_levels": max(levels), "model": None if model is None else asdict(model)}
    if model is not None:
        path = max(levels) * model.ns_per_level + model.ns_per_stage
        record.update(path_ns=round(path, 3), fmax_mhz=round(1000 / path, 1), slack_ns=round(clock - path, 3))
    wns = (synthesis or {}).get("wns_ns") if (synthesis or {}).get("tool") == "vivado" else None
    if wns is not None:
        record["vivado"] = {"wns_ns": float(wns), "fmax_mhz": round(1000 / (clock - float(wns)), 1)}
    return record


def timing_text(record: dict) -> str:
    """One line: the estimated Fmax from the slowest stage, labelled as an estimate, and Vivado's."""
    model = record.get("model")
    stage = f"stage {record['critical_stage']}, {record['critical_levels']} adder levels"
    cadence = (f"; latency {record['latency_cycles']} cycles, II = {record.get('ii', 1)}"
               if record.get("latency_cycles") is not None else "")
    if model is None:
        return f"slowest {stage}; no delay model for this board's family{cadence}"
    text = (f"≈ {record['fmax_mhz']:g} MHz estimated (slowest {stage} ≈ {record['path_ns']:g} ns at "
            f"~{model['ns_per_level']:g} ns per level + {model['ns_per_stage']:g} ns per stage, {model['family']}); "
            f"slack ≈ {record['slack_ns']:+g} ns at {record['clock_period_ns']:g} ns{cadence}")
    vivado = record.get("vivado")
    if vivado:
        text += f"; Vivado: WNS {vivado['wns_ns']:+g} ns, Fmax {vivado['fmax_mhz']:g} MHz"
    return text


def markdown_lines(record: dict | None) -> list[str]:
    """The report's timing section, or how to get one."""
    lines = ["## Timing (estimate, without Vivado)", ""]
    if record is None:
        return lines + ["No RTL project with a recorded schedule in this design, so no timing estimate: build "
                        "it with `--backend rtl` (or `both`), or write the RTL project again.", ""]
    model = record.get("model")
    lines += [f"Adder levels of the longest path in each of the RTL's {len(record['stage_levels'])} pipeline "
              f"stages (budget {record['levels_per_stage']} per stage): "
              + ", ".join(str(n) for n in record["stage_levels"]) + ".", "",
              f"**{timing_text(record)}**.", ""]
    if model is not None:
        lines += [f"The delay model ({model['basis']}) is an estimate to about ±30 % (docs/reports.md); "
                  + ("Vivado's worst negative slack is the real figure." if record.get("vivado") else
                     "run `make synth SYNTH_TOOL=vivado` in the RTL project for the real figure."), ""]
    return lines

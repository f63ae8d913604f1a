"""Latency in clock cycles and ns, estimated from the firmware's adder levels and the board's clock.

The firmware IR counts *adder levels*: the longest chain of additions (multiplier trees, ReLU,
pooling, casts) from an input to an output (``docs/method.md``). A trigger physicist needs clock
cycles and ns. Until synthesis (or the RTL backend) gives the real figure, this module turns the
levels into an estimate with one stated assumption: an adder level of the widths HGQ learns
(a LUT plus a short carry chain, with routing) takes about :data:`NS_PER_ADDER_LEVEL` ns on an
UltraScale+ part, and each clock cycle has its period less the clock uncertainty to spend.
The estimate is labelled as such wherever it is shown.
"""

from __future__ import annotations

import math

from hgq_fpga.backends.common.board import check_clock_period

#: assumed delay of one adder level, logic and routing, in ns (UltraScale+, -2 speed grade)
NS_PER_ADDER_LEVEL = 1.0
#: clock uncertainty assumed when the board's is unknown (the built-in boards use 12.5 %)
DEFAULT_UNCERTAINTY = 0.125


def _uncertainty(value: str | float | None) -> float:
    """``"12.5%"`` → 0.125; a number of ns is not known here, so it falls back to the default."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100
    return DEFAULT_UNCERTAINTY


def estimate_latency(adder_levels: int, clock_period_ns: float, uncertainty: str | float | None = None,
                     ns_per_level: float = NS_PER_ADDER_LEVEL) -> dict:
    """Clock cycles and ns for ``adder_levels`` at ``clock_period_ns`` (an estimate; see the module doc).

    Returns ``{"cycles", "ns", "clock_period_ns", "ns_per_adder_level", "levels_per_cycle"}``: the
    levels are packed into cycles of ``clock_period_ns × (1 − uncertainty)`` usable ns, at least one.
    """
    clock_period_ns = check_clock_period(clock_period_ns)
    usable = clock_period_ns * (1 - _uncertainty(uncertainty))
    per_cycle = max(1, math.floor(usable / ns_per_level))
    cycles = max(1, math.ceil(int(adder_levels) / per_cycle))
    return {"cycles": cycles, "ns": round(cycles * clock_period_ns, 6), "clock_period_ns": float(clock_period_ns),
            "ns_per_adder_level": ns_per_level, "levels_per_cycle": per_cycle}


def latency_text(design: dict) -> str:
    """One line for the summary: levels, and the cycles and ns estimate when the clock is known."""
    levels = f"{design['latency_adder_levels']} adder levels"
    est = design.get("latency_estimate")
    if not est:
        return f"{levels} (longest path)"
    return (f"≈ {est['cycles']} clock cycles = {est['ns']:g} ns at {est['clock_period_ns']:g} ns "
            f"(estimate from {levels}, {est['levels_per_cycle']} per cycle at "
            f"~{est['ns_per_adder_level']:g} ns each; synthesis gives the real figure)")

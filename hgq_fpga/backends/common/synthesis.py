"""The synthesis figures that every project's ``report()`` returns: one dict, the same keys.

A design folder's report, the command line's summary and the benchmarks read synthesis results of
any backend through this one shape, so none of them knows which tool produced them:

| key | meaning |
| --- | --- |
| ``backend`` | the backend's registry name (``"hls"``, ``"rtl"``) |
| ``tool`` | the synthesis tool and its version as the report names it (``"yosys"``, ``"Vitis HLS 2023.2"``) |
| ``top``, ``board``, ``part`` | what was synthesized, for which board and FPGA part |
| ``resources`` | used count per kind (:data:`KINDS`, the kinds the tool reports) |
| ``available``, ``utilisation`` | the board's count per kind, and used / available |
| ``latency_cycles``, ``clock_period_ns``, ``latency_ns`` | worst-case latency at the target clock |
| ``ii`` | initiation interval in clock cycles (a new input every ``ii`` cycles) |
| ``wns_ns``, ``estimated_clock_ns`` | worst negative slack, the tool's clock estimate (``None`` if not given) |
"""

from __future__ import annotations

#: resource kinds, in the order tables show them
KINDS = ("LUT", "FF", "CARRY", "DSP", "BRAM_18K", "URAM", "SRL", "LUTRAM")

#: DSP -> LUT exchange rate when EBOPs are set beside synthesis (``docs/method.md`` §3)
LUT_PER_DSP = 55


def figures(*, backend: str, tool: str, top: str, board: str, part: str, resources: dict,
            available: dict, latency_cycles: int, clock_period_ns: float, ii: int = 1,
            wns_ns: float | None = None, estimated_clock_ns: float | None = None) -> dict:
    """The synthesis figures of one project (see the module doc for the keys)."""
    used = {k: int(v) for k, v in resources.items()}
    avail = {k: int(v) for k, v in available.items() if v}
    return {"backend": backend, "tool": tool, "top": top, "board": board, "part": part,
            "resources": used, "available": avail,
            "utilisation": {k: used[k] / avail[k] for k in used if k in avail},
            "latency_cycles": int(latency_cycles), "clock_period_ns": float(clock_period_ns),
            "latency_ns": int(latency_cycles) * float(clock_period_ns), "ii": int(ii),
            "wns_ns": None if wns_ns is None else float(wns_ns),
            "estimated_clock_ns": None if estimated_clock_ns is None else float(estimated_clock_ns)}


def lut_equivalent(fig: dict) -> int:
    """``LUT + 55·DSP``: the synthesized logic in the unit EBOPs estimate (``docs/method.md`` §3)."""
    res = fig["resources"]
    return int(res.get("LUT", 0)) + LUT_PER_DSP * int(res.get("DSP", 0))

"""Render the C++ of a :class:`~hgq_fpga.ir.FirmwareModel` from the jinja2 templates.

``emit_firmware`` returns ``{relative path: text}`` for the three C++ files of a project and the
testbench; the project writer adds the data, scripts and README.
"""

from __future__ import annotations

from hgq_fpga.backends.hls.plan import FirmwarePlan, build_plan
from hgq_fpga.backends.common.templates import render

#: Port protocols the top function can use (``#pragma HLS INTERFACE <protocol>``).
PROTOCOLS = ("ap_vld", "ap_none")


def emit_firmware(fw, top: str, protocol: str = "ap_vld", plan: FirmwarePlan | None = None,
                  multipliers: str = "auto", ii: int = 1) -> dict[str, str]:
    """C++ sources of firmware ``fw`` with top function ``top``.

    ``multipliers``: ``"auto"``, ``"dsp"`` or ``"lut"``, the binding of the products of two
    variables (see :func:`~hgq_fpga.backends.hls.plan.build_plan`); ignored when ``plan`` is given.
    ``ii``: the initiation interval of the top function's ``PIPELINE`` pragma (a new sample every
    ``ii`` clock cycles; HLS shares operators among the cycles, as hls4ml's reuse factor does).

    Returns ``firmware/<top>.h``, ``firmware/<top>.cpp`` (what HLS synthesises),
    ``firmware/<top>_bridge.cpp`` (the batch entry point of the Python C simulation) and
    ``tb/<top>_test.cpp`` (the C testbench).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"port protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    plan = plan or build_plan(fw, top, multipliers)
    return {
        f"firmware/{top}.h": render("hls/firmware/header.h.j2", plan=plan),
        f"firmware/{top}.cpp": render("hls/firmware/top.cpp.j2", plan=plan, protocol=protocol, ii=ii),
        f"firmware/{top}_bridge.cpp": render("hls/firmware/bridge.cpp.j2", plan=plan),
        f"tb/{top}_test.cpp": render("hls/tb/test.cpp.j2", plan=plan),
    }

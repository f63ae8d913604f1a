"""The RTL backend as the registry knows it (:mod:`hgq_fpga.backends.registry`)."""

from __future__ import annotations

from pathlib import Path

from hgq_fpga.backends.rtl.project import RTLProject
from hgq_fpga.backends.rtl.writer import write_project


class RTLBackend:
    """Multiplier-free, pipelined Verilog; simulated with Verilator, synthesized with Yosys (or Vivado).

    A design's ``synth=True`` runs Yosys on it (seconds to minutes), so the report shows LUTs,
    flip-flops and the latency in clock cycles.
    """

    name = "rtl"
    description = "Verilog RTL, simulated with Verilator, synthesized with Yosys"
    synth_in_design = True

    def write_project(self, fw, out_dir: str | Path, **options) -> RTLProject:
        return write_project(fw, out_dir, **options)

    def open_project(self, fw, path: str | Path) -> RTLProject:
        return RTLProject(fw, path)

    def require_tools(self, synth: bool = False) -> None:
        from hgq_fpga.backends.rtl.tools import require

        require("verilator")
        if synth:
            require("yosys")


BACKEND = RTLBackend()

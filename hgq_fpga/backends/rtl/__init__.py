"""Verilog RTL backend: multiplier-free, pipelined, bit-exact RTL straight from the firmware IR.

``write_project(fw, out_dir, board="vu9p")`` writes a folder with the Verilog, a Verilator
testbench, synthesis scripts (Yosys or Vivado) and a Makefile; the returned :class:`RTLProject`
simulates it (``compile``/``predict``) and synthesizes it (``synth``/``report``).  Imports only
numpy, jinja2, the standard library and the firmware IR (never Keras).
"""

from hgq_fpga.backends.rtl.project import RTLProject
from hgq_fpga.backends.rtl.synth_report import ReportError, make_report
from hgq_fpga.backends.rtl.tools import ToolMissingError
from hgq_fpga.backends.rtl.writer import write_project

__all__ = ["write_project", "RTLProject", "ToolMissingError", "ReportError", "make_report"]

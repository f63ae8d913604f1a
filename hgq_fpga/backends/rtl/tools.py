"""Find the open-source tools of the RTL flow, with messages that say how to install them.

The project pins Debian 12 packages (``make install-rtl-tools``, which ``.ci/run`` calls):
Verilator 5.006 and Yosys 0.23.  Other versions usually work; the pinned ones are tested.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

#: Debian 12 package versions the project installs and tests against.
PINNED = {"verilator": "5.006-3", "yosys": "0.23-6"}


class ToolMissingError(RuntimeError):
    """A tool of the RTL flow is not on PATH; the message says how to install it."""


def require(tool: str) -> str:
    """Path of ``tool`` (``verilator``, ``yosys``), or a :class:`ToolMissingError`."""
    path = shutil.which(tool)
    if path is None:
        pkg = PINNED.get(tool)
        hint = (f"install it with `make install-rtl-tools` in the hgq_fpga checkout, or "
                f"`apt-get install {tool}={pkg}` (Debian 12)" if pkg else "install it")
        raise ToolMissingError(f"`{tool}` is not on PATH: {hint}")
    return path


@lru_cache(maxsize=None)
def version(tool: str) -> str:
    """First line of ``tool --version`` (``-V`` for Yosys)."""
    flag = "-V" if tool == "yosys" else "--version"
    out = subprocess.run([require(tool), flag], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else tool


#: ``synth_xilinx`` options of ``make synth`` (and of the benchmark, for both designs compared):
#: out-of-context (no I/O buffers), one flat netlist, LUTs and carry chains only (constant products
#: are shifts and adds; DSPs are allowed only where a user asks for them for the products of two
#: variables, ``multipliers="dsp"`` or ``"auto"``, which drops ``-nodsp``).
SYNTH_XILINX_OPTIONS = "-flatten -nodsp -noiopad -noclkbuf"


def yosys_commands(sources: str, top: str, family: str, stat_json: str, stat_txt: str | None = None,
                   dsp: bool = False) -> str:
    """The Yosys script (``-p``) that synthesizes ``sources`` for ``family`` and writes ``stat``;
    ``dsp``: let Yosys map multipliers to DSP blocks (no ``-nodsp``)."""
    options = SYNTH_XILINX_OPTIONS.replace("-nodsp ", "") if dsp else SYNTH_XILINX_OPTIONS
    script = (f"read_verilog {sources}; synth_xilinx -family {family} -top {top} {options}; "
              f"tee -q -o {stat_json} stat -json")
    return script + (f"; tee -q -o {stat_txt} stat" if stat_txt else "")

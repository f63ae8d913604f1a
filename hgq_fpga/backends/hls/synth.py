"""Drive Vitis HLS (or Vivado HLS) on a written project and turn its report into numbers.

The generated project's Makefile runs Vitis itself (``make synth`` needs no Python); this driver
is the same job from Python, returning the parsed numbers. With no HLS tool on ``PATH`` it fails
with a message that says what was looked for and what to do instead, rather than half-running.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import click

from hgq_fpga.backends.common.board import Board, load_board
from hgq_fpga.backends.common.toolchain import ToolchainError
from hgq_fpga.backends.hls.synth_report import SynthesisReport, parse_csynth_xml

HLS_TOOLS = ("vitis_hls", "vivado_hls")
#: the synthesis tool's output, beside build_prj.tcl
LOG_FILE = "synth.log"
STEPS = ("csim", "csynth", "cosim", "export", "vsynth")


def find_hls_tool() -> str:
    """Return the first of ``vitis_hls`` / ``vivado_hls`` found on ``PATH``."""
    for tool in HLS_TOOLS:
        found = shutil.which(tool)
        if found:
            return found
    raise ToolchainError(
        f"no HLS tool found: looked for {' and '.join(HLS_TOOLS)} on PATH. Source the AMD tools' "
        "settings64.sh (e.g. `source /tools/Xilinx/Vitis_HLS/2023.2/settings64.sh`) and run again, "
        "or copy this project folder to a machine with Vitis HLS. The C simulation (`make csim`) "
        "needs only g++.")


def top_function(script: Path) -> str:
    """The top function that ``build_prj.tcl`` synthesises (its ``set_top`` line)."""
    match = re.search(r"^set_top\s+(\S+)", script.read_text(), flags=re.MULTILINE)
    if match is None:
        raise ValueError(f"{script} has no set_top line")
    return match.group(1)


def find_csynth_xml(project_dir: Path, top: str) -> Path:
    """The top function's C-synthesis XML report that a run left in ``project_dir``."""
    reports = sorted(project_dir.glob(f"*_prj/solution1/syn/report/{top}_csynth.xml"),
                     key=lambda p: p.stat().st_mtime)
    if not reports:
        raise ToolchainError(f"the HLS tool finished but wrote no {top}_csynth.xml under "
                             f"{project_dir}/*_prj/solution1/syn/report; see its output in "
                             f"{project_dir / LOG_FILE}")
    return reports[-1]


def run_synthesis(project_dir: str | Path, board: str | Board | None = None,
                  steps: Sequence[str] = ("csynth",), tool: str | None = None) -> SynthesisReport | None:
    """Run the chosen ``steps`` of ``build_prj.tcl`` in ``project_dir``.

    ``board`` overrides the part and clock the project was written for. When C synthesis ran, its
    report is parsed and returned (``hgq-fpga report DIR`` puts it into ``DIR/report/``, the one
    ``report.md`` of a design).
    """
    project_dir = Path(project_dir)
    script = project_dir / "build_prj.tcl"
    if not script.is_file():
        raise FileNotFoundError(f"{script} not found: is {project_dir} a project written by hgq_fpga?")
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
    if board is not None:             # a wrong board is a mistake to report before any tool runs
        board = board if isinstance(board, Board) else load_board(board)
    exe = tool or find_hls_tool()
    env = dict(os.environ)
    for step in STEPS:
        env[f"HGQ_{step.upper()}"] = "1" if step in steps else "0"
    if board is not None:
        env["HGQ_PART"] = board.part
        env["HGQ_CLOCK_NS"] = f"{board.clock_period_ns:g}"
    log = project_dir / LOG_FILE
    print(f"running {Path(exe).name} on {script.name} (output in {log})", file=sys.stderr)
    with log.open("w") as handle:
        proc = subprocess.run([exe, "-f", "build_prj.tcl"], cwd=project_dir, env=env,
                              stdout=handle, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f"{Path(exe).name} failed with exit code {proc.returncode}; see its "
                           f"output in {log}")
    if "csynth" not in steps:
        return None
    return parse_csynth_xml(find_csynth_xml(project_dir, top_function(script)))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("project", default=".", type=click.Path(path_type=Path))
@click.option("--board", default=None, help="Board name or YAML file [default: as written].")
@click.option("--steps", default="csynth", show_default=True,
              help=f"Comma-separated steps from {','.join(STEPS)}.")
def main(project: Path, board: str | None, steps: str) -> None:
    """Run Vitis/Vivado HLS on an hgq_fpga project (the project Makefile's `make synth`)."""
    try:
        report = run_synthesis(project, board, [s for s in steps.split(",") if s])
    except (ToolchainError, FileNotFoundError, ValueError, RuntimeError) as err:
        raise click.ClickException(str(err)) from None
    if report is not None:
        click.echo(report.to_markdown())


if __name__ == "__main__":
    main(prog_name="python -m hgq_fpga.backends.hls.synth")

"""Run under an earlier source tree of hgq_fpga (``PYTHONPATH=<tree>``): write that version's RTL of
a saved firmware IR and synthesize it with the study's Yosys script, so that the RTL study can set
"ours before" beside "ours" in one run, on the same machine and the same models.

    PYTHONPATH=TREE python bench/studies/rtl/before_worker.py IR_DIR OUT_DIR CLOCK_NS

Prints one JSON line: resources, longest path, latency, write seconds (wall and CPU) and Yosys seconds.
Only the standard library and that tree's hgq_fpga are used (no bench code of this tree).
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

from hgq_fpga.backends.rtl import write_project
from hgq_fpga.backends.rtl.synth_report import parse_yosys_stat
from hgq_fpga.backends.rtl.tools import yosys_commands
from hgq_fpga.ir.model import load_firmware


def _readable(ir: Path, out: Path) -> Path:
    """A copy of the saved IR without the input fields this tree does not know (fields added later
    with a default, such as ``source``), so that an earlier tree reads a later IR."""
    import dataclasses
    import shutil

    from hgq_fpga.ir import ops

    known = {f.name for f in dataclasses.fields(ops.InputSpec)}
    doc = json.loads((ir / "model.json").read_text())
    doc["inputs"] = [{k: v for k, v in s.items() if k in known} for s in doc["inputs"]]
    copy = out / "ir"
    copy.mkdir(parents=True, exist_ok=True)
    shutil.copy(ir / "arrays.npz", copy / "arrays.npz")
    (copy / "model.json").write_text(json.dumps(doc))
    return copy


def main() -> int:
    ir, out, clock = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    fw = load_firmware(_readable(ir, out))
    t, c = time.perf_counter(), time.process_time()
    prj = write_project(fw, out / "rtl", clock_period=clock, replace=True)
    write_s, write_cpu = time.perf_counter() - t, time.process_time() - c
    stat = out / "rtl" / "yosys_stat.json"
    sources = " ".join(str(p) for p in sorted((out / "rtl" / "src").glob("*.v")))
    t = time.perf_counter()
    proc = subprocess.run(["yosys", "-p", yosys_commands(sources, prj.top, "xcup", str(stat)) + "; ltp -noff"],
                          capture_output=True, text=True, check=True)
    paths = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", proc.stdout)
    print(json.dumps({"resources": parse_yosys_stat(stat), "longest_path_cells": int(paths[-1]) if paths else None,
                      "yosys_s": round(time.perf_counter() - t, 2), "latency_cycles": prj.latency,
                      "write_s": round(write_s, 2), "write_cpu_s": round(write_cpu, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

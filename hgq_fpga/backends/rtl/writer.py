"""Write a self-contained RTL project folder for a :class:`~hgq_fpga.ir.FirmwareModel`.

Layout: ``src/<name>.v`` (the design), ``sim/`` (Verilator testbench, input codes and the
emulator's expected outputs), ``synth/vivado.tcl``, ``scripts/report.py`` (the report parser,
standard library only), ``project.json`` (latency, ports, boards), ``Makefile`` and ``README.md``.
The firmware IR is not copied in: a design folder keeps it once, beside its projects.  The folder is built in a hidden sibling and renamed into place,
so a failure never leaves half a project and a folder hgq_fpga did not write is never replaced.
No absolute path is written anywhere.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib import resources
from pathlib import Path

import numpy as np

from hgq_fpga.backends.common.names import check_design_name
from hgq_fpga.backends.common.board import clock_period as checked_clock, load_board
from hgq_fpga.backends.common.templates import render as _render
from hgq_fpga.backends.rtl import vectors
from hgq_fpga.backends.rtl.cost import luts
from hgq_fpga.backends.rtl.fold_schedule import schedule_folded
from hgq_fpga.backends.rtl.lower import Port, lower_model
from hgq_fpga.backends.rtl.project import VERILATOR_FLAGS, RTLProject, input_codes
from hgq_fpga.backends.rtl.schedule import (REGISTER_INPUTS, REGISTER_OUTPUTS, default_levels,
                                            live_nodes, schedule)
from hgq_fpga.backends.rtl.tools import PINNED, yosys_commands
from hgq_fpga.backends.rtl.verilog import emit_module
from hgq_fpga.folders import check_replaceable, move_into_place, observe, staging_folder

#: Test vectors written into ``sim/`` when none are given.
DEFAULT_VECTORS = 64
MARKER = "hgq_fpga rtl project"


def random_codes(fw, n: int, seed: int = 0) -> list[np.ndarray]:
    """Uniformly random raw codes of every input element's type (the whole range)."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in fw.inputs:
        lo, hi = spec.type.bounds()
        lo, hi = lo.astype(np.int64), hi.astype(np.int64)
        out.append(lo + np.floor(rng.random((n, *spec.shape)) * (hi - lo + 1)).astype(np.int64))
    return out


def expected_codes(fw, codes: list[np.ndarray]) -> list[np.ndarray]:
    """The emulator's output codes for input codes (each code is exact as a float64 value)."""
    values = [np.ldexp(c.astype(np.float64), -s.type.f) for c, s in zip(codes, fw.inputs)]
    env = fw.run_raw(values if len(values) > 1 else values[0], keep_all=False)
    return [env[o] for o in fw.outputs]


#: Vivado family → Yosys ``synth_xilinx -family``, for board files without ``yosys_family``.
YOSYS_FAMILIES = {"virtexuplus": "xcup", "kintexuplus": "xcup", "zynquplus": "xcup",
                  "virtexu": "xcu", "kintexu": "xcu", "zynq": "xc7", "artix7": "xc7",
                  "kintex7": "xc7", "virtex7": "xc7", "spartan7": "xc7"}


def yosys_family(board) -> str:
    """The board's Yosys family: its ``yosys_family`` field, else derived from ``family``."""
    fam = getattr(board, "yosys_family", "") or YOSYS_FAMILIES.get(board.family.lower(), "")
    if not fam:
        raise ValueError(f"board {board.name!r}: no `yosys_family` field and no known Yosys family "
                         f"for family {board.family!r}; add e.g. `yosys_family: xcup` to its file")
    return fam


def _boards(extra) -> list[dict]:
    from hgq_fpga.backends.common.board import known_boards
    boards = dict(known_boards())
    boards[extra.name] = extra
    return [{"name": b.name, "part": b.part, "yosys_family": yosys_family(b),
             "clock_period_ns": b.clock_period_ns, "resources": b.resources}
            for b in boards.values()]


def _layout(p: Port) -> str:
    if not p.elements:
        return "–"
    w = sorted(set(p.widths))
    return f"{w[0]}..{w[-1]} bits" if len(w) > 1 else f"{w[0]} bits each"


def _is_ours(path: Path) -> bool:
    info = path / "project.json"
    try:
        return json.loads(info.read_text()).get("written_by") == MARKER
    except (OSError, ValueError):
        return False


def write_project(fw, out_dir: str | Path, board: str = "vu9p", name: str = "myproject",
                  clock_period: float | None = None, test_data=None, levels: int | None = None,
                  cse: bool = True, share_products: bool = False, pack: bool = True, register_inputs: bool = REGISTER_INPUTS,
                  register_outputs: bool = REGISTER_OUTPUTS, test_codes: list[np.ndarray] | None = None,
                  n_vectors: int = DEFAULT_VECTORS, replace: bool = False,
                  cache_dir: str | Path | None = None, multipliers: str = "lut",
                  ii: int | dict[str, int] = 1) -> RTLProject:
    """Write the RTL project of ``fw`` into ``out_dir`` and return it (not yet simulated).

    ``board``: a built-in board name or alias, or a board YAML file (part, Yosys family, clock).
    ``name``: the top module (a Verilog identifier). ``clock_period``: ns, default the board's;
    with ``levels`` (adder levels per pipeline stage, default from the clock, see
    :func:`~hgq_fpga.backends.rtl.schedule.default_levels`) it sets the register stages.  ``cse``
    (default on; fewer LUTs than without on every model measured, see the RTL benchmark): share
    sub-expressions ``x_a ± x_b·2^d`` across the columns of each Dense/Conv (greedy pair
    elimination).  ``share_products`` (with ``cse=False``): build each ``x·m`` (odd ``m``) once per
    layer and share it across columns.  ``register_inputs`` / ``register_outputs``: a register
    stage at the input / output ports, one clock cycle each (default: outputs only, see
    :data:`~hgq_fpga.backends.rtl.schedule.REGISTER_INPUTS`).  ``sim/`` holds the codes of
    ``test_data`` (float inputs, quantized as the emulator does) followed by ``test_codes`` (raw
    input codes, one array per input; default ``n_vectors`` random codes over each type's whole
    range).  ``replace``: swap out an earlier hgq_fpga RTL project.  ``multipliers``: how the
    products of two variables (``Einsum`` ops) are built: ``"lut"`` (default: partial products and
    adders, no multiplier to bind; Yosys ``-nodsp``), ``"dsp"`` (DSP blocks: Yosys maps multipliers to DSPs,
    Vivado ``use_dsp = "yes"``) or ``"auto"`` (the synthesis tool chooses: DSPs allowed, no
    attribute); the same names as the HLS backend's option.  ``pack`` (default on): Dense
    and Conv inputs of few bits become LUT6 partial sums where that costs fewer LUTs
    (:mod:`~hgq_fpga.backends.rtl.cmvm`).  ``ii``: a new sample every ``ii`` clock cycles (default
    1): every Dense and Conv may then take up to ``ii`` cycles with a fraction of the logic
    (:mod:`~hgq_fpga.backends.rtl.fold`); ``{"dense_1": 4}`` folds only the layers named.  With
    ``ii > 1`` the module has an ``in_ready`` output: a sample is taken when ``in_valid`` and
    ``in_ready`` are both high, which happens once every ``ii`` cycles.
    """
    top = check_design_name(name)
    out = Path(out_dir)
    check_replaceable(out, replace, _is_ours, "RTL project")
    b = load_board(board)
    clock = checked_clock(b, clock_period)
    levels = int(levels) if levels is not None else default_levels(clock)
    low = lower_model(fw, share_products=share_products, cse=cse, multipliers=multipliers, pack=pack, ii=ii)
    outs = [n for ns in low.output_nodes for n in ns]
    nodes = live_nodes(low.net, outs)
    sched = (schedule_folded(low.net, nodes, outs, levels, low.ii, register_inputs, register_outputs) if low.ii > 1
             else schedule(nodes, outs, levels, register_inputs, register_outputs))
    nodes = sched.nodes if sched.nodes is not None else nodes
    codes = [np.asarray(c, dtype=np.int64) for c in (test_codes if test_codes is not None
                                                     else random_codes(fw, n_vectors))]
    if test_data is not None:
        given = input_codes(fw, test_data)
        codes = [np.concatenate([g, c]) for g, c in zip(given, codes)]
    expected = expected_codes(fw, codes)
    ports = [dict(asdict(p), shape=list(p.shape)) for p in low.inputs + low.outputs]
    boards = _boards(b)
    info = {"written_by": MARKER, "top": top, "board": b.name, "clock_period_ns": clock,
            "levels_per_stage": levels, "stage_levels": sched.stage_levels, "latency_cycles": sched.latency,
            "ii": low.ii, "folding": dict(low.ways), "lut_estimate": luts(nodes),
            "latency_ns": sched.latency * clock, "share_products": bool(share_products),
            "cse": bool(cse), "pack": bool(pack), "multipliers": multipliers,
            "register_inputs": bool(register_inputs),
            "register_outputs": bool(register_outputs),
            "inputs": ports[:len(low.inputs)], "outputs": ports[len(low.inputs):],
            "boards": {d["name"]: d for d in boards},
            "nodes": {k: sum(1 for n in nodes if n.kind == k) for k in sorted({n.kind for n in nodes})},
            "pipeline_registers": sum(max(0, sched.last_use[n.id] - sched.stage[n.id]) * n.width
                                      for n in nodes)}
    word = {}
    for group in (low.inputs, low.outputs):
        at = 0
        for p in group:
            word[p.name] = at
            at += vectors.words(p)
    ctx = dict(top=top, board=b.name, clock=clock, levels=levels, latency=sched.latency, ii=low.ii,
               folding=dict(low.ways),
               latency_ns=f"{sched.latency * clock:g}", boards=boards, pinned=PINNED,
               n_vectors=len(codes[0]) if codes else 0, share_products=share_products, cse=cse, pack=pack,
               register_inputs=bool(register_inputs), register_outputs=bool(register_outputs),
               verilator_flags=" ".join(VERILATOR_FLAGS),
               yosys_script=yosys_commands("$(SRC)", top, "$(FAMILY)", "reports/yosys_stat.json",
                                           "reports/yosys_stat.txt", dsp=multipliers != "lut"))
    tb_ports = lambda ps: [{"name": p.name, "word": word[p.name], "top_word": word[p.name] + (p.width - 1) // 32,  # noqa: E731
                            "top_mask": hex((1 << ((p.width - 1) % 32 + 1)) - 1)} for p in ps if p.width]
    files = {
        f"src/{top}.v": emit_module(low, nodes, sched, top,
                                    f"// {top}: written by hgq_fpga from a firmware IR; do not edit.\n"
                                    f"// Latency {sched.latency} cycles at {clock:g} ns, II = {low.ii}."),
        "sim/tb.cpp": _render("rtl/tb.cpp.j2", inputs=tb_ports(low.inputs), outputs=tb_ports(low.outputs),
                              in_words=sum(vectors.words(p) for p in low.inputs),
                              out_words=sum(vectors.words(p) for p in low.outputs), **ctx),
        "synth/vivado.tcl": _render("rtl/vivado.tcl.j2", **ctx),
        "Makefile": _render("rtl/Makefile.j2", **ctx),
        "README.md": _render("rtl/README.md.j2",
                             inputs=[dict(asdict(p), width=p.width, layout=_layout(p)) for p in low.inputs],
                             outputs=[dict(asdict(p), width=p.width, layout=_layout(p)) for p in low.outputs],
                             **ctx),
        "scripts/report.py": resources.files("hgq_fpga.backends.rtl").joinpath("synth_report.py").read_text(),
        "project.json": json.dumps(info, indent=1) + "\n",
    }
    seen = observe(out)
    with staging_folder(out) as d:
        for rel, text in files.items():
            path = d / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        vectors.write_inputs(d / "sim" / "input.bin", low.inputs, codes)
        vectors.write_expected(d / "sim" / "expected.bin", low.outputs, expected)
        move_into_place(d, out, seen=seen, ours=_is_ours if replace else None)
    return RTLProject(fw, out, cache_dir)

"""Write a self-contained HLS project folder for a :class:`~hgq_fpga.ir.FirmwareModel`.

The folder is built in a temporary sibling and renamed into place at the end, so a failure
never leaves a half-written project, and an existing non-empty folder is never touched.

Layout: ``firmware/`` (C++), ``tb/`` (testbench and vectors from the emulator), ``ap_types/`` (the
``ap_fixed`` headers with their licence), ``build_prj.tcl``, ``Makefile``, ``README.md`` and
``project.json`` (top, board, clock). The folder is portable: no file names a path of the writing
machine, ``make csim`` needs only g++ and ``make synth`` only Vitis HLS. The firmware IR is not
copied in: a design folder keeps it once, beside its projects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from hgq_fpga.backends.common.board import Board, clock_period as checked_clock, known_boards, load_board
from hgq_fpga.backends.common.aptypes import copy_ap_types
from hgq_fpga.backends.common.initiation import initiation_intervals
from hgq_fpga.backends.hls.emit import emit_firmware
from hgq_fpga.backends.hls.plan import build_plan
from hgq_fpga.backends.hls.project import PROJECT_FILE, HLSProject
from hgq_fpga.backends.common.templates import render
from hgq_fpga.folders import check_replaceable, move_into_place, observe, staging_folder

#: Samples of the default testbench vectors.
TB_SAMPLES = 32


def default_tb_data(fw, n: int = TB_SAMPLES, seed: int = 0) -> list[np.ndarray]:
    """Random inputs that reach every element's range and beyond (so overflow happens too)."""
    rng = np.random.default_rng(seed)
    out = []
    for spec in fw.inputs:
        t = spec.type
        scale = np.ldexp(1.0, np.where(t.live, t.i, 0).astype(np.int64))
        out.append(rng.normal(0.0, 1.0, (n, *spec.shape)) * scale * 1.5)
    return out


def _tb_text(arrays: list[np.ndarray]) -> str:
    """One sample per line, all arrays concatenated, doubles printed to round-trip exactly."""
    rows = np.concatenate([np.asarray(a, np.float64).reshape(len(a), -1) for a in arrays], axis=1)
    return "".join(" ".join(f"{v:.17g}" for v in row) + "\n" for row in rows)


#: characters a make variable name may hold here (board names, aliases and parts become names)
_MAKE_NAME = re.compile(r"^[A-Za-z0-9_.+-]+$")


def board_table(current: Board) -> list[dict]:
    """The boards the Makefile knows (the built-in ones and ``current``), with every name a user may type.

    Each entry: ``name``, ``part``, ``clock`` and ``keys``: the name, aliases and part in lower case
    (the Makefile lower-cases ``BOARD``), so ``make synth BOARD=...`` accepts what ``load_board`` does.
    """
    boards = {b.name: b for b in known_boards().values()}
    boards.setdefault(current.name, current)
    table = []
    for b in boards.values():
        keys = []
        for key in (b.name, *b.aliases, b.part):
            if _MAKE_NAME.match(key.lower()) and key.lower() not in keys:
                keys.append(key.lower())
        table.append({"name": b.name, "part": b.part, "clock": f"{b.clock_period_ns:g}", "keys": keys})
    return table


def _write_files(fw, d: Path, name: str, board: Board, clock: float, tb_inputs: list[np.ndarray],
                 protocol: str, multipliers: str = "auto", ii: int = 1) -> None:
    plan = build_plan(fw, name, multipliers)
    files = emit_firmware(fw, name, protocol=protocol, plan=plan, ii=ii)
    y = fw.predict(tb_inputs if len(tb_inputs) > 1 else tb_inputs[0])
    files["tb/tb_data/tb_input.dat"] = _tb_text(tb_inputs)
    files["tb/tb_data/tb_output.dat"] = _tb_text(y if isinstance(y, list) else [y])
    files["build_prj.tcl"] = render("hls/build_prj.tcl.j2", name=name, top=name, board=board,
                                    clock_period_ns=clock)
    files["Makefile"] = render("hls/Makefile.j2", name=name, top=name, board=board,
                               boards=board_table(board))
    files["README.md"] = render("hls/README.md.j2", name=name, board=board, clock_period_ns=clock,
                                plan=plan, n_samples=len(tb_inputs[0]), ii=ii)
    files[PROJECT_FILE] = json.dumps({"written_by": MARKER, "top": name, "board": board.name, "part": board.part,
                                      "clock_period_ns": clock, "protocol": protocol, "ii": ii}, indent=1) + "\n"
    for rel, text in files.items():
        path = d / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    copy_ap_types(d / "ap_types")


#: what ``project.json`` says of the writer
MARKER = "hgq_fpga hls project"


def is_hls_project(path: Path) -> bool:
    """Whether ``path`` holds a project that :func:`write_project` wrote (its record says so)."""
    try:
        return json.loads((Path(path) / PROJECT_FILE).read_text()).get("written_by") == MARKER
    except (OSError, ValueError, AttributeError):
        return False


def write_project(fw, out_dir: str | Path, board: str | Path | Board = "vu9p",
                  name: str = "myproject", clock_period: float | None = None, test_data=None,
                  cache_dir: str | Path | None = None, protocol: str = "ap_vld",
                  replace: bool = False, macs: str = "integer", multipliers: str = "auto",
                  ii: int | dict[str, int] = 1) -> HLSProject:
    """Write the HLS project of ``fw`` into ``out_dir`` and return it (not yet compiled).

    ``board``: a built-in board name or alias, a YAML file, or a :class:`Board`.
    ``name``: the top function (a C identifier).  ``clock_period``: ns, default the board's.
    ``test_data``: testbench inputs (an array, or a list for several inputs; default random ones
    reaching every element's range and beyond).  ``cache_dir``: where compiled C simulations are
    kept.  ``protocol``: port protocol of the top function, ``ap_vld`` or ``ap_none``.
    ``replace``: swap out an earlier hgq_fpga project in ``out_dir`` in one step (never a folder
    hgq_fpga did not write).  ``macs``: the C simulation :meth:`HLSProject.compile` builds by
    default.  ``multipliers``: how products of two variables are built, ``"auto"`` (the tool
    chooses), ``"dsp"`` or ``"lut"``.  ``ii``: a new sample every ``ii`` clock cycles (the top
    function's ``PIPELINE II``); per layer (``{"dense_1": 4}``) the whole top function takes the
    largest, since HLS pipelines it as one.  Raises ``FileExistsError`` if ``out_dir`` exists and is not
    empty (and, with ``replace``, is not an hgq_fpga project).
    """
    out = Path(out_dir)
    check_replaceable(out, replace, is_hls_project, "HLS project")
    b = board if isinstance(board, Board) else load_board(board)
    clock = checked_clock(b, clock_period)
    n_ii, _ = initiation_intervals(fw, ii)
    if test_data is None:
        tb_inputs = default_tb_data(fw)
    else:
        tb_inputs = [np.asarray(a, np.float64) for a in fw.as_inputs(test_data)]
    seen = observe(out)
    with staging_folder(out) as staging:
        _write_files(fw, staging, name, b, clock, tb_inputs, protocol, multipliers, n_ii)
        move_into_place(staging, out, seen=seen, ours=is_hls_project if replace else None)
    return HLSProject(fw, out, name, cache_dir, macs)

"""Verilator simulation of the generated RTL equals the IR emulator bit for bit (zero tolerance).

The architectures are the small ``FirmwareBuilder`` graphs of the HLS C-simulation tests; they
cover every op kind, all 7 rounding and 4 overflow modes, width-0 elements, pruned weights and
several inputs and outputs.  To keep Verilator builds few, the graphs of one test are merged into
one model (one module, one build), and run on normal values, values four times larger (overflow
everywhere) and exact ties of the input quantization.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess

import numpy as np
import pytest

from hgq_fpga.backends.rtl import cost, verilog, write_project
from hgq_fpga.backends.rtl.arith import csd
from hgq_fpga.backends.rtl.synth_report import parse_yosys_stat
from hgq_fpga.backends.rtl.tools import yosys_commands
from hgq_fpga.ir import FirmwareBuilder, FirmwareModel
from test_hls_csim import (MODES, _data, arch_all_cast_modes, arch_avgpool, arch_concat_reshape,
                           arch_conv, arch_input_modes, arch_mlp, arch_pruned, arch_tables,
                           arch_two_in_two_out, arch_wide_and_shifted, arch_zero_width)


def merge(models: list[FirmwareModel]) -> FirmwareModel:
    """One model holding every graph side by side (tensor names prefixed ``m<n>_``)."""
    inputs, ops, outputs = [], [], []
    for n, fw in enumerate(models):
        p = f"m{n}_"
        inputs += [dataclasses.replace(s, name=p + s.name) for s in fw.inputs]
        ops += [dataclasses.replace(op, name=p + op.name, inputs=tuple(p + x for x in op.inputs))
                for op in fw.ops]
        outputs += [p + o for o in fw.outputs]
    return FirmwareModel(inputs, ops, outputs)


def _as_list(y):
    return y if isinstance(y, list) else [y]


def _mismatches(prj, fw, rng, n=200) -> int:
    """Differing output values of RTL and emulator over the normal, x4 and tie data sets."""
    bad = 0
    for x in _data(fw, rng, n):
        got, want = _as_list(prj.predict(x)), _as_list(fw.predict(x))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape
            bad += int(np.sum(g != w))
    return bad


def test_csd_digits_are_canonical():
    for v in list(range(-300, 300)) + [2 ** 40 - 1, -(2 ** 45) + 3]:
        d = csd(v)
        assert sum(s * (1 << k) for k, s in d) == v
        shifts = [k for k, _ in d]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))      # no adjacent digits


def test_dense_relu_add_tables_casts_every_mode_deep_pipeline(tmp_path):
    rng = np.random.default_rng(1)
    models = [arch_mlp(rng, q, o) for q, o in (("RND", "SAT"), ("TRN", "WRAP"), ("RND_CONV", "SAT_SYM"))]
    models += [arch_all_cast_modes(rng), arch_input_modes(rng), arch_concat_reshape(rng),
               arch_tables(rng), arch_zero_width(rng), arch_pruned(rng), arch_two_in_two_out(rng),
               arch_wide_and_shifted(rng)]
    fw = merge(models)
    # two adder levels per stage: a deep pipeline, most operands cross registers
    prj = write_project(fw, tmp_path / "p", levels=2, cse=False)
    assert prj.latency > 4
    assert _mismatches(prj, fw, np.random.default_rng(1)) == 0


def test_conv_pooling_shared_pairs_and_products(tmp_path):
    rng = np.random.default_rng(2)
    models = [arch_conv(rng, 1, "valid", 1), arch_conv(rng, 1, "same", 2), arch_conv(rng, 2, "same", 2),
              arch_avgpool(rng, 1, 3, "same"), arch_avgpool(rng, 2, 3, "valid")]
    fw = merge(models)
    prj = write_project(fw, tmp_path / "p", share_products=True)
    assert _mismatches(prj, fw, np.random.default_rng(2)) == 0


def test_a_mutant_rounding_is_caught(tmp_path, monkeypatch):
    """RND_CONV printed as RND: differs only on exact ties, which the tie data must hit."""
    rng = np.random.default_rng(5)
    fw = arch_mlp(rng, "RND_CONV", "SAT")
    real = verilog._shr

    def mutant(n, r, s):
        if n.params["round"] == "RND_CONV":
            n = dataclasses.replace(n, params={**n.params, "round": "RND"})
        return real(n, r, s)
    monkeypatch.setattr(verilog, "_shr", mutant)
    prj = write_project(fw, tmp_path / "p")
    assert _mismatches(prj, fw, np.random.default_rng(5)) > 0


def test_every_wire_has_its_ir_width_and_zero_width_makes_no_logic(tmp_path):
    rng = np.random.default_rng(3)
    fw = arch_zero_width(rng)
    prj = write_project(fw, tmp_path / "p")
    text = (prj.path / "src" / "myproject.v").read_text()
    x = fw.types["x"]
    width = int(x.width.sum())
    assert f"input wire [{width - 1}:0] in_x" in text
    out = fw.types[fw.outputs[0]]
    live = out.width[out.width > 0]
    m = re.search(r"output reg \[(\d+):0\] out_", text)
    assert int(m.group(1)) + 1 == int(live.sum())
    # a graph whose only output is dead: no ports beyond clock and valid, no logic
    b = FirmwareBuilder()
    xi = b.input("x", (3,), k=1, i=2, f=1)
    dead = write_project(b.build([b.cast(xi, 0, 0, 0)]), tmp_path / "dead")
    dtext = (dead.path / "src" / "myproject.v").read_text()
    assert not re.search(r"^\s*wire \[", dtext, re.M) and "out_cast" not in dtext


def test_latency_follows_the_adder_budget(tmp_path):
    fw = arch_mlp(np.random.default_rng(4))
    lat = [write_project(fw, tmp_path / f"p{lv}", levels=lv).latency for lv in (1, 2, 4, 100)]
    # one stage; by default the outputs are registered, the inputs not: one clock cycle
    assert lat == sorted(lat, reverse=True) and lat[0] > lat[-1] == 1
    fast = write_project(fw, tmp_path / "clk", clock_period=1.0).latency
    slow = write_project(fw, tmp_path / "clk2", clock_period=20.0).latency
    assert fast > slow


@pytest.mark.parametrize("reg_in,reg_out,levels", [(False, False, 100), (True, True, 100),
                                                    (True, False, 2), (False, True, 2)])
def test_port_registers_are_optional_and_counted_in_the_latency(tmp_path, reg_in, reg_out, levels):
    """Without port registers and in one stage the module is combinational (latency 0); each
    port register adds one cycle; the simulated latency must equal the declared one."""
    rng = np.random.default_rng(7)
    fw = arch_mlp(rng, "RND", "SAT")
    base = write_project(fw, tmp_path / "base", levels=levels, register_inputs=False,
                         register_outputs=False).latency
    prj = write_project(fw, tmp_path / "p", levels=levels, register_inputs=reg_in, register_outputs=reg_out)
    assert prj.latency == base + reg_in + reg_out
    assert (base == 0) == (levels == 100)
    text = (prj.path / "src" / "myproject.v").read_text()
    assert ("output reg " in text) == reg_out
    assert _mismatches(prj, fw, rng) == 0        # predict() also checks the simulated latency


def test_folder_is_portable_atomic_and_never_replaces_foreign_files(tmp_path):
    fw = arch_mlp(np.random.default_rng(6))
    prj = write_project(fw, tmp_path / "p")
    for f in prj.path.rglob("*"):
        if f.is_file() and f.suffix not in (".bin", ".npz"):
            assert str(tmp_path) not in f.read_text(errors="replace"), f
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no staging left
    with pytest.raises(FileExistsError):
        write_project(fw, tmp_path / "p")
    write_project(fw, tmp_path / "p", replace=True)
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not an hgq_fpga RTL project"):
        write_project(fw, foreign, replace=True)
    assert (foreign / "notes.txt").read_text() == "keep"
    readme = (prj.path / "README.md").read_text()
    assert f"latency {prj.latency} clock cycles" in readme and "`in_x`" in readme


def _yosys_luts_and_brams(prj, tmp_path) -> tuple[int, int]:
    """The LUTs and 18K block RAMs Yosys maps the project to, with the bench's script."""
    stat = tmp_path / "stat.json"
    script = yosys_commands(" ".join(str(p) for p in prj.sources()), prj.top, "xcup", str(stat))
    subprocess.run(["yosys", "-q", "-p", script], check=True, capture_output=True)
    counts = parse_yosys_stat(stat)
    return counts["LUT"], counts["BRAM_18K"]


def _yosys_luts(prj, tmp_path) -> int:
    """The LUTs Yosys maps the project to, with the bench's script."""
    return _yosys_luts_and_brams(prj, tmp_path)[0]


def _exp_tables(bits: list[int]):
    """A softmax-like ``exp`` table per input width (13 bits and more: few runs, comparisons)."""
    b = FirmwareBuilder()
    outs = []
    for n, w in enumerate(bits):
        x = b.input(f"x{n}", (2,), k=1, i=4, f=w - 5, round="RND", overflow="SAT")
        outs.append(b.table(x, np.exp, 0, 1, 5, "RND", "SAT", name=f"exp{n}"))
    return b.build(outs)


def test_tables_as_cases_and_as_runs_equal_the_emulator(tmp_path):
    """Up to 12 input bits a table is a ``case`` kept in logic; wider, with few runs of equal
    entries, a chain of comparisons: both equal the emulator."""
    fw = _exp_tables([10, 14])
    prj = write_project(fw, tmp_path / "p")
    text = (prj.path / "src" / f"{prj.top}.v").read_text()
    assert text.count('(* rom_style = "logic" *) case') == 1
    assert "else if ($signed(x) <= " in text
    assert _mismatches(prj, fw, np.random.default_rng(8), 300) == 0


def test_a_table_stays_in_logic_and_beats_its_runs(tmp_path, monkeypatch):
    """A 12-bit ``exp`` table read from a register: as a case in LUTs (without its ``rom_style``
    Yosys made 4 block RAMs of it), fewer LUTs than as comparisons on its runs."""
    fw = _exp_tables([12])
    prj = write_project(fw, tmp_path / "case", register_inputs=True)
    case = _yosys_luts_and_brams(prj, tmp_path / "case")
    # the estimate counts a table by its runs (one LUT per output bit per 64 entries: 768)
    assert 0.5 <= prj.info["lut_estimate"] / case[0] <= 2, (prj.info["lut_estimate"], case)
    monkeypatch.setattr(cost, "CASE_BITS", 0)
    runs = _yosys_luts_and_brams(write_project(fw, tmp_path / "runs", register_inputs=True), tmp_path / "runs")
    assert case[1] == 0 and case[0] < runs[0], (case, runs)

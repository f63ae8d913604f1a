"""Few-bit inputs packed into LUT6 partial sums (backends/rtl/cmvm.py): the ROM of a group holds
exactly ``Σ c·x`` over every address its inputs can form, the cost model packs few-bit inputs and
leaves wide ones to CSD and CSE, and the Verilator simulation equals the emulator bit for bit."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from hgq_fpga.backends.rtl import cmvm, write_project
from hgq_fpga.backends.rtl.cmvm import CmvmOptions, lower_cmvm, partial_sum
from hgq_fpga.backends.rtl.cost import luts
from hgq_fpga.backends.rtl.netlist import Netlist, code_of
from hgq_fpga.ir import FirmwareBuilder
from test_rtl_sim import _mismatches, merge


def _values(x) -> range:
    return range(x.lo, x.hi + 1)


@pytest.mark.parametrize("widths", [(1,) * 6, (2, 2, 2), (2, 4), (1, 1, 3), (6,)])
def test_a_partial_sum_rom_holds_the_exact_sum_at_every_reachable_address(widths):
    rng = np.random.default_rng(sum(widths))
    net = Netlist()
    group = []
    for n, w in enumerate(widths):
        signed = int(rng.integers(0, 2))
        group.append((net.input(signed, w, "x", 8 * n), int(rng.integers(-40, 40)) or 3))
    term, lo = partial_sum(net, group)
    rom = term.node
    assert rom.kind == "rom" and sum(a.width for a in rom.args) == sum(widths) <= 6
    for vals in itertools.product(*(_values(x) for x, _ in group)):
        address, at = 0, 0
        for (x, _), v in zip(group, vals):
            address |= (v & ((1 << x.width) - 1)) << at
            assert code_of((v & ((1 << x.width) - 1)), x.signed, x.width) == v
            at += x.width
        got = (rom.params["entries"][address] << term.shift) + lo
        assert got == sum(c * v for (_, c), v in zip(group, vals))


def _columns(net: Netlist, n_in: int, n_out: int, width: int, seed: int):
    rng = np.random.default_rng(seed)
    xs = [net.input(0, width, "x", width * i) for i in range(n_in)]
    w = rng.integers(-15, 16, (n_in, n_out))
    w[rng.random(w.shape) < 0.3] = 0
    return [[(xs[i], int(w[i, o])) for i in range(n_in) if w[i, o]] for o in range(n_out)]


def _roms(net: Netlist) -> int:
    return sum(n.kind == "rom" for n in net.nodes)


def test_the_cost_model_packs_one_bit_inputs_and_keeps_csd_for_wide_ones():
    for width, packs in ((1, True), (8, False)):
        net = Netlist()
        cols = _columns(net, 48, 16, width, seed=width)
        mark = net.mark()
        lower_cmvm(net, cols, [0] * 16, CmvmOptions(cse=True, pack=False))
        unpacked = luts(net.nodes[mark[0]:])
        net.rollback(mark)
        lower_cmvm(net, cols, [0] * 16, CmvmOptions(cse=True, pack=True))
        packed = luts(net.nodes[mark[0]:])
        assert (_roms(net) > 0) == packs, width
        assert packed <= unpacked
        if packs:
            assert packed < 0.8 * unpacked          # the estimate of what packing saves


def test_the_grouping_order_is_chosen_by_the_estimate():
    """Half the weights odd, half multiples of 8 (as HGQ's per-weight fractional bits give): grouped
    by magnitude, groups mix both and no ROM can drop a zero; grouped by trailing zeros, half the
    ROMs shift by three bits.  The layer is built the cheaper way."""
    rng = np.random.default_rng(7)
    net = Netlist()
    xs = [net.input(0, 1, "x", i) for i in range(36)]
    odd = rng.integers(0, 32, (18, 4)) * 2 + 1                 # 1 .. 63
    eights = 8 * rng.integers(1, 8, (18, 4))                     # 8 .. 56: the same magnitudes
    cols = [[(x, int(c)) for x, c in zip(xs, np.concatenate([odd[:, o], eights[:, o]]))] for o in range(4)]
    cost = {}
    for order in cmvm.ORDERS:
        mark = net.mark()
        cmvm._build(net, cols, [0] * 4, CmvmOptions(cse=False), 1, order)
        cost[order] = luts(net.nodes[mark[0]:])
        net.rollback(mark)
    assert cost["shift"] < cost["magnitude"]
    mark = net.mark()
    lower_cmvm(net, cols, [0] * 4, CmvmOptions(cse=False))
    assert luts(net.nodes[mark[0]:]) == cost["shift"]


def arch_few_bits(rng):
    """Dense layers on 1-bit (unsigned and signed), 2-bit and mixed 2+4-bit inputs, 1- and 2-bit
    activations between them, and a 1-D convolution on 2-bit inputs."""
    models = []
    for k, widths in ((0, [1] * 12), (1, [1] * 12), (0, [2] * 9), (1, [2, 4] * 4), (0, [3, 1, 2] * 4)):
        b = FirmwareBuilder()
        n = len(widths)
        x = b.input("x", (n,), k=k, i=np.array(widths) - k, f=0)
        w = rng.integers(-15, 16, (n, 8))
        w[rng.random(w.shape) < 0.3] = 0
        h = b.cast(b.dense(x, w, 2, rng.integers(-8, 8, 8), 1), 0, 1, 0, "RND", "SAT")
        h = b.cast(b.dense(h, rng.integers(-15, 16, (8, 6)), 1), 1, 2, 0, "RND_CONV", "SAT_SYM")
        y = b.cast(b.dense(h, rng.integers(-7, 8, (6, 3)), 1), 1, 4, 1, "TRN", "WRAP")
        models.append(b.build([y]))
    b = FirmwareBuilder()
    x = b.input("x", (6, 3), k=0, i=2, f=0)
    c = b.conv(x, rng.integers(-9, 10, (3, 3, 4)), 1, rng.integers(-4, 4, 4), 0, padding="same")
    models.append(b.build([b.cast(c, 1, 5, 0, "RND", "SAT")]))
    return merge(models)


def test_packed_few_bit_layers_equal_the_emulator(tmp_path):
    fw = arch_few_bits(np.random.default_rng(11))
    prj = write_project(fw, tmp_path / "p", levels=2)
    text = (prj.path / "src" / "myproject.v").read_text()
    assert len(re.findall(r"function \[\d+:0\] n\d+_f;", text)) >= 10 and prj.info["pack"] is True  # ROMs
    assert _mismatches(prj, fw, np.random.default_rng(11)) == 0


def test_a_wrong_rom_entry_is_caught(tmp_path, monkeypatch):
    """One partial sum off by one at one address: the simulation must see it."""
    fw = arch_few_bits(np.random.default_rng(12))
    real = cmvm.partial_sum

    def mutant(net, group):
        term, lo = real(net, group)
        if term.node.kind == "rom" and len(term.node.params["entries"]) > 2:
            e = list(term.node.params["entries"])
            e[1] ^= 1
            term.node.params["entries"] = tuple(e)
        return term, lo
    monkeypatch.setattr(cmvm, "partial_sum", mutant)
    prj = write_project(fw, tmp_path / "p")
    assert _mismatches(prj, fw, np.random.default_rng(12)) > 0

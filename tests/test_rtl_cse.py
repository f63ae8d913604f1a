"""Common sub-expression sharing (backends/rtl/arith.share_pairs): the same sums, fewer adders, and
bounded memory for wide layers (pairs shared within blocks of inputs)."""

from __future__ import annotations

import numpy as np

from hgq_fpga.backends.rtl import arith
from hgq_fpga.backends.rtl.arith import share_pairs, times_const
from hgq_fpga.backends.rtl.netlist import Netlist, Term


def _form(net: Netlist, terms: list[Term]) -> dict[int, int]:
    """The column's sum as {input node id: integer coefficient}."""
    out: dict[int, int] = {}
    for t in terms:
        form, const = net._form_of(t.node)
        assert const == 0
        for key, coef in form.items():
            out[key] = out.get(key, 0) + t.sign * coef * (1 << t.shift)
    return {k: v for k, v in out.items() if v}


def _layer(n_in: int, n_out: int, seed: int):
    rng = np.random.default_rng(seed)
    net = Netlist()
    xs = [net.input(1, 8, "x", 8 * i) for i in range(n_in)]
    w = rng.integers(-64, 64, size=(n_in, n_out))
    w[rng.random(w.shape) < 0.2] = 0
    columns = [[t for i in range(n_in) if w[i, o] for t in times_const(net, xs[i], int(w[i, o]))]
               for o in range(n_out)]
    want = [{xs[i].id: int(w[i, o]) for i in range(n_in) if w[i, o]} for o in range(n_out)]
    return net, columns, want


def _adders(net: Netlist) -> int:
    return sum(n.kind == "add" for n in net.nodes)


def test_shared_columns_compute_the_same_sums_with_fewer_adders():
    net, columns, want = _layer(24, 12, seed=0)
    assert [_form(net, c) for c in columns] == want
    before = sum(len(c) for c in columns)
    shared = share_pairs(net, columns)
    assert [_form(net, c) for c in shared] == want
    # every adder made replaces one term in each of >= 2 columns
    assert _adders(net) + sum(len(c) for c in shared) < before


def test_wide_layers_share_within_blocks_and_keep_the_sums(monkeypatch):
    net, columns, want = _layer(96, 8, seed=1)
    pairs = sum(len(c) * (len(c) - 1) // 2 for c in columns)
    seen = []
    real = arith._share_pairs

    def spy(net_, block):
        seen.append(sum(len(c) * (len(c) - 1) // 2 for c in block))
        return real(net_, block)
    monkeypatch.setattr(arith, "_share_pairs", spy)
    limit = pairs // 20
    shared = share_pairs(net, columns, max_pairs=limit)
    assert len(seen) > 1 and max(seen) <= limit          # worked in blocks, each under the bound
    assert [_form(net, c) for c in shared] == want
    assert _adders(net) + sum(len(c) for c in shared) < sum(len(c) for c in columns)
    seen.clear()
    net2, columns2, _ = _layer(96, 8, seed=1)
    share_pairs(net2, columns2)                           # under the default bound: one search
    assert len(seen) == 1

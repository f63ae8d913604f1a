"""The pure-Python pieces of the HLS backend: type spelling, containers, groups, codes, names."""

from __future__ import annotations

import numpy as np
import pytest

from hgq_fpga.backends.common.ctables import IntTable, c_literal
from hgq_fpga.backends.common.ctables import int_ctype
from hgq_fpga.backends.hls.fxtypes import code_spec, container, group_by_type
from hgq_fpga.fixed import FixedType
from hgq_fpga.backends.hls.names import NameTable, check_top_name
from hgq_fpga.ir import TensorType


def test_spelling():
    assert FixedType(1, 2, 3).cpp == "ap_fixed<6,3>"
    assert FixedType(0, -2, 5, "RND_CONV", "SAT_SYM").cpp == "ap_ufixed<3,-2,AP_RND_CONV,AP_SAT_SYM>"
    assert FixedType(1, 7, -3, "TRN", "WRAP").cpp == "ap_fixed<5,8,AP_TRN,AP_WRAP>"
    with pytest.raises(ValueError, match="width 0"):
        FixedType(0, 0, 0).cpp


def test_container_holds_every_live_element():
    t = TensorType.of([1, 0, 0, 1], [2, 5, 0, -1], [1, -2, 0, 4])    # element 2 is dead
    spec = container(t)
    assert (spec.k, spec.i, spec.f) == (1, 5, 4)
    lo, hi = t.bounds()
    for e in range(4):
        step = 2.0 ** -int(t.f[e])
        for v in (int(lo[e]) * step, int(hi[e]) * step):
            assert -spec.k * 2.0 ** spec.i <= v <= 2.0 ** spec.i - 2.0 ** -spec.f
            assert (v * 2.0 ** spec.f) == int(v * 2.0 ** spec.f)
    assert container(TensorType.of(0, 0, 0, (3,))).cpp == "ap_ufixed<1,1>"


def test_group_by_type():
    t = TensorType.of([1, 1, 0, 1, 1], [2, 1, 0, 2, 1], [3, 3, 0, 3, 3])
    groups, dead = group_by_type(t, "RND", "SAT")
    assert [(g.cpp, idx.tolist()) for g, idx in groups] == [
        ("ap_fixed<5,2,AP_RND,AP_SAT>", [1, 4]), ("ap_fixed<6,3,AP_RND,AP_SAT>", [0, 3])]
    assert dead.tolist() == [2]


def test_code_spec_codes_are_exact():
    codes, f = np.array([3, -5, 0, 12, 1]), np.array([2, 1, 9, 0, 6])
    spec, shifted = code_spec(codes, f)
    assert (spec.k, spec.i, spec.f) == (1, 4, 6)
    assert np.array_equal(np.ldexp(shifted.astype(float), -spec.f), np.ldexp(codes.astype(float), -f))
    with pytest.raises(ValueError, match="the weights.*63 bits"):
        code_spec(np.array([1, 1 << 40]), np.array([40, -30]), "the weights")


def test_int_tables():
    assert [int_ctype(np.array(v)) for v in ([0, 127], [-129], [40000], [1 << 40])] == \
        ["signed char", "short", "int", "long long"]
    assert IntTable.of([4, 5, 6]).start == 4 and IntTable.of([4, 6]).start is None
    assert c_literal(IntTable.of([1, -2])) == "{1, -2}"
    assert c_literal(IntTable.of(range(30)), "  ").count("\n") == 3


def test_names_are_valid_and_unique():
    names = NameTable("myproject")
    got = [names.add(n) for n in ("x", "int", "acc", "layer 1/out", "layer_1_out", "myproject",
                                  "x_t", "3d", "ap_fixed")]
    assert got[:2] == ["x", "t_int"] and got[2] == "t_acc"
    assert got[3] == "layer_1_out" and got[4] == "layer_1_out_2"
    assert got[5] == "myproject_2" and got[7] == "t_3d" and got[8] == "t_ap_fixed"
    derived = [b + d for b in got for d in ("", "_t", "_op", "_in", "_out")]
    assert len(set(derived)) == len(derived) and "x_t" not in got
    for bad, why in (("my-project", "ASCII letter"), ("int", r"C\+\+ keyword"), ("ap_top", "'ap_'"),
                     ("a__b", "'__'"), ("1x", "ASCII letter"), ("wire", "Verilog keyword"),
                     ("café", "ASCII letter"), ("acc", "HLS templates"), ("a" * 65, "more than 64")):
        with pytest.raises(ValueError, match=why):
            check_top_name(bad)

"""The Verilog RTL of the particle-network ops equals the emulator bit for bit (zero tolerance).

Every new op of the IR (constant contractions on any axes, products of two variables, sums and
maxima over axes, transposes, broadcasting adds and subtractions) in the small graphs of
``tests/test_ir_particles.py``, with the products built from LUTs (partial products and adders,
the default) and as multipliers for DSP blocks; calibrated Keras models of every particle layer
(Deep Sets, pair products, HSoftmax in the middle and at the output, the HMultiHeadAttention
recipe, 2-D global poolings) and a post-training-quantized float attention model through
``hgq_fpga.verify``: Keras = emulator = RTL on the calibration data, ×4 and exact ties. One Yosys
run shows the DSP blocks when they are asked for and none otherwise.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import keras

import hgq_fpga
from hgq_fpga.backends.rtl import lower_particles, write_project
from hgq_fpga.backends.rtl.netlist import Netlist
from hgq_fpga.ir import FirmwareBuilder
from test_ir_particles import _graph
from test_keras_corpus import ParticleArchitecture, tie_data
from test_rtl_sim import _mismatches, _yosys_luts, merge

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _verilog(prj) -> str:
    return (prj.path / "src" / f"{prj.top}.v").read_text()


@pytest.mark.parametrize("multipliers", ["lut", "dsp"])
def test_every_new_op_equals_the_emulator(tmp_path, multipliers):
    rng = np.random.default_rng(11)
    fw = merge([_graph(rng)[0] for _ in range(2)])
    # one adder level per stage: a deep pipeline, products and trees cross registers
    prj = write_project(fw, tmp_path / "p", levels=1, multipliers=multipliers)
    assert prj.latency > 3
    text = _verilog(prj)
    products = re.findall(r"^\s*(\(\* use_dsp = \"yes\" \*\) )?wire .* \* ", text, re.M)
    if multipliers == "lut":
        assert not products            # partial products and adders: no multiplier for synthesis to bind
    else:
        assert products and all(products)
    assert _mismatches(prj, fw, np.random.default_rng(5), 150) == 0


def test_a_wrong_partial_product_is_caught(tmp_path, monkeypatch):
    """The top bit of a signed operand taken as +2^(w-1) instead of -2^(w-1): the data must show it."""
    real = lower_particles.partial_products

    def mutant(net, a, b, cache):
        return [lower_particles.Term(t.node, t.shift, 1) for t in real(net, a, b, cache)]
    monkeypatch.setattr(lower_particles, "partial_products", mutant)
    b = FirmwareBuilder()
    x = b.input("x", (3, 2), k=1, i=2, f=2)
    fw = b.build([b.einsum(x, x, "nf,mf->nm")])
    assert _mismatches(write_project(fw, tmp_path / "p"), fw, np.random.default_rng(5), 100) > 0


@pytest.mark.parametrize("ka, wa, kb, wb, picks", [(0, 2, 1, 7, True), (1, 5, 1, 6, True), (0, 3, 0, 3, True),
                                                   (1, 4, 0, 5, True), (1, 2, 1, 2, False)])
def test_radix4_partial_products_equal_the_emulator(tmp_path, ka, wa, kb, wb, picks):
    """Products of two variables, each pair of bits of the narrower code picking 0, a, 2a or 3a:
    unsigned and signed, odd and even widths (a leftover bit is a gate; a 2-bit signed code has
    no pair below its sign bit)."""
    b = FirmwareBuilder()
    x = b.input("x", (3, 4), k=ka, i=wa - ka, f=0)
    y = b.input("y", (4, 2), k=kb, i=wb - kb - 1, f=1)
    fw = b.build([b.einsum(x, y, "ij,jd->id")])
    prj = write_project(fw, tmp_path / "p")
    assert ("pick" in prj.info["nodes"]) == picks
    assert _mismatches(prj, fw, np.random.default_rng(6), 200) == 0


def test_a_wrong_pick_is_caught(tmp_path, monkeypatch):
    """A pick that chooses ``a`` where its bits say ``3a``: the data must show it."""
    real = Netlist.pick
    monkeypatch.setattr(Netlist, "pick", lambda net, a, a3, b, bit: real(net, a, a, b, bit))   # "3a" = a
    b = FirmwareBuilder()
    x = b.input("x", (3, 4), k=0, i=2, f=0)
    y = b.input("y", (4, 2), k=1, i=5, f=0)
    fw = b.build([b.einsum(x, y, "ij,jd->id")])
    assert _mismatches(write_project(fw, tmp_path / "p"), fw, np.random.default_rng(7), 100) > 0


def test_radix4_products_synthesize_to_fewer_luts(tmp_path, monkeypatch):
    """Yosys maps an attention-like ``A·V`` (2-bit weights by 7-bit values) to fewer LUTs with
    picks than with one gate per bit of the narrower operand (the picks share the adders' LUTs)."""
    b = FirmwareBuilder()
    a = b.input("a", (4, 8), k=0, i=2, f=0)
    v = b.input("v", (8, 2), k=1, i=6, f=0)
    fw = b.build([b.einsum(a, v, "ij,jd->id")])
    picked = _yosys_luts(write_project(fw, tmp_path / "pick"), tmp_path / "pick")

    def gates(net, x, y, cache):
        if lower_particles.range_bits(x.lo, x.hi)[1] < lower_particles.range_bits(y.lo, y.hi)[1]:
            x, y = y, x
        signed, width = lower_particles.range_bits(y.lo, y.hi)
        return [lower_particles.Term(net.gate(x, y, j), j, -1 if (signed and j == width - 1) else 1)
                for j in range(width)]
    monkeypatch.setattr(lower_particles, "partial_products", gates)
    gated = _yosys_luts(write_project(fw, tmp_path / "gate"), tmp_path / "gate")
    assert picked <= 0.8 * gated, (picked, gated)


@pytest.mark.parametrize("multipliers, nodsp", [("lut", True), ("dsp", False), ("auto", False)])
def test_multiplier_binding_reaches_the_synthesis_script(tmp_path, multipliers, nodsp):
    b = FirmwareBuilder()
    x = b.input("x", (3, 2), k=1, i=3, f=3)
    prj = write_project(b.build([b.einsum(x, x, "nf,mf->nm")]), tmp_path / "p", multipliers=multipliers)
    makefile = (prj.path / "Makefile").read_text()
    assert ("synth_xilinx" in makefile) and (("-nodsp" in makefile) == nodsp)
    assert prj.info["multipliers"] == multipliers
    assert ('use_dsp = "yes"' in _verilog(prj)) == (multipliers == "dsp")


def test_unknown_multiplier_binding_is_refused(tmp_path):
    b = FirmwareBuilder()
    fw = b.build([b.input("x", (2,), k=1, i=2, f=3)])
    with pytest.raises(ValueError, match="multipliers must be one of auto, dsp, lut, got 'bram'"):
        write_project(fw, tmp_path / "p", multipliers="bram")
    assert not (tmp_path / "p").exists()


def test_yosys_counts_dsps_only_when_asked(tmp_path):
    b = FirmwareBuilder()
    x = b.input("x", (2, 2), k=1, i=4, f=4)
    y = b.input("y", (2, 2), k=1, i=4, f=4)
    fw = b.build([b.einsum(x, y, "nf,mf->nm")])
    found = {}
    for multipliers in ("lut", "dsp"):
        found[multipliers] = write_project(fw, tmp_path / multipliers, multipliers=multipliers).synth(
            tool="yosys")["resources"]
    assert found["lut"]["DSP"] == 0 and found["lut"]["LUT"] > 50
    assert found["dsp"]["DSP"] == 8            # one DSP block per 9 x 9 product (4 outputs of 2 terms)
    assert found["dsp"]["LUT"] < found["lut"]["LUT"]


def _verified(model, cases, prj):
    for name, xs in cases.items():
        report = hgq_fpga.verify(model, xs, firmware=prj.fw, project=prj)
        assert report.implementations == ["Keras", "emulator", "RTL"]
        assert report.mismatches == 0, f"{prj.top}, {name} data:\n{report}"


def test_keras_particle_layers_equal_the_rtl(tmp_path):
    """Every particle layer, HSoftmax (mid-network and output) and the HMultiHeadAttention recipe
    included: Keras = emulator = RTL on the calibration data, x4 and ties."""
    from test_layers_particles import MODELS
    kinds = set()
    for n, build in enumerate(MODELS):
        rng = np.random.default_rng(n)
        keras.utils.set_random_seed(n)
        model = build(rng)
        shapes = [tuple(t.shape[1:]) for t in model.inputs]
        calib = [rng.normal(0, 1.5, (64, *s)).astype(np.float32) for s in shapes]
        calib = calib if len(calib) > 1 else calib[0]
        hgq_fpga.calibrate(model, calib)
        fw = hgq_fpga.to_firmware(model)
        kinds |= {op.kind for op in fw.ops}
        four = [4 * c for c in calib] if isinstance(calib, list) else 4 * calib
        ties = tie_data(model, rng)
        prj = write_project(fw, tmp_path / build.__name__, name=build.__name__)
        _verified(model, {"calibration": calib, "x4": four, "ties": ties if len(ties) > 1 else ties[0]}, prj)
    assert {"einsum", "einsum_dense", "table", "max", "subtract", "sum", "transpose", "add"} <= kinds


@pytest.mark.slow
def test_ptq_float_attention_model_equals_the_rtl(tmp_path):
    """The PTQ of a float attention model (about 35 s on an idle 2-core machine, most of it the
    quantization search: slow; the default suite builds every layer it maps to above)."""
    from hgq_fpga.nn.ptq import quantize_float
    from test_ptq_particles import _statistics, attention_model
    keras.utils.set_random_seed(1)
    model = _statistics(attention_model(), 1)
    x = np.random.default_rng(1).normal(size=(200, 6, 4)).astype("float32")
    qmodel = quantize_float(model, x).model
    prj = write_project(hgq_fpga.to_firmware(qmodel), tmp_path / "ptq", name="ptq")
    _verified(qmodel, {"calibration": x, "x4": 4 * x}, prj)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(2000, 2036))
def test_random_particle_architecture_equals_the_rtl(tmp_path, seed):
    arch = ParticleArchitecture(seed)
    model = arch.build()
    calib = arch.calibration_data(model)[0]
    hgq_fpga.calibrate(model, calib)
    prj = write_project(hgq_fpga.to_firmware(model), tmp_path / "p", multipliers=("lut", "dsp")[seed % 2])
    _verified(model, {"calibration": calib, "x4": 4 * calib, "ties": tie_data(model, arch.rng)[0]}, prj)


def test_convert_gives_multipliers_to_the_projects_that_take_it():
    from hgq_fpga.app.commands.convert import _target
    target = _target("vu9p", "m", None, ("hls", "rtl", "cpp"), False, "dsp")
    assert dict(target.options) == {"hls": {"multipliers": "dsp"}, "rtl": {"multipliers": "dsp"}}
    assert dict(_target("vu9p", "m", None, ("rtl",), False).options) == {}


def test_large_verilog_builds_its_simulation_at_o0():
    from hgq_fpga.backends.rtl.project import LARGE_VERILOG_BYTES, MAKE_OPTS, make_options
    assert make_options(LARGE_VERILOG_BYTES) == MAKE_OPTS and "OPT_FAST=-O1" in MAKE_OPTS
    assert make_options(LARGE_VERILOG_BYTES + 1) == ("OPT_FAST=-O0", *MAKE_OPTS[1:])

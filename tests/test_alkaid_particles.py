"""alkaid 0.8.2 on the particle ops (issue 32): the IR export that ``bench/contenders/alkaid_emit.py``
rebuilds with alkaid's tracing API, and the particle study's alkaid rows and section.

The export, the study's summary and its section are checked without alkaid (the default run). The
round trip through alkaid (its interpreter against our emulator with ``==``: every particle op with
per-element types and dead elements, the four reference architectures small, on normal, ×4 and tie
inputs; the refusal of what alkaid cannot express) is slow and needs alkaid's own venv at
``/work/venvs/alkaid`` (:data:`bench.contenders.alkaid_rtl.DEFAULT_VENV`): it is skipped where that
venv is absent (``python -m bench.studies.particles.alkaid`` creates it from PyPI).
"""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest

from bench.common.side_venv import venv_python, venv_ready
from bench.contenders import alkaid_rtl
from bench.studies import Page
from bench.studies.particles import run as study
from bench.studies.particles import section
from hgq_fpga.ir import FirmwareBuilder
from hgq_fpga.ir.types import avgpool_sum_plan
from test_hls_csim import _data
from test_ir_particles import _graph, _types
from test_rtl_sim import merge

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _particle_graph(rng):
    """A small transformer-like graph: a constant contraction across particles, scores (a product of
    two activations), a softmax-like max / subtract / table / sum / reciprocal table / product, a
    residual, a ReLU, average pooling over the particles, casts in every mode alkaid offers, and a
    table on the input, one of whose elements is dead."""
    b = FirmwareBuilder()
    types = _types(rng, (4, 3))
    types["i"][0, 0] = -types["f"][0, 0] - types["k"][0, 0]              # a dead element: the constant 0
    x = b.input("x", (4, 3), **types, round="RND", overflow="SAT")
    h = b.cast(b.einsum_dense(x, "nf,fh->nh", rng.integers(-9, 9, (3, 3)), 2, rng.integers(-5, 5, 3), 1),
               1, 2, 3, "RND", "SAT")
    mixed = b.cast(b.einsum_dense(h, "nf,nm->mf", rng.integers(-9, 9, (4, 4)), rng.integers(0, 4, (4, 4))),
                   1, 3, 2, "TRN", "WRAP")
    scores = b.cast(b.einsum(h, mixed, "nf,mf->nm"), 1, 3, 2, "RND", "SAT_SYM")
    diff = b.cast(b.subtract(scores, b.max(scores, 1, keepdims=True)), 1, 3, 2, "RND", "SAT")
    e = b.table(diff, np.exp, 0, 1, 4, "RND", "SAT", label="exp")
    inverse = b.table(b.cast(b.sum(e, 1, keepdims=True), 0, 3, 2, "TRN", "SAT"),
                      lambda v: 1.0 / np.maximum(v, 0.25), 0, 3, 4, "RND", "SAT", label="reciprocal")
    attention = b.cast(b.multiply(e, inverse), 0, 1, 5, "RND", "SAT")
    combined = b.cast(b.einsum(attention, h, "nm,mf->nf"), 1, 2, 3, "TRN", "WRAP")
    residual = b.relu(b.add(h, combined, mixed))
    pooled = b.avgpool(residual, 4, 1, 2, 4, "RND", "SAT")
    squashed = b.table(x, np.tanh, 1, 0, 4, "RND", "SAT", label="tanh")   # its dead element: a constant
    return b.build([b.reshape(pooled, (3,)), b.transpose(attention, (1, 0)), squashed])


def _every_op(rng):
    """The particle graph beside every new op of the IR's own test graph (three inputs, dead elements)."""
    return merge([_particle_graph(rng), _graph(rng)[0]])


def test_the_export_holds_every_particle_op_and_the_ports_values(tmp_path):
    rng = np.random.default_rng(3)
    fw = _every_op(rng)
    x = _data(fw, rng, 20)[1]                                    # ×4: saturation at the input ports
    alkaid_rtl.export_program(fw, x, tmp_path)
    program = json.loads((tmp_path / "program.json").read_text())
    arrays = np.load(tmp_path / "arrays.npz")
    assert [op["kind"] for op in program["ops"]] == [op.kind for op in fw.ops]
    assert [s["name"] for s in program["inputs"]] == [s.name for s in fw.inputs]
    assert program["outputs"] == fw.outputs
    entries = {op["name"]: op for op in program["ops"]}
    for op in fw.ops:
        entry = entries[op.name]
        assert entry["inputs"] == list(op.inputs) and entry["shape"] == list(op.shape)
        for field in "kif":
            assert np.array_equal(arrays[f"{op.name}.{field}"], getattr(op.out, field))
        if op.kind in ("einsum_dense", "einsum"):
            assert entry["equation"] == op.equation
        if op.kind == "einsum_dense":
            for field in ("w_raw", "w_f", "b_raw", "b_f"):
                assert np.array_equal(arrays[f"{op.name}.{field}"], getattr(op, field))
        if op.kind in ("sum", "max"):
            assert entry["axes"] == list(op.axes) and entry["keepdims"] == op.keepdims
        if op.kind == "transpose":
            assert entry["perm"] == list(op.perm)
        if op.kind in ("cast", "avgpool"):
            assert (entry["round"], entry["overflow"]) == (op.round, op.overflow)
        if op.kind == "table":
            assert entry["function"] == op.function
            for field in ("table_id", "lo", "start", "size", "values"):
                assert np.array_equal(arrays[f"{op.name}.{field}"], getattr(op, field))
            assert np.array_equal(arrays[f"{op.name}.in_f"], fw.types[op.inputs[0]].f)
        if op.kind == "avgpool":
            assert np.array_equal(arrays[f"{op.name}.window"], avgpool_sum_plan(op, fw.types[op.inputs[0]])[1])
            assert np.array_equal(arrays[f"{op.name}.c_raw"], op.c_raw)
    kinds = {op.kind for op in fw.ops}
    assert {"einsum_dense", "einsum", "sum", "max", "transpose", "add", "subtract", "table", "avgpool",
            "relu", "reshape", "cast"} <= kinds
    # the ports' values: every input quantized as the RTL's ports carry it, flattened side by side
    ports = arrays["test_inputs"]
    sizes = [int(np.prod(s.shape)) for s in fw.inputs]
    assert ports.shape == (20, sum(sizes))
    parts = np.split(ports, np.cumsum(sizes)[:-1], axis=1)
    quantized = [p.reshape(20, *s.shape) for p, s in zip(parts, fw.inputs)]
    assert not all(np.array_equal(q, a) for q, a in zip(quantized, x))
    assert np.array_equal(alkaid_rtl.flat_outputs(fw, quantized), alkaid_rtl.flat_outputs(fw, x))
    assert alkaid_rtl.flat_outputs(fw, x).shape == (20, sum(int(np.prod(fw.types[o].shape)) for o in fw.outputs))


def test_alkaid_emit_needs_nothing_of_ours():
    tree = ast.parse(alkaid_rtl.EMIT.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert names == {"json", "sys", "pathlib", "numpy", "alkaid"}


def _rtl(lut: int) -> dict:
    return {"resources": {"LUT": lut, "FF": 300, "DSP": 0}, "latency_cycles": 4, "latency_ns": 20.0, "clock_ns": 5.0,
            "yosys_s": 3.2, "mismatches": 0, "compared": 600, "latency_both_registered": 5}


def test_the_study_puts_alkaid_beside_our_rtl(tmp_path):
    cfg = study.ParticleConfig(datasets={"jets": (4, 100)}, architectures=("deep_sets", "transformer"), seeds=(0,),
                               epochs=2, ours_variants={})
    runs = study.plan_runs(cfg, rtl=True)
    assert runs.index(("jets", "deep_sets", "alkaid", 0)) == runs.index(("jets", "deep_sets", "rtl", 0)) + 1
    assert ("jets", "deep_sets", "alkaid", 0) not in study.plan_runs(cfg)
    exact = {"x": {"values": 0, "compared": 20}, "x4": {"values": 0, "compared": 20}}
    records = {}
    for arch, ours_lut, alkaid_lut in (("deep_sets", 900, 1000), ("transformer", 1500, 1200)):
        records[study.run_name("jets", arch, "ours", 0)] = {
            "points": [{"label": "ours-e2", "accuracy": 0.7, "calibrated_val_accuracy": 0.7, "ebops": 200}],
            "facts": {"exactness_of": "ours-e2", "exactness": exact}, "seconds": 1.0}
        records[study.run_name("jets", arch, "rtl", 0)] = {"rtl": _rtl(ours_lut)}
        if arch == "deep_sets":
            records[study.run_name("jets", arch, "alkaid", 0)] = {"alkaid": {
                **_rtl(alkaid_lut), "n_stages": 4, "mismatches": 0, "mismatches_x4": 2, "compared_x4": 600}}
    summary = study.summarise(cfg, records, {})
    deep_sets = summary["results"]["jets"]["deep_sets"]
    assert deep_sets["alkaid"]["0"]["ours_over_alkaid_lut"] == 0.9
    assert summary["results"]["jets"]["transformer"]["alkaid"] == {}
    assert summary["alkaid_not_run"] == ["jets-transformer-alkaid-seed0"]
    text = section.render(study.record(summary, "smoke", 1.0), Page({}, tmp_path, tmp_path))
    assert "| toy jets (synthetic) | deep_sets | 0 | ours-e2 | 900 | 1,000 | 0.900 | 300 / 300 | 0 / 0 | 5 / 4 | 0 / 600 | 2 / 600 |" in text
    assert "at most 0.9 on every model: deep_sets (jets, seed 0) ✅" in text
    assert section.NOT_YET.format(alkaid="0.8.2", rtl=section.rtl_command("smoke")) not in text
    assert "alkaid beside our RTL for jets-transformer-alkaid-seed0" in text
    records[study.run_name("jets", "deep_sets", "alkaid", 0)]["alkaid"]["resources"]["LUT"] = 999
    worse = section.render(study.record(study.summarise(cfg, records, {}), "smoke", 1.0), Page({}, tmp_path, tmp_path))
    assert "deep_sets (jets, seed 0) ❌" in worse


# ----------------------------------------------------------------------------- through alkaid (slow)

needs_alkaid = pytest.mark.skipif(not venv_ready(venv_python(alkaid_rtl.DEFAULT_VENV), "import alkaid"),
                                  reason=f"alkaid's venv is not at {alkaid_rtl.DEFAULT_VENV}")


def _mismatches(fw, x, tmp_path) -> int:
    python = venv_python(alkaid_rtl.DEFAULT_VENV)
    _, theirs, _ = alkaid_rtl.emit(fw, x, python, tmp_path, stages=2)
    ours = alkaid_rtl.flat_outputs(fw, x)
    assert theirs.shape == ours.shape
    return int(np.sum(theirs != ours))


@pytest.mark.slow
@needs_alkaid
def test_alkaid_computes_every_particle_op_exactly(tmp_path):
    rng = np.random.default_rng(5)
    fw = _every_op(rng)
    for n, x in enumerate(_data(fw, rng, 300)):                  # normal, ×4, exact ties
        assert _mismatches(fw, x, tmp_path / str(n)) == 0


@pytest.mark.slow
@needs_alkaid
def test_alkaid_matches_the_reference_architectures(tmp_path):
    from bench.studies.particles.alkaid import reference_models

    for name, fw, x in reference_models():
        assert _mismatches(fw, np.concatenate([x, 4 * x]), tmp_path / name) == 0, name


@pytest.mark.slow
@needs_alkaid
def test_what_alkaid_cannot_express_is_refused_by_name(tmp_path):
    b = FirmwareBuilder()
    x = b.input("x", (4, 3), k=1, i=2, f=3)
    fw = b.build([b.maxpool(x, 2, name="pool")])
    with pytest.raises(alkaid_rtl.AlkaidError, match="no alkaid translation for op kind 'maxpool' \\(pool\\)"):
        _mismatches(fw, np.zeros((2, 4, 3)), tmp_path / "maxpool")
    b = FirmwareBuilder()
    x = b.input("x", (3,), k=1, i=2, f=3)
    fw = b.build([b.cast(x, 1, 2, 1, "RND_ZERO", "SAT", name="narrow")])
    with pytest.raises(alkaid_rtl.AlkaidError, match="alkaid has no RND_ZERO/SAT cast \\(op narrow\\)"):
        _mismatches(fw, np.zeros((2, 3)), tmp_path / "cast")

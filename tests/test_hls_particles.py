"""The HLS C++ of the particle-network ops equals the emulator bit for bit, in both C-simulation
builds (the ``ap_fixed`` text HLS synthesises and the integer-MAC build), on normal values, values
four times larger and exact ties; Keras = emulator = C++ for calibrated particle models (Deep Sets,
pair products, attention, softmax) and a post-training-quantized float attention model; and the
multiplier binding option (the RTL of the same ops: ``tests/test_rtl_particles.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga.backends.hls.project import compile_projects  # noqa: E402
from hgq_fpga.backends.hls.writer import write_project  # noqa: E402
from hgq_fpga.ir import FirmwareBuilder  # noqa: E402
from test_ir_particles import _graph, _inputs  # noqa: E402
from test_keras_corpus import ParticleArchitecture, tie_data  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _equal(a, b) -> bool:
    a, b = (v if isinstance(v, list) else [v] for v in (a, b))
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def test_every_new_op_in_both_csim_builds(tmp_path):
    rng = np.random.default_rng(11)
    models = [_graph(rng)[0] for _ in range(3)]
    projects = [write_project(fw, tmp_path / f"p{n}", name=f"m{n}") for n, fw in enumerate(models)]
    # a mutant: one product's first operand replaced by its second (ap_fixed build); it must show
    mutant = write_project(models[0], tmp_path / "mutant", name="mutant")
    cpp = mutant.path / "firmware" / "mutant.cpp"
    text = cpp.read_text()
    assert "p = in0[ia[q]] * in1[ib[q]];" in text
    cpp.write_text(text.replace("p = in0[ia[q]] * in1[ib[q]];", "p = in1[ib[q]] * in1[ib[q]];", 1))
    for macs in ("ap_fixed", "integer"):
        compile_projects([*projects, mutant], cache_dir=tmp_path / "cache", macs=macs)
        for fw, prj in zip(models, projects):
            for xs in _inputs(fw, np.random.default_rng(5), 150):
                assert _equal(prj.predict(xs), fw.predict(xs)), f"{prj.name} ({macs} build)"
    xs = _inputs(models[0], np.random.default_rng(5), 150)[0]
    compile_projects([mutant], cache_dir=tmp_path / "cache", macs="ap_fixed")
    assert not _equal(mutant.predict(xs), models[0].predict(xs))


@pytest.mark.parametrize("multipliers, pragma", [("dsp", "impl=dsp"), ("lut", "impl=fabric"), ("auto", None)])
def test_multiplier_binding_is_the_users_choice(tmp_path, multipliers, pragma):
    b = FirmwareBuilder()
    x = b.input("x", (3, 2), k=1, i=2, f=3)
    fw = b.build([b.einsum(x, x, "nf,mf->nm")])
    text = (write_project(fw, tmp_path / "p", multipliers=multipliers).path / "firmware" / "myproject.cpp").read_text()
    binds = [line.strip() for line in text.splitlines() if "BIND_OP" in line]
    assert binds == ([] if pragma is None else [f"#pragma HLS BIND_OP variable=p op=mul {pragma}"])


def test_unknown_multiplier_binding_is_refused(tmp_path):
    b = FirmwareBuilder()
    fw = b.build([b.input("x", (2,), k=1, i=2, f=3)])
    with pytest.raises(ValueError, match="multipliers must be one of auto, dsp, lut"):
        write_project(fw, tmp_path / "p", multipliers="bram")


def _particle_models(seeds):
    out = []
    for seed in seeds:
        arch = ParticleArchitecture(seed)
        model = arch.build()
        calib = arch.calibration_data(model)[0]
        hgq_fpga.calibrate(model, calib)
        out.append((model, [calib, 4 * calib, tie_data(model, arch.rng)[0]]))
    return out


def test_keras_emulator_and_csim_agree_on_particle_models(tmp_path):
    """Random Deep Sets, pair products, attention and softmax models from the corpus: Keras =
    emulator = C++ (verify) on calibration data, x4 and ties."""
    models = _particle_models([2004, 2009, 2011])
    projects = [write_project(hgq_fpga.to_firmware(m), tmp_path / f"p{n}", name=f"k{n}")
                for n, (m, _) in enumerate(models)]
    compile_projects(projects, cache_dir=tmp_path / "cache")
    kinds = set()
    for (model, cases), prj in zip(models, projects):
        kinds |= {op.kind for op in prj.fw.ops}
        for x in cases:
            report = hgq_fpga.verify(model, x, firmware=prj.fw, project=prj)
            assert report.mismatches == 0 and report.emulator_vs_csim == 0, str(report)
    assert {"einsum", "einsum_dense", "table", "max", "subtract", "sum", "transpose", "avgpool"} <= kinds


def test_ptq_attention_model_is_exact_in_csim(tmp_path):
    from hgq_fpga.nn.ptq import quantize_float
    from test_ptq_particles import _statistics, attention_model
    keras.utils.set_random_seed(1)
    model = _statistics(attention_model(), 1)
    x = np.random.default_rng(1).normal(size=(200, 6, 4)).astype("float32")
    qmodel = quantize_float(model, x).model
    prj = write_project(hgq_fpga.to_firmware(qmodel), tmp_path / "ptq", name="ptq", multipliers="lut")
    compile_projects([prj], cache_dir=tmp_path / "cache", macs="ap_fixed")
    for xs in (x, 4 * x):
        report = hgq_fpga.verify(qmodel, xs, firmware=prj.fw, project=prj)
        assert report.mismatches == 0, str(report)


@pytest.mark.slow
def test_keras_emulator_and_csim_agree_on_more_particle_models(tmp_path):
    models = _particle_models(range(2012, 2036))
    projects = [write_project(hgq_fpga.to_firmware(m), tmp_path / f"p{n}", name=f"k{n}")
                for n, (m, _) in enumerate(models)]
    for macs in ("ap_fixed", "integer"):
        compile_projects(projects, cache_dir=tmp_path / "cache", macs=macs)
        for (model, cases), prj in zip(models, projects):
            for x in cases:
                report = hgq_fpga.verify(model, x, firmware=prj.fw, project=prj)
                assert report.mismatches == 0, f"{prj.name} ({macs} build): {report}"

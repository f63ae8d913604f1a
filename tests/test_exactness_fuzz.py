"""Fuzz: random HGQ models × inputs an adversary would pick (±denormals, ±0, the float32 and float64
extremes, exact ties, values far outside the calibrated range). Every finite input gives
Keras = emulator = C++; NaN and ±inf give a clear error naming the input and the sample."""

from __future__ import annotations

import numpy as np
import pytest

import hgq_fpga
from hgq_fpga.backends.hls import write_project
from test_keras_corpus import Architecture, _one, tie_data

F32 = np.finfo(np.float32)
F64 = np.finfo(np.float64)

#: special values per input dtype (each also negated)
SPECIAL = {
    "float32": [0.0, 1e-45, 1.4e-45, 1e-40, 1.1e-38, float(F32.tiny), 1e-30, 0.5, 1.0, 1e3, 1e10, 1e30,
                1e38, float(F32.max)],
    "float64": [0.0, 5e-324, 1e-310, float(F64.tiny), 1e-300, 1e-40, 0.5, 1.0, 1e10, 1e100,
                1e300, 1e308, float(F64.max)],
}


def adversarial_inputs(model, calib, rng, n: int = 64) -> list[np.ndarray]:
    """Per input: a mix of special values, ties and calibration-like values."""
    out = []
    ties = tie_data(model, rng, n)
    for t, x, tie in zip(model.inputs, calib, ties):
        pool = np.array(SPECIAL[str(t.dtype)])
        pool = np.concatenate([pool, -pool])
        shape = (n,) + tuple(t.shape[1:])
        special = rng.choice(pool, shape)
        normal = rng.choice(x.reshape(-1), shape) * rng.choice([1, 4, 1e3], shape)
        pick = rng.integers(0, 3, shape)
        data = np.where(pick == 0, special, np.where(pick == 1, tie, normal))
        out.append(data.astype(str(t.dtype)).astype(np.float64))
    return out


def _calibrated(seed: int):
    arch = Architecture(seed)
    model = arch.build()
    calib = arch.calibration_data(model)
    hgq_fpga.calibrate(model, _one(calib))
    return arch, model, calib


@pytest.mark.parametrize("seed", range(12))
def test_keras_equals_emulator_on_adversarial_inputs(seed):
    arch, model, calib = _calibrated(seed)
    fw = hgq_fpga.to_firmware(model)
    xs = adversarial_inputs(model, calib, arch.rng)
    report = hgq_fpga.verify(model, _one(xs), firmware=fw)
    assert report.mismatches == 0, f"seed {seed}:\n{report}"
    assert report.overflow.any          # the far-out values overflowed, and verify says so


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_keras_equals_emulator_equals_cpp_on_adversarial_inputs(seed, tmp_path):
    arch, model, calib = _calibrated(seed)
    fw = hgq_fpga.to_firmware(model)
    project = write_project(fw, tmp_path / "prj")
    project.compile(macs="ap_fixed")
    xs = adversarial_inputs(model, calib, arch.rng)
    report = hgq_fpga.verify(model, _one(xs), firmware=fw, project=project)
    assert report.mismatches == 0 and report.emulator_vs_csim == 0, f"seed {seed}:\n{report}"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_refused_everywhere(bad, tmp_path):
    arch, model, calib = _calibrated(0)
    fw = hgq_fpga.to_firmware(model)
    xs = [x.copy() for x in calib]
    xs[0].reshape(len(xs[0]), -1)[5, 0] = bad
    what = "NaN" if np.isnan(bad) else "inf"
    with pytest.raises(ValueError, match=f"contains {what} .*sample 5"):
        hgq_fpga.verify(model, _one(xs), firmware=fw)
    with pytest.raises(ValueError, match=f"contains {what} .*sample 5"):
        fw.predict(_one(xs))


def test_float64_extremes_for_a_float32_model_are_refused():
    seed = next(s for s in range(20) if all(str(t.dtype) == "float32" for t in Architecture(s).build().inputs))
    arch, model, calib = _calibrated(seed)
    xs = [x.copy() for x in calib]
    xs[0].reshape(len(xs[0]), -1)[3, 0] = 1e300
    with pytest.raises(ValueError, match="beyond the range of its Keras dtype float32"):
        hgq_fpga.verify(model, _one(xs))

"""``hgq_fpga.verify``: it passes exact models, and it catches and locates what is not exact."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import keras

# TensorFlow's tensors warn on numpy 2's copy keyword whenever Keras converts them; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import hgq_fpga  # noqa: E402
from hgq_fpga.ir import FirmwareModel  # noqa: E402
from hgq_fpga.ir.compare import compare_outputs  # noqa: E402
from hgq_fpga.ir.types import linear_alignment  # noqa: E402
from hgq_fpga.nn.layers import HActivation, HConcatenate, HDense, HQuantize  # noqa: E402


def _calibrated_mlp(seed: int = 0, dtype: str = "float32"):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    inp = keras.Input((8,), dtype=dtype)
    h = HQuantize(output_quantizer={"round_mode": "RND"})(inp)
    h = HDense(6, activation="relu", name="hidden", bias_initializer="random_normal")(h)
    h = HActivation("tanh", name="squash")(h)
    model = keras.Model(inp, HDense(3, name="logits")(h))
    x = rng.normal(size=(300, 8)).astype(np.float32).astype(np.float64)
    hgq_fpga.calibrate(model, x)
    return model, x


@pytest.fixture(scope="module")
def mlp():
    return _calibrated_mlp()


def _flip_one_weight(fw: FirmwareModel, op_name: str) -> FirmwareModel:
    """A copy of ``fw`` in which one weight code of ``op_name`` changes sign, chosen so that the
    accumulator's declared type stays the same (the graph stays consistent, only wrong)."""
    n = next(j for j, op in enumerate(fw.ops) if op.name == op_name)
    op = fw.ops[n]
    for j, o in zip(*np.nonzero(op.w_raw)):
        w = op.w_raw.copy()
        w[j, o] = -w[j, o]
        bad = dataclasses.replace(op, w_raw=w)
        acc = linear_alignment(bad, fw.types[op.inputs[0]])[0].acc_type.reshape(op.out.shape)
        if acc.same_as(op.out):
            return FirmwareModel(fw.inputs, fw.ops[:n] + [bad] + fw.ops[n + 1:], fw.outputs)
    raise AssertionError("no weight can be flipped without changing the accumulator type")


class OffByOneLSB:
    """A fake third implementation: the emulator, with one output element one LSB too high."""

    def __init__(self, fw: FirmwareModel, sample: int, element: int) -> None:
        self.fw, self.sample, self.element = fw, sample, element
        self.offset = 0

    def predict(self, x):
        y = self.fw.predict(x).copy()
        s = self.sample - self.offset
        if 0 <= s < len(y):
            lsb = np.ldexp(1.0, -int(self.fw.types[self.fw.outputs[0]].f[self.element]))
            y[s, self.element] += lsb
        self.offset += len(y)
        return y


def test_exact_model_passes(mlp):
    model, x = mlp
    report = hgq_fpga.verify(model, x)
    assert report.ok and report.mismatches == 0
    assert report.samples == 300 and report.outputs == 3 and report.compared == 900
    assert report.keras_vs_emulator == 0 and report.emulator_vs_csim is None
    assert report.first_mismatch is None and report.diverging_layer is None
    assert report.max_abs_diff == 0.0
    assert report.rounded_inputs == 0 and report.input_dtype == "float32"
    assert str(report) == "✔ 300 samples × 3 outputs: Keras = emulator (0 mismatches)\n"


def test_reports_name_their_data_and_print_one_per_line(mlp, capsys):
    """Issue 35: ``print(design.verification, design.checks[0])`` printed both results on one line."""
    model, x = mlp
    first = hgq_fpga.verify(model, x, data="calibration data")
    second = hgq_fpga.verify(model, x[:100], data="held-out data")
    print(first, second)
    assert capsys.readouterr().out.splitlines() == [
        "✔ calibration data: 300 samples × 3 outputs: Keras = emulator (0 mismatches)",
        " ✔ held-out data: 100 samples × 3 outputs: Keras = emulator (0 mismatches)", ""]


def test_corrupted_weight_is_caught_and_located(mlp):
    model, x = mlp
    fw = hgq_fpga.to_firmware(model)
    bad = _flip_one_weight(fw, "logits_acc")
    report = hgq_fpga.verify(model, x, firmware=bad)
    want = int(np.count_nonzero(fw.predict(x) != bad.predict(x)))
    assert want > 0
    assert not report.ok
    assert report.keras_vs_emulator == report.mismatches == want
    d = report.first_mismatch
    assert d.output == "logits"
    assert report.diverging_layer == "logits"
    y = np.asarray(model(x[d.sample:d.sample + 1]))[0]
    assert d.a == y[d.index] and d.b == bad.predict(x[d.sample:d.sample + 1])[0][d.index]
    assert d.a != d.b and report.max_abs_diff > 0


def test_corruption_in_a_hidden_layer_names_that_layer(mlp):
    model, x = mlp
    bad = _flip_one_weight(hgq_fpga.to_firmware(model), "hidden_acc")
    report = hgq_fpga.verify(model, x, firmware=bad)
    assert report.mismatches > 0
    assert report.diverging_layer == "hidden"
    assert "first diverging layer: 'hidden'" in str(report)


def test_off_by_one_lsb_project_is_an_emulator_vs_csim_mismatch(mlp):
    model, x = mlp
    fw = hgq_fpga.to_firmware(model)
    project = OffByOneLSB(fw, sample=257, element=2)       # second batch of 256
    report = hgq_fpga.verify(model, x, firmware=fw, project=project, batch_size=256)
    assert report.keras_vs_emulator == 0
    assert report.emulator_vs_csim == 1 == report.mismatches
    d = report.first_mismatch
    assert (d.sample, d.output, d.index) == (257, "logits", (2,))
    lsb = float(np.ldexp(1.0, -int(fw.types["logits"].f[2])))
    assert d.b - d.a == lsb == report.max_abs_diff
    assert report.diverging_layer is None
    text = str(report)
    assert text.splitlines() == [
        "✘ 300 samples × 3 outputs: 1 mismatch",
        "  Keras vs emulator: 0 of 900 values differ",
        f"  emulator vs C++:   1 of 900 values differ in 1 sample, max |Δ| {lsb!r}",
        f"  first: sample 257, output 'logits' element [2]: emulator {d.a!r} ≠ C++ {d.b!r}",
    ]


def test_agreeing_project_passes(mlp):
    model, x = mlp
    fw = hgq_fpga.to_firmware(model)
    report = hgq_fpga.verify(model, x, firmware=fw, project=fw)
    assert report.ok and report.emulator_vs_csim == 0
    assert str(report) == "✔ 300 samples × 3 outputs: Keras = emulator = C++ (0 mismatches)\n"


def test_inputs_are_rounded_to_the_keras_dtype_for_every_implementation(mlp):
    model, x = mlp
    nudged = x + 2.0 ** -40                 # not a float32; Keras sees float32(x + tiny)
    report = hgq_fpga.verify(model, nudged)
    assert report.ok
    assert report.rounded_inputs == int(np.count_nonzero(nudged.astype(np.float32) != nudged))
    assert report.rounded_inputs > 0
    assert "input values were first rounded to the model's float32 input dtype" in str(report)


def test_bad_inputs_are_clear_value_errors(mlp):
    model, x = mlp
    with pytest.raises(ValueError, match=r"expected shape \(batch, 8\), got \(300, 7\)"):
        hgq_fpga.verify(model, x[:, :7])
    with pytest.raises(ValueError, match="without a batch axis"):
        hgq_fpga.verify(model, x[0])
    bad = x.copy()
    bad[17, 3] = np.nan
    with pytest.raises(ValueError, match="contains NaN .first at sample 17"):
        hgq_fpga.verify(model, bad)
    bad[17, 3] = -np.inf
    with pytest.raises(ValueError, match="contains inf"):
        hgq_fpga.verify(model, bad)
    with pytest.raises(ValueError, match="no samples"):
        hgq_fpga.verify(model, x[:0])
    with pytest.raises(ValueError, match="holds text .*, not numbers"):
        hgq_fpga.verify(model, [["a"] * 8])
    with pytest.raises(ValueError, match="float32"):
        hgq_fpga.verify(model, np.full((2, 8), 1e300))
    with pytest.raises(ValueError, match="batch_size"):
        hgq_fpga.verify(model, x, batch_size=0)


def test_uncalibrated_model_is_refused():
    inp = keras.Input((4,))
    model = keras.Model(inp, HDense(2)(HQuantize()(inp)))
    with pytest.raises(ValueError, match="not calibrated"):
        hgq_fpga.verify(model, np.zeros((3, 4)))


def test_two_inputs_two_outputs():
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    a_in, b_in = keras.Input((3,), name="muons"), keras.Input((5,), name="jets")
    # the jets' quantizer is created first, so the firmware's input order differs from Keras'
    qb = HQuantize(name="q_jets")
    qa = HQuantize(name="q_muons", output_quantizer={"overflow_mode": "SAT"})
    h = HConcatenate()([qa(a_in), qb(b_in)])
    out1 = HDense(2, name="head_1")(h)
    out2 = HDense(4, activation="relu", name="head_2")(h)
    model = keras.Model([a_in, b_in], [out1, out2])
    xa, xb = rng.normal(size=(64, 3)), rng.normal(size=(64, 5))
    hgq_fpga.calibrate(model, [xa, xb])
    for x in ([xa, xb], {"muons": xa, "jets": xb}, [4 * xa, 4 * xb]):
        report = hgq_fpga.verify(model, x)
        assert report.ok, str(report)
        assert report.outputs == 6 and report.samples == 64
    fw = hgq_fpga.to_firmware(model)
    bad = _flip_one_weight(fw, "head_2_acc")
    report = hgq_fpga.verify(model, [xa, xb], firmware=bad)
    assert report.mismatches > 0
    assert report.first_mismatch.output == "head_2" and report.diverging_layer == "head_2"
    with pytest.raises(ValueError, match="missing"):
        hgq_fpga.verify(model, {"muons": xa})
    with pytest.raises(ValueError, match="2 inputs"):
        hgq_fpga.verify(model, xa)


def test_sequential_model():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((6,)), HQuantize(), HDense(4, activation="relu"),
                              HDense(2, name="out")])
    x = np.random.default_rng(5).normal(size=(50, 6))
    hgq_fpga.calibrate(model, x)
    assert hgq_fpga.verify(model, x).ok
    bad = _flip_one_weight(hgq_fpga.to_firmware(model), "out_acc")
    assert hgq_fpga.verify(model, x, firmware=bad).diverging_layer == "out"


def test_compare_outputs_counts_nan_and_shapes():
    a = np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0]])
    b = np.array([[0.0, 1.0], [np.nan, 2.5], [3.0, -4.0]])
    c = compare_outputs("A", a, "B", [b], ["y"])
    assert (c.mismatches, c.compared, c.samples_with_mismatch) == (3, 6, 2)
    assert c.first.sample == 1 and c.first.index == (0,) and np.isnan(c.first.a)
    assert c.max_abs_diff == np.inf
    with pytest.raises(ValueError, match="shape"):
        compare_outputs("A", a, "B", b[:, :1], ["y"])
    with pytest.raises(ValueError, match="2 output"):
        compare_outputs("A", a, "B", [b, b], ["y"])


def test_keras_emulator_and_hls_csim_agree(mlp, tmp_path):
    """End to end with the real third implementation: the HLS project's C simulation."""
    # no skip: without g++ the compile fails with a ToolchainError that says what to install
    from hgq_fpga.backends.hls.writer import write_project
    model, x = mlp
    fw = hgq_fpga.to_firmware(model)
    project = write_project(fw, tmp_path / "prj", cache_dir=tmp_path / "cache")
    reports = [hgq_fpga.verify(model, data, firmware=fw, project=project) for data in (x, 4 * x)]
    for report in reports:
        assert report.ok and report.emulator_vs_csim == 0, str(report)
    head = "✔ 300 samples × 3 outputs: Keras = emulator = C++ (0 mismatches)"
    assert str(reports[0]) == head + "\n"
    # ×4 is outside the calibrated range: still exact, and the report says what overflowed
    assert str(reports[1]).startswith(head + "\n  warning: ") and "wrapped or saturated" in str(reports[1])

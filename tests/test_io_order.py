"""Several inputs and outputs keep the model's own order everywhere: the IR, the emulator, the HLS C
simulation, the RTL, the exported C++ library, and ``verify`` compares in the order a user calls
``predict``."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from hgq_fpga.backends.registry import get_backend
from hgq_fpga.checks.verify import verify
from hgq_fpga.nn.calibration import calibrate
from hgq_fpga.nn.freeze import UnsupportedLayerError, to_firmware
from hgq_fpga.nn.layers import HConcatenate, HDense, HQuantize

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _swapped_model():
    """Two inputs whose quantizers are built in the other order, concatenated b first: the graph's
    depth order is not the model's input order."""
    keras.utils.set_random_seed(3)
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    qb = HQuantize(name="qb")(b)
    qa = HQuantize(name="qa")(a)
    joined = HConcatenate(name="cat")([qb, qa])
    return keras.Model([a, b], [HDense(2, name="head2")(joined), HDense(3, name="head3")(joined)])


@pytest.fixture(scope="module")
def swapped():
    model = _swapped_model()
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(64, 3)), rng.normal(size=(64, 2))]
    calibrate(model, x)
    return model, to_firmware(model), x


def test_firmware_inputs_and_outputs_follow_the_model(swapped):
    model, fw, x = swapped
    assert [s.name for s in fw.inputs] == ["qa", "qb"] and [s.shape for s in fw.inputs] == [(3,), (2,)]
    assert [fw.types[o].shape for o in fw.outputs] == [(2,), (3,)]
    keras_out = [np.asarray(y, np.float64) for y in model([a.astype(np.float32) for a in x], training=False)]
    for y_fw, y_keras in zip(fw.predict([a.astype(np.float32) for a in x]), keras_out):
        assert np.array_equal(y_fw, y_keras)
    by_name = fw.predict({"qb": x[1].astype(np.float32), "qa": x[0].astype(np.float32)})
    assert all(np.array_equal(p, q) for p, q in zip(by_name, keras_out))
    assert [s.source for s in fw.inputs] == ["a", "b"]          # the Keras model's names work too, as in Keras
    by_model_name = fw.predict({"b": x[1].astype(np.float32), "a": x[0].astype(np.float32)})
    assert all(np.array_equal(p, q) for p, q in zip(by_model_name, keras_out))
    with pytest.raises(ValueError, match=r"no input named 'c'; missing b \(qb\); the inputs are a \(qa\), b \(qb\)"):
        fw.predict({"a": x[0], "c": x[1]})


def test_every_backend_takes_inputs_in_model_order(swapped, tmp_path):
    model, fw, x = swapped
    projects = [get_backend(n).write_project(fw, tmp_path / n, name="two") for n in ("hls", "rtl", "cpp")]
    report = verify(model, x, firmware=fw, project=projects)
    assert report.ok and report.emulator_vs == {"C++": 0, "RTL": 0, "C++ library": 0}, str(report)
    library = projects[2]
    by_model_name = library.predict({"b": x[1], "a": x[0]})
    assert all(np.array_equal(p, q) for p, q in zip(by_model_name, fw.predict(x)))
    header = (tmp_path / "cpp" / "include" / "two.h").read_text()
    assert header.index("qa") < header.index("qb")


def test_verify_feeds_positionally_and_catches_a_reordered_firmware():
    """Two inputs of one shape: a firmware whose inputs are in another order shows as mismatches
    (a lookup by name would have hidden it)."""
    from hgq_fpga.ir.model import FirmwareModel

    keras.utils.set_random_seed(4)
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    qb, qa = HQuantize(name="qb")(b), HQuantize(name="qa")(a)
    model = keras.Model([a, b], HDense(2)(HConcatenate()([qb, qa])))
    x = [np.random.default_rng(1).normal(size=(32, 3)), np.random.default_rng(2).normal(size=(32, 3))]
    calibrate(model, x)
    fw = to_firmware(model)
    assert verify(model, x, firmware=fw).ok
    reordered = FirmwareModel(fw.inputs[::-1], fw.ops, fw.outputs)
    assert verify(model, x, firmware=reordered).keras_vs_emulator > 0


def test_model_input_that_feeds_two_quantizers_is_refused():
    a = keras.Input((3,), name="a")
    model = keras.Model(a, HConcatenate()([HQuantize(name="q1")(a), HQuantize(name="q2")(a)]))
    calibrate(model, np.ones((4, 3)))
    with pytest.raises(UnsupportedLayerError, match="model input 'a' feeds 2 HQuantize layers"):
        to_firmware(model)

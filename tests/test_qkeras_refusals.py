"""QKeras import at its edges: several outputs or inputs work; everything else the importer cannot
take is refused in one short line naming the layer or input, with the Keras 2 subprocess's
traceback kept only as the error's cause (``--debug``).

The QKeras models are saved, and run by QKeras itself, in ONE legacy subprocess
(tests/qkeras_edge_models.py); each refusal below then costs one reader subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hgq_fpga.nn.importers.qkeras.description import ModelDescription
from hgq_fpga.nn.importers.qkeras.quantizers import QKerasImportError

HERE = Path(__file__).resolve().parent
#: the longest error line a refusal may print
SHORT = 400


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    """The edge models of tests/qkeras_edge_models.py, with QKeras's predictions on their data."""
    from hgq_fpga.nn.importers.qkeras.runner import legacy_env

    folder = tmp_path_factory.mktemp("qkeras_edge")
    rng = np.random.default_rng(30)
    grid = lambda shape, f: (np.round(rng.normal(size=shape) * 2 ** f) / 2 ** f).astype(np.float32)  # noqa: E731
    np.save(folder / "two_outputs.x.npy", grid((64, 4), 5))
    np.save(folder / "two_inputs.xa.npy", grid((64, 3), 5))
    np.save(folder / "two_inputs.xb.npy", grid((64, 2), 4))
    done = subprocess.run([sys.executable, str(HERE / "qkeras_edge_models.py"), str(folder)], env=legacy_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def run_cli(*args):
    from hgq_fpga.app.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and len(lines[0]) < SHORT, result.output
    return lines[0]


def refusal(call, kind=QKerasImportError) -> BaseException:
    with pytest.raises(kind) as err:
        call()
    text = str(err.value)
    assert "\n" not in text and len(text) < SHORT, text
    return err.value


# ------------------------------------------------------------------------ several outputs, inputs

def test_two_outputs_predict_and_compare_per_output(edge, monkeypatch):
    from hgq_fpga.app.commands import qkeras as command
    from hgq_fpga.nn.importers.qkeras import runner
    from hgq_fpga.nn.importers.qkeras.builder import build_from_description

    path, x = edge / "two_outputs.h5", np.load(edge / "two_outputs.x.npy")
    refs = [np.load(edge / f"two_outputs.pred{j}.npy") for j in range(2)]
    assert [r.shape for r in refs] == [(64, 3), (64, 2)] and all(np.any(r != 0) for r in refs)
    got = runner.qkeras_predict(path, x)                       # one array per output, as model.predict
    assert isinstance(got, list) and [g.dtype for g in got] == [np.float32] * 2
    assert all(np.array_equal(g.view(np.uint32), r.view(np.uint32)) for g, r in zip(got, refs))
    model = build_from_description(ModelDescription.load(edge / "two_outputs.desc")).model
    ours = model.predict(x, verbose=0)
    assert [int((np.asarray(o, np.float64) != r).sum()) for o, r in zip(ours, refs)] == [0, 0]

    monkeypatch.setattr(runner, "qkeras_predict", lambda *a, **k: [refs[0], refs[1] + np.float32(0.5)])
    assert command.qkeras_mismatches(path, model, x) == [("a", 0, 192), ("bq", 128, 128)]
    monkeypatch.setattr(runner, "qkeras_predict", lambda *a, **k: refs[0])
    text = str(refusal(lambda: command.qkeras_mismatches(path, model, x), ValueError))
    assert "QKeras gives 1 output, the imported model 2" in text


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_import_under_a_mixed_precision_policy_is_float32_and_exact(edge, policy):
    import keras

    from hgq_fpga.nn.freeze import to_firmware
    from hgq_fpga.nn.importers.qkeras.builder import build_from_description

    x = np.load(edge / "two_outputs.x.npy")
    refs = [np.load(edge / f"two_outputs.pred{j}.npy").astype(np.float64) for j in range(2)]
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        model = build_from_description(ModelDescription.load(edge / "two_outputs.desc")).model
        assert keras.config.dtype_policy().name == policy
        ours = model.predict(x, verbose=0)
    finally:
        keras.config.set_dtype_policy(before)
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    fw = to_firmware(model)
    assert [int((np.asarray(o, np.float64) != r).sum()) for o, r in zip(ours, refs)] == [0, 0]
    assert [int((e != r).sum()) for e, r in zip(fw.predict(x), refs)] == [0, 0]


@pytest.mark.slow   # 2 min; qkeras_predict per output is in the default suite
def test_cli_check_compares_every_output(edge, tmp_path):
    out = tmp_path / "two.keras"
    run = run_cli("import-qkeras", edge / "two_outputs.h5", "--check", edge / "two_outputs.x.npy", "--out", out)
    assert run.exit_code == 0, run.output
    assert "0 of 320 values differ (a: 0 of 192, bq: 0 of 128)" in run.output and out.is_file()
    from hgq_fpga.nn.importers.qkeras.runner import qkeras_predict

    text = str(refusal(lambda: qkeras_predict(edge / "two_outputs.h5", np.zeros((4, 5), np.float32))))
    assert "model input 'x' takes samples of shape (4,), got an array of shape (4, 5)" in text
    run = run_cli("convert", edge / "two_outputs.h5", "--from", "qkeras", "--calib", edge / "two_outputs.x.npy",
                  "--backend", "cpp", "--out", tmp_path / "fw")
    assert run.exit_code == 0, run.output
    assert "0 of 320 values differ" in run.output and "mismatches" in run.output


@pytest.mark.slow   # one more reader subprocess; several outputs are in the default suite
def test_two_inputs_predict_takes_a_list(edge):
    from hgq_fpga.nn.importers.qkeras.runner import qkeras_predict

    xs = [np.load(edge / "two_inputs.xa.npy"), np.load(edge / "two_inputs.xb.npy")]
    got = qkeras_predict(edge / "two_inputs.h5", xs)
    assert np.array_equal(got, np.load(edge / "two_inputs.pred0.npy"))


# ---------------------------------------------------------------------------------- refusals

def test_variable_length_input_is_refused_naming_the_input(edge, tmp_path):
    line = one_error_line(run_cli("import-qkeras", edge / "variable_length.h5", "--out", tmp_path / "m.keras"))
    assert "model input 'seq' has shape (None, 4)" in line and "fixed" in line
    assert list(tmp_path.iterdir()) == []


def test_alpha_auto_weights_are_refused_naming_layer_and_quantizer(edge):
    from hgq_fpga.nn.importers.qkeras import import_qkeras

    # refused by the reader when QKeras's eager and traced results differ (they may), else by the builder
    text = str(refusal(lambda: import_qkeras(edge / "alpha_auto.h5")))
    assert "layer 'd_auto': kernel quantizer quantized_bits(6,0,1,alpha='auto')" in text and "auto_po2" in text


def test_reader_refusal_is_one_line_with_the_traceback_as_its_cause(edge):
    from hgq_fpga.nn.importers.qkeras import import_qkeras

    err = refusal(lambda: import_qkeras(edge / "shared_layer.h5"))
    assert "layer 'twice' is used 2 times" in str(err)
    assert "Traceback" in str(err.__cause__) and "Refusal" in str(err.__cause__)   # for --debug


@pytest.fixture(scope="module")
def keras3_files(tmp_path_factory):
    """Keras 3 files given to the QKeras importer by mistake: an hgq_fpga model, a float model (.keras
    and .h5)."""
    import keras

    from conftest import build_hgq_mlp

    folder = tmp_path_factory.mktemp("keras3_for_qkeras")
    build_hgq_mlp(4, 3, 2).save(folder / "hgq.keras")
    inp = keras.Input((4,))
    plain = keras.Model(inp, keras.layers.Dense(2)(inp))
    plain.save(folder / "float.keras")
    plain.save(folder / "float.h5")
    np.save(folder / "x.npy", np.zeros((8, 4), np.float32))
    return folder


@pytest.mark.parametrize("name, source", [("hgq.keras", "hgq"), ("float.keras", "float"), ("float.h5", "float")])
def test_keras3_file_is_named_with_what_to_do(keras3_files, tmp_path, name, source):
    from hgq_fpga.nn.importers.qkeras import import_qkeras

    path = keras3_files / name
    for trust in (False, True):
        text = str(refusal(lambda: import_qkeras(path, trust=trust)))
        assert "is a Keras 3 model file" in text
    line = one_error_line(run_cli("import-qkeras", path, "--out", tmp_path / "m.keras"))
    assert "is a Keras 3 model file" in line and f"hgq-fpga convert {path} --from {source}" in line
    line = one_error_line(run_cli("convert", path, "--from", "qkeras", "--calib", keras3_files / "x.npy",
                                  "--out", tmp_path / "fw"))
    assert "is a Keras 3 model file" in line and f"--from {source}" in line
    assert list(tmp_path.iterdir()) == []

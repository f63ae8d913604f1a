"""Opening a model file never runs code that the file carries (docs/model_files.md).

Three parts: the check itself on configurations written here (no TensorFlow); Keras 3 files through
every path that opens one (``convert``, sweeps, design folders); QKeras files with a code-carrying
``Lambda`` at several positions, saved as ``.h5`` and SavedModel in ONE legacy subprocess
(tests/legacy_code_models.py), through the Python API and the command line. Each code-carrying
layer appends to a marker file when it runs: the marker must never appear, except with the opt-in
where the docs say it may.
"""

from __future__ import annotations

import ast
import base64
import json
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from hgq_fpga.nn.model_files import ModelFileError, check_model_file, load_keras_model, offer, read_model_config

HERE = Path(__file__).resolve().parent
PACKAGE = HERE.parent / "hgq_fpga"
#: the marshalled code of a lambda, as Keras 2 and Keras 3 store one (base64 with line breaks)
BYTECODE = base64.encodebytes(marshal.dumps((lambda t: t * 2).__code__)).decode()


def keras_archive(path: Path, layers: list[dict], **extra) -> Path:
    """A ``.keras`` zip whose config.json is a Functional model of ``layers`` (nothing else in it)."""
    config = {"module": "keras.src.models.functional", "class_name": "Functional",
              "config": {"name": "m", "layers": layers}, "registered_name": "Functional", **extra}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
    return path


def layer(name: str, cls: str = "Dense", module: str | None = "keras.layers", **config) -> dict:
    return {"module": module, "class_name": cls, "config": {"name": name, **config}, "registered_name": None,
            "name": name}


def refusal(path: Path, **kwargs) -> str:
    with pytest.raises(ModelFileError) as err:
        check_model_file(path, **kwargs)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: ") and "nothing in the file ran" in text
    return text


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


def run_cli(*args) -> object:
    from hgq_fpga.app.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


# ---------------------------------------------------------------------------------------- the check

def test_bytecode_anywhere_is_refused_naming_the_layer_and_key(tmp_path):
    act = {"value": [BYTECODE, None, None]}      # Keras 3's Dense(activation=lambda ...)
    text = refusal(keras_archive(tmp_path / "a.keras", [layer("x", "InputLayer"), layer("d", units=2, activation=act)]))
    assert "layer 'd', its activation: holds a Python function as bytecode" in text


def test_code_classes_are_refused_inside_wrappers_and_nested_models(tmp_path):
    lam = layer("lam", "Lambda", function={"class_name": "__lambda__", "config": {"code": BYTECODE}})
    wrapped = layer("td", "TimeDistributed", layer=lam)
    text = refusal(keras_archive(tmp_path / "w.keras", [layer("x", "InputLayer"), wrapped]))
    assert "layer 'td/lam' (Lambda): a Lambda layer runs a Python function" in text
    inner = layer("inner", "Functional", module="keras.src.models.functional", layers=[layer("sm", "TFSMLayer")])
    text = refusal(keras_archive(tmp_path / "n.keras", [layer("x", "InputLayer"), inner]))
    assert "layer 'inner/sm' (TFSMLayer): a TFSMLayer loads a TensorFlow SavedModel" in text


def test_modules_and_custom_objects_outside_the_known_packages_are_refused(tmp_path):
    act = {"module": "os", "class_name": "function", "config": "system", "registered_name": "function"}
    text = refusal(keras_archive(tmp_path / "m.keras", [layer("d", units=1, activation=act)]))
    assert "layer 'd', its activation: names the module 'os' for function" in text
    custom = {**layer("c", "MyLayer"), "registered_name": "Custom>MyLayer"}
    text = refusal(keras_archive(tmp_path / "c.keras", [layer("x", "InputLayer"), custom]))
    assert "layer 'c' (MyLayer): asks for the custom object 'Custom>MyLayer'" in text
    ours = {**layer("h", "HDense", module="hgq_fpga.nn.layers.dense"), "registered_name": "hgq_fpga>HDense"}
    assert check_model_file(keras_archive(tmp_path / "ok.keras", [ours]))["class_name"] == "Functional"


def test_compile_config_is_not_read_and_plain_strings_are_not_bytecode(tmp_path):
    loss = {"module": "my_losses", "class_name": "function", "config": "focal", "registered_name": "Custom>focal"}
    names = [layer(n, units=1) for n in ("Y3BvYm9ycm9yZ2dsYWdmb28x", "c" * 40, "4wEAAAAAAAAAAAAAAAIAAAA")]
    path = keras_archive(tmp_path / "compiled.keras", names, compile_config={"loss": loss})
    check_model_file(path)                      # the loss would be read only by compiling, which we never do


def test_files_that_cannot_be_read_before_loading_are_refused(tmp_path):
    with h5py.File(tmp_path / "weights.h5", "w") as f:
        f["w"] = np.zeros(3)
    assert "holds no model_config" in refusal(tmp_path / "weights.h5")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="is not a Keras .keras archive .* nothing was loaded"):
        check_model_file(tmp_path / "notes.txt")      # not code: no hint to trust it
    (tmp_path / "sm").mkdir()
    assert "not a SavedModel" in refusal(tmp_path / "sm")
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    assert "no keras_metadata.pb" in refusal(tmp_path / "sm")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    assert "holds no config.json" in refusal(tmp_path / "empty.keras")


def test_every_object_of_a_saved_model_is_checked(tmp_path):
    """A layer's own metadata in keras_metadata.pb is checked even where the root config omits it
    (tf_keras revives saved layers from their own metadata)."""
    from hgq_fpga.nn.model_files import _saved_metadata_message

    metadata = _saved_metadata_message()
    root = {"class_name": "Functional", "name": "m", "config": {"name": "m", "layers": [layer("x", "InputLayer")]}}
    hidden = {"class_name": "Lambda", "name": "hidden", "config": {"name": "hidden", "function": [BYTECODE]}}
    for node_path, meta in (("root", root), ("root.layer-1", hidden)):
        metadata.nodes.add(node_path=node_path, identifier="_tf_keras_layer", metadata=json.dumps(meta))
    (tmp_path / "saved_model.pb").write_bytes(b"")
    (tmp_path / "keras_metadata.pb").write_bytes(metadata.SerializeToString())
    assert read_model_config(tmp_path) == root
    assert "layer 'hidden' (Lambda): a Lambda layer runs" in refusal(tmp_path)


def test_h5_config_is_read_and_layer_list_enforced(tmp_path):
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x"}}, {"class_name": "LSTM", "config": {"name": "rnn"}}]}}
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config)
    assert read_model_config(tmp_path / "s.h5") == config
    check_model_file(tmp_path / "s.h5")
    text = refusal(tmp_path / "s.h5", layer_classes={"InputLayer", "Dense"}, importer="the test importer")
    assert "layer 'rnn' (LSTM) is not supported by the test importer; supported: Dense, InputLayer" in text


def test_offer_names_the_opt_in_of_the_outermost_caller(tmp_path):
    path = keras_archive(tmp_path / "lam.keras", [layer("lam", "Lambda")])
    with pytest.raises(ModelFileError) as err:
        with offer("--trust-file"):
            load_keras_model(path)
    assert str(err.value).endswith("--trust-file skips this check: see docs/model_files.md)")


def test_every_load_goes_through_one_function_and_safe_mode_stays_on():
    """Only model_files.py calls Keras 3's load_model (with safe_mode=True); only the Keras 2 reader calls
    tf_keras's (after its own check); nothing in the package turns safe mode off."""
    loads = {}
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "safe_mode=False" not in text and "enable_unsafe_deserialization" not in text, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("load_model", "model_from_json",
                                                                                    "model_from_config"):
                loads.setdefault(path.relative_to(PACKAGE).as_posix(), []).append(node)
    assert sorted(loads) == ["nn/importers/qkeras/keras2_reader.py", "nn/model_files.py"]
    (call,) = loads["nn/model_files.py"]
    assert any(k.arg == "safe_mode" and getattr(k.value, "value", None) is True for k in call.keywords)


def test_the_checks_layer_list_is_the_importers():
    from hgq_fpga.nn.importers.qkeras.builder import HANDLERS
    from hgq_fpga.nn.importers.qkeras.file_check import LAYER_CLASSES

    assert LAYER_CLASSES == set(HANDLERS) | {"InputLayer"}


# ---------------------------------------------------------------------------------------- Keras 3 files

@pytest.fixture(scope="module")
def keras3_files(tmp_path_factory):
    """``lambda.keras``: a Keras 3 model whose Lambda appends to ``lambda.marker``; ``clean.keras``: HGQ
    layers; calibration and sweep data."""
    import keras

    from conftest import build_hgq_mlp

    root = tmp_path_factory.mktemp("keras3")
    marker = root / "lambda.marker"
    inp = keras.Input((4,))
    lam = keras.layers.Lambda(eval(f"lambda t: (open({str(marker)!r}, 'a').write('ran'), t)[1]"), name="lam")
    keras.Model(inp, keras.layers.Dense(2, name="d")(lam(inp))).save(root / "lambda.keras")
    build_hgq_mlp(4, 3, 2).save(root / "clean.keras")
    marker.unlink()                             # building the model ran the lambda once
    rng = np.random.default_rng(0)
    np.save(root / "calib.npy", rng.normal(size=(16, 4)).astype(np.float32))
    np.savez(root / "data.npz", x_train=rng.normal(size=(8, 4)), y_train=np.zeros(8, int),
             x_val=rng.normal(size=(8, 4)), y_val=np.zeros(8, int))
    return root


def test_keras3_lambda_is_refused_and_with_trust_keras_safe_mode_still_refuses(keras3_files):
    path, marker = keras3_files / "lambda.keras", keras3_files / "lambda.marker"
    with pytest.raises(ModelFileError, match=r"layer 'lam' \(Lambda\).*\(for a file whose source you trust, "
                                             r"trust=True skips this check"):
        load_keras_model(path)
    with pytest.raises(ValueError, match="safe_mode"):
        load_keras_model(path, trust=True)
    assert not marker.exists()
    assert len(load_keras_model(keras3_files / "clean.keras").layers) == 4


@pytest.mark.parametrize("source", ["hgq", "float"])
def test_convert_refuses_a_keras3_lambda_in_one_line(keras3_files, tmp_path, source):
    args = ("convert", keras3_files / "lambda.keras", "--from", source, "--calib", keras3_files / "calib.npy",
            "--out", tmp_path / "fw")
    line = one_error_line(run_cli(*args))
    assert "lambda.keras: layer 'lam' (Lambda)" in line and "--trust-file skips this check" in line
    line = one_error_line(run_cli(*args, "--trust-file"))
    assert "cannot load Keras model" in line and "safe_mode" in line   # Keras's own refusal
    assert not (keras3_files / "lambda.marker").exists() and not (tmp_path / "fw").exists()


def test_sweep_architecture_file_is_checked_when_the_spec_is_read(keras3_files):
    from hgq_fpga.app.sweep import SpecError, parse

    spec = {"data": "data.npz", "architecture": "lambda.keras", "epochs": 1}
    with pytest.raises(SpecError, match=r"spec: architecture: .*lambda.keras: layer 'lam' \(Lambda\)"):
        parse(spec, keras3_files)
    assert parse({**spec, "architecture": "clean.keras"}, keras3_files).runs
    assert not (keras3_files / "lambda.marker").exists()


def test_design_folder_model_is_checked(keras3_files, tmp_path):
    from hgq_fpga.checks.design_folder import KERAS_FILE, Design

    (tmp_path / KERAS_FILE).write_bytes((keras3_files / "lambda.keras").read_bytes())
    with pytest.raises(ModelFileError, match=r"layer 'lam' \(Lambda\)"):
        Design(tmp_path, {}).keras_model()
    assert not (keras3_files / "lambda.marker").exists()


# ---------------------------------------------------------------------------------------- QKeras files

#: file -> the layer the refusal names (a SavedModel where a Lambda can be expressed in one)
CODE_FILES = {"first.h5": "lam", "middle.h5": "lam", "branch.h5": "lam", "nested.h5": "inner/lam",
              "middle.savedmodel": "lam", "nested.savedmodel": "inner/lam"}


@pytest.fixture(scope="module")
def qkeras_files(tmp_path_factory):
    """Every QKeras file, saved in one legacy subprocess; the reader's own verdict on each (reader.json)."""
    from hgq_fpga.nn.importers.qkeras.runner import legacy_env

    folder = tmp_path_factory.mktemp("qkeras_code")
    done = subprocess.run([sys.executable, str(HERE / "legacy_code_models.py"), str(folder)], env=legacy_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def markers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.marker"))


def test_the_keras2_reader_checks_right_before_loading(qkeras_files):
    said = json.loads((qkeras_files / "reader.json").read_text())
    for name, layer_path in CODE_FILES.items():
        assert said[name].startswith(f"ModelFileError: {qkeras_files / name}: layer '{layer_path}' (Lambda)")
    assert said["clean.h5"] == said["clean.savedmodel"] == "loaded"
    assert "layer 'gap' (GlobalAveragePooling1D) is not supported by the QKeras importer" in said["unsupported.h5"]
    assert markers(qkeras_files) == []


@pytest.mark.parametrize("name", sorted(CODE_FILES))
def test_import_qkeras_refuses_code_before_loading(qkeras_files, name):
    from hgq_fpga.nn.importers.qkeras import describe_qkeras, import_qkeras, qkeras_predict

    path = qkeras_files / name
    expected = rf"layer '{CODE_FILES[name]}' \(Lambda\): a Lambda layer runs a Python function stored in the file"
    for call in (lambda: import_qkeras(path, input_type="ap_fixed<8,3>"), lambda: describe_qkeras(path),
                 lambda: qkeras_predict(path, np.zeros((2, 4), np.float32))):
        with pytest.raises(ModelFileError, match=expected) as err:
            call()
        assert "\n" not in str(err.value) and "trust=True skips this check" in str(err.value)
    assert markers(qkeras_files) == []


@pytest.mark.parametrize("name", sorted(CODE_FILES))
def test_cli_refuses_code_before_loading(qkeras_files, tmp_path, name):
    path = qkeras_files / name
    np.save(tmp_path / "x.npy", np.zeros((4, 4), np.float32))
    for args in (("import-qkeras", path, "--input-type", "ap_fixed<8,3>", "--out", tmp_path / "m.keras"),
                 ("import-qkeras", path, "--input-type", "ap_fixed<8,3>", "--out", tmp_path / "m.keras",
                  "--check", tmp_path / "x.npy"),
                 ("convert", path, "--from", "qkeras", "--input-type", "ap_fixed<8,3>", "--calib",
                  tmp_path / "x.npy", "--out", tmp_path / "fw")):
        line = one_error_line(run_cli(*args))
        assert f"{path}: layer '{CODE_FILES[name]}' (Lambda)" in line and "--trust-file skips this check" in line
    assert markers(qkeras_files) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["x.npy"]


def test_supported_files_pass_and_unsupported_layers_are_named(qkeras_files):
    from hgq_fpga.nn.importers.qkeras.file_check import check_qkeras_file

    check_qkeras_file(qkeras_files / "clean.h5")
    check_qkeras_file(qkeras_files / "clean.savedmodel")
    with pytest.raises(ModelFileError, match=r"layer 'gap' \(GlobalAveragePooling1D\) is not supported"):
        check_qkeras_file(qkeras_files / "unsupported.h5")


def test_trust_loads_the_file_its_code_runs_and_the_importer_still_refuses_the_lambda(qkeras_files):
    """What docs/model_files.md says of trust=True: tf_keras loads the file, so the Lambda's code runs
    while it loads, and the importer refuses the Lambda afterwards."""
    from hgq_fpga.nn.importers.qkeras import QKerasImportError, import_qkeras

    with pytest.raises(QKerasImportError, match="Lambda is not supported by the QKeras importer"):
        import_qkeras(qkeras_files / "middle.h5", input_type="ap_fixed<8,3>", trust=True)
    assert markers(qkeras_files) == ["middle.marker"]
    (qkeras_files / "middle.marker").unlink()

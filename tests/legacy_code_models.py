"""Test helper run in the legacy environment (TF_USE_LEGACY_KERAS=1): save QKeras model files that
carry Python code, and try the Keras 2 reader's own check on them.

    python tests/legacy_code_models.py FOLDER

For each case below this saves ``FOLDER/<case>.h5`` (and ``FOLDER/<case>.savedmodel/`` where the
case says so). The code-carrying layer is a ``Lambda`` whose function appends to the marker file
``FOLDER/<case>.marker`` whenever it runs: building and saving the model run it, so every marker is
deleted at the end. Then the reader under test (``keras2_reader.load``) is given every file; what it
says is written to ``FOLDER/reader.json`` (``{file: error line or "loaded"}``), and a marker that
exists afterwards means the reader ran the file's code.
One process for all files: loading TensorFlow takes seconds.
"""

from __future__ import annotations

import glob
import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import tf_keras as keras  # noqa: E402
import qkeras  # noqa: E402

from hgq_fpga.nn.importers.qkeras import keras2_reader  # noqa: E402

Q6 = "quantized_bits(6,0,alpha=1)"


def marking_lambda(marker: str, name: str):
    """A Lambda whose function appends to ``marker`` (a plain lambda: tf_keras stores its bytecode)."""
    return keras.layers.Lambda(eval(f"lambda t: (open({marker!r}, 'a').write('ran'), t)[1]"), name=name)


def dense(name: str, units: int = 4):
    return qkeras.QDense(units, kernel_quantizer=Q6, bias_quantizer=Q6, name=name)


def first(marker: str):
    inp = keras.Input((4,), name="x")
    return keras.Model(inp, dense("d1")(marking_lambda(marker, "lam")(inp)), name="first")


def middle(marker: str):
    inp = keras.Input((4,), name="x")
    h = marking_lambda(marker, "lam")(dense("d1")(inp))
    return keras.Model(inp, dense("d2")(h), name="middle")


def branch(marker: str):
    inp = keras.Input((4,), name="x")
    h = dense("d1")(inp)
    a, b = dense("a")(h), marking_lambda(marker, "lam")(dense("b")(h))
    return keras.Model(inp, dense("out")(keras.layers.Add(name="add")([a, b])), name="branch")


def nested(marker: str):
    inner_in = keras.Input((4,), name="inner_x")
    inner = keras.Model(inner_in, dense("inner_d")(marking_lambda(marker, "lam")(inner_in)), name="inner")
    inp = keras.Input((4,), name="x")
    return keras.Model(inp, dense("out")(inner(dense("d1")(inp))), name="nested")


def clean(marker: str):
    inp = keras.Input((4,), name="x")
    h = qkeras.QActivation("quantized_relu(6)", name="relu")(dense("d1")(inp))
    return keras.Model(inp, dense("d2")(h), name="clean")


def unsupported(marker: str):
    inp = keras.Input((4, 2), name="x")
    h = keras.layers.GlobalAveragePooling1D(name="gap")(inp)
    return keras.Model(inp, dense("d1")(h), name="unsupported")


#: case -> (builder, also saved as a SavedModel)
CASES = {"first": (first, False), "middle": (middle, True), "branch": (branch, False),
         "nested": (nested, True), "clean": (clean, True), "unsupported": (unsupported, False)}


def main(folder: str) -> int:
    files = []
    for case, (build, saved_model) in CASES.items():
        model = build(os.path.join(folder, f"{case}.marker"))
        files.append(os.path.join(folder, f"{case}.h5"))
        model.save(files[-1])
        if saved_model:
            files.append(os.path.join(folder, f"{case}.savedmodel"))
            model.save(files[-1], save_format="tf")
    for marker in glob.glob(os.path.join(folder, "*.marker")):
        os.remove(marker)
    said = {}
    for path in files:
        try:
            keras2_reader.load(path)
            said[os.path.basename(path)] = "loaded"
        except Exception as err:  # noqa: BLE001 - the test reads whatever the reader said
            said[os.path.basename(path)] = f"{type(err).__name__}: {err}"
    with open(os.path.join(folder, "reader.json"), "w") as fh:
        json.dump(said, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

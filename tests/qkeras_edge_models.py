"""Test helper run in the legacy environment (TF_USE_LEGACY_KERAS=1): save QKeras models that the
importer must either handle or refuse in one clear line (tests/test_qkeras_refusals.py).

    python tests/qkeras_edge_models.py FOLDER

Saves ``FOLDER/<case>.h5`` for every case below (untrained: the weights come from fixed seeds),
and for the cases with data ``FOLDER/<case>.x.npy`` (written by the test beforehand) QKeras's own
``model.predict`` on them as ``FOLDER/<case>.pred<j>.npy``, one file per model output, and the
importer's description as ``FOLDER/<case>.desc/``.
One process for all of them: loading TensorFlow takes seconds.
"""

from __future__ import annotations

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import qkeras  # noqa: E402

from hgq_fpga.nn.importers.qkeras import keras2_reader  # noqa: E402

Q6 = "quantized_bits(6,0,alpha=1)"


def dense(name: str, units: int, kernel: str = Q6, **options):
    return qkeras.QDense(units, kernel_quantizer=kernel, bias_quantizer=Q6, name=name, **options)


def two_outputs():
    """Two outputs of different shapes (3 and 2 values)."""
    inp = keras.Input((4,), name="x")
    h = qkeras.QActivation("quantized_bits(8,2,alpha=1)", name="inq")(inp)
    h = dense("d1", 6, activation="quantized_relu(6,1)")(h)
    a = dense("a", 3)(h)
    b = qkeras.QActivation("quantized_bits(5,1,alpha=1)", name="bq")(dense("b", 2)(h))
    return keras.Model(inp, [a, b], name="two_outputs")


def two_inputs():
    """Two inputs, concatenated (qkeras_predict takes a list, as model.predict does)."""
    xa, xb = keras.Input((3,), name="xa"), keras.Input((2,), name="xb")
    qa = qkeras.QActivation("quantized_bits(8,2,alpha=1)", name="qa")(xa)
    qb = qkeras.QActivation("quantized_bits(6,1,alpha=1)", name="qb")(xb)
    h = keras.layers.Concatenate(name="cat")([qa, qb])
    return keras.Model([xa, xb], dense("out", 3)(h), name="two_inputs")


def variable_length():
    """An input whose length is not fixed: ``Input(shape=(None, 4))``."""
    inp = keras.Input((None, 4), name="seq")
    h = qkeras.QActivation("quantized_bits(8,2,alpha=1)", name="inq")(inp)
    return keras.Model(inp, dense("d1", 3)(h), name="variable_length")


def alpha_auto():
    """A kernel quantizer with ``alpha='auto'``: float per-channel scales."""
    inp = keras.Input((4,), name="x")
    h = qkeras.QActivation("quantized_bits(8,2,alpha=1)", name="inq")(inp)
    return keras.Model(inp, dense("d_auto", 3, kernel="quantized_bits(6,0,alpha='auto')")(h), name="alpha_auto")


def shared_layer():
    """One layer object called twice."""
    inp = keras.Input((4,), name="x")
    h = qkeras.QActivation("quantized_bits(8,2,alpha=1)", name="inq")(inp)
    twice = dense("twice", 4)
    return keras.Model(inp, twice(twice(h)), name="shared_layer")


CASES = {f.__name__: f for f in (two_outputs, two_inputs, variable_length, alpha_auto, shared_layer)}


def main(folder: str) -> int:
    for n, (case, build) in enumerate(CASES.items()):
        tf.random.set_seed(n)
        model = build()
        path = os.path.join(folder, f"{case}.h5")
        model.save(path)
        data = sorted(f for f in os.listdir(folder) if f.startswith(f"{case}.x") and f.endswith(".npy"))
        if data:
            loaded = keras2_reader.load(path)
            xs = [np.load(os.path.join(folder, f)) for f in data]
            y = loaded.predict(xs if len(xs) > 1 else xs[0], verbose=0)
            for j, out in enumerate(y if isinstance(y, list) else [y]):
                np.save(os.path.join(folder, f"{case}.pred{j}.npy"), out)
            keras2_reader.describe(loaded).save(os.path.join(folder, f"{case}.desc"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

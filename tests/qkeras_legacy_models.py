"""Test helper run in the legacy environment (TF_USE_LEGACY_KERAS=1): build, train, save QKeras models.

    python tests/qkeras_legacy_models.py JOB.json

JOB.json: ``{"folder": ..., "models": [spec, ...]}``. For each spec this builds the QKeras model
(functional API), trains it for one short epoch on the spec's ``train`` inputs (random targets),
saves ``<name>.h5``, writes the importer's description to ``<name>.desc/`` with the reader under
test, and saves QKeras's own ``model.predict`` for every data set to ``<name>.<set>.pred.npy``.
``"probes": [{"quantizer", "x", "out"}]`` applies a QKeras quantizer to the float32 values in
``x`` (in a ``tf.function``, as ``predict`` does) and saves the result to ``out``.
One process for the whole corpus: loading TensorFlow takes seconds.

A spec: ``{"name", "input_shape", "seed", "data": {set: file.npy}, "layers": [layer, ...]}`` where
a layer is ``{"type": class name, "inputs": [indices] (default: the previous layer; -1 is the model
input), other keyword arguments}``; quantizers are QKeras strings such as
``"quantized_bits(6,0,alpha=1)"``.
"""

from __future__ import annotations

import json
import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
import qkeras  # noqa: E402

from hgq_fpga.nn.importers.qkeras import keras2_reader as qkeras_reader  # noqa: E402

_QKERAS = {"QDense", "QConv1D", "QConv2D", "QConv2DBatchnorm", "QActivation", "QAveragePooling2D",
           "QBatchNormalization"}


def _layer(spec: dict):
    kind = spec["type"]
    kwargs = {k: v for k, v in spec.items() if k not in ("type", "inputs")}
    if kind in _QKERAS:
        return getattr(qkeras, kind)(**kwargs)
    return getattr(keras.layers, kind)(**kwargs)


def build(spec: dict):
    tf.random.set_seed(spec["seed"])
    inp = keras.Input(tuple(spec["input_shape"]), name="x")
    outs = []
    for n, layer_spec in enumerate(spec["layers"]):
        sources = layer_spec.get("inputs", [n - 1])
        xs = [inp if j < 0 else outs[j] for j in sources]
        outs.append(_layer(layer_spec)(xs if len(xs) > 1 else xs[0]))
    return keras.Model(inp, outs[-1], name=spec["name"])


def po2_batch_norm(layer, rng) -> None:
    """Give a batch norm power-of-two scales: gamma = 2^k, variance 1 (with a tiny epsilon,
    var + eps is 1.0 in float32), mean and beta on the grid 2^-3. A trained batch norm has
    arbitrary scales, which the importer refuses. The layer needs fewer than 8 channels: TensorFlow's
    vectorized CPU rsqrt rounds rsqrt(1.0) to 0.99999988 on full 8-float packets."""
    n = layer.gamma.shape[0]
    gamma = 2.0 ** rng.integers(-2, 2, n)
    beta, mean = (np.round(rng.normal(size=n) * 8) / 8 for _ in range(2))
    layer.set_weights([w.astype(np.float32) for w in (gamma, beta, mean, np.ones(n))])


def learnable_targets(x: np.ndarray, shape: tuple[int, ...], rng) -> np.ndarray:
    """Targets that are a fixed random function of the inputs. (Pure noise targets teach the model
    to output their mean, 0, and a coarse output quantizer then rounds every output to 0: the
    comparison would be vacuous.)"""
    flat = x.reshape(len(x), -1)
    proj = rng.normal(size=(flat.shape[1], int(np.prod(shape)))) / np.sqrt(flat.shape[1])
    y = 2.0 * np.tanh(flat @ proj)
    return y.reshape((len(x),) + shape).astype(np.float32)


#: seeds tried per model: its brief training on 400 samples is not deterministic (threads) and
#: can end with dead ReLUs and an all-zero output, which would make the comparison vacuous
ATTEMPTS = 5


def train_save_predict(spec: dict, folder: str):
    """Build, train one short epoch, save and reload the model; QKeras's predictions on every data set."""
    model = build(spec)
    x = np.load(spec["data"]["train"]).astype(np.float32)
    rng = np.random.default_rng(spec["seed"])
    y = learnable_targets(x, tuple(model.output_shape[1:]), rng)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    for layer in model.layers:
        if isinstance(layer, qkeras.QBatchNormalization):
            po2_batch_norm(layer, rng)
    path = os.path.join(folder, spec["name"] + ".h5")
    model.save(path)
    loaded = qkeras_reader.load(path)
    return loaded, {name: qkeras_reader.predict(loaded, np.load(data)) for name, data in spec["data"].items()}


def main(job_path: str) -> int:
    job = json.load(open(job_path))
    folder = job["folder"]
    for spec in job["models"]:
        for attempt in range(ATTEMPTS):
            loaded, preds = train_save_predict({**spec, "seed": spec["seed"] + attempt}, folder)
            if all(np.any(p != 0) for p in preds.values()):
                break
        else:
            raise SystemExit(f"{spec['name']}: QKeras output all zero on some data set after {ATTEMPTS} seeds")
        qkeras_reader.describe(loaded).save(os.path.join(folder, spec["name"] + ".desc"))
        for name, pred in preds.items():
            np.save(os.path.join(folder, f"{spec['name']}.{name}.pred.npy"), pred)
    for probe in job.get("probes", []):
        q = qkeras.quantizers.get_quantizer(probe["quantizer"])
        x = tf.constant(np.load(probe["x"]).astype(np.float32))
        np.save(probe["out"], np.asarray(tf.function(lambda v: q(v))(x)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

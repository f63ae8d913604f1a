"""Legacy-environment half of the QKeras study (bench/studies/qkeras/run.py): train the hls4ml
tutorial's QKeras jet tagger.

    TF_USE_LEGACY_KERAS=1 python bench/contenders/qkeras_legacy.py FOLDER EPOCHS SEED

Reads ``FOLDER/data.npz`` (``x_train, y_train, x_val, x_test``), builds 16-64-32-32-5 with
``quantized_bits(6,0,alpha=1)`` weights and biases, ``quantized_relu(6)`` activations and a final
softmax (as in the tutorial), trains it with Adam, saves ``FOLDER/jet.h5`` and QKeras's own
float32 logits (the model without its softmax) for the validation and test inputs.
"""

from __future__ import annotations

import os
import sys
import time

os.environ["TF_USE_LEGACY_KERAS"] = "1"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402
from qkeras import QActivation, QDense  # noqa: E402

Q6 = "quantized_bits(6,0,alpha=1)"


def build() -> keras.Model:
    inp = keras.Input((16,), name="x")
    x = inp
    for n, units in enumerate((64, 32, 32), start=1):
        x = QDense(units, kernel_quantizer=Q6, bias_quantizer=Q6, name=f"fc{n}")(x)
        x = QActivation("quantized_relu(6)", name=f"relu{n}")(x)
    x = QDense(5, kernel_quantizer=Q6, bias_quantizer=Q6, name="output")(x)
    return keras.Model(inp, keras.layers.Activation("softmax", name="softmax")(x), name="jet_qkeras")


def main(folder: str, epochs: int, seed: int) -> int:
    tf.random.set_seed(seed)
    data = np.load(os.path.join(folder, "data.npz"))
    model = build()
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(data["x_train"], data["y_train"], epochs=epochs, batch_size=256, verbose=0)
    train_s = time.perf_counter() - start
    model.save(os.path.join(folder, "jet.h5"))
    logits = keras.Model(model.input, model.get_layer("output").output)
    for part in ("val", "test"):
        np.save(os.path.join(folder, f"qkeras_logits_{part}.npy"),
                np.asarray(logits.predict(data[f"x_{part}"], batch_size=1024, verbose=0)))
    with open(os.path.join(folder, "train_s.txt"), "w") as fh:
        fh.write(f"{train_s}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))

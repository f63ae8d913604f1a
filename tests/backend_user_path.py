"""A user's whole path on the Keras backend of ``KERAS_BACKEND``, checked with ``==``; run as a script.

Train a small HGQ model for an epoch with ``fit`` (compiled), calibrate it, freeze it, and compare
calibrated-mode Keras with the firmware emulator on the calibration data, on four times the data
(overflow), on the input quantizer's rounding ties and on float32 denormals: called eagerly,
through ``predict`` compiled (XLA under JAX, ``jit_compile`` on TensorFlow) and not, and after
saving and loading. Prints one line ``ok <backend> ...`` or raises.

``tests/test_keras_backends.py`` runs it in a subprocess per backend (the backend is fixed when
Keras is imported).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import keras


def build() -> keras.Model:
    from hgq_fpga.nn.layers import HActivation, HDense, HQuantize

    rnd_sat = {"round_mode": "RND", "overflow_mode": "SAT"}
    inp = keras.Input((12,))
    x = HQuantize(output_quantizer={**rnd_sat, "f_init": 3})(inp)
    x = HDense(16, activation="relu", beta=1e-5, kernel_quantizer={"round_mode": "RND"},
               output_quantizer={"overflow_mode": "WRAP"})(x)        # wraps on 4x the data
    x = HActivation("tanh", output_quantizer=rnd_sat)(x)              # a table in calibrated mode
    return keras.Model(inp, HDense(4, beta=1e-5)(x))


def ties(model: keras.Model, rng, n: int = 64) -> np.ndarray:
    """Inputs half way between two codes of the input quantizer (a RND/TRN difference)."""
    k, i, f = model.layers[1].output_types()
    m = rng.integers(-(2 ** 5), 2 ** 5, (n,) + k.shape)
    return np.ldexp(m + 0.5, -f).astype(np.float32)


def predict(model: keras.Model, x: np.ndarray, jit: bool) -> np.ndarray:
    model.compile(loss="mse", jit_compile=jit)
    return model.predict(x, verbose=0, batch_size=64)


def check(model: keras.Model, fw, data: dict[str, np.ndarray], where: str) -> None:
    x = np.concatenate(list(data.values()))
    want = fw.predict(x.astype(np.float64))
    runs = {"eager": keras.ops.convert_to_numpy(model(x, training=False)),
            "predict": predict(model, x, jit=False), "predict compiled": predict(model, x, jit=True)}
    for how, got in runs.items():
        got = np.asarray(got)
        if got.dtype != np.float64:
            raise AssertionError(f"{where}, {how}: calibrated mode gave {got.dtype}, not float64")
        start = 0
        for name, part in data.items():
            rows = slice(start, start + len(part))
            start += len(part)
            if not np.array_equal(got[rows], want[rows]):
                raise AssertionError(f"{where}, {how}, {name}: {np.sum(got[rows] != want[rows])} of "
                                     f"{got[rows].size} values differ from the emulator")


def refuses_without_float64(model: keras.Model, x: np.ndarray) -> None:
    """JAX: importing hgq_fpga.nn turned 64-bit types on; with them off, calibrated mode refuses."""
    import jax

    if not jax.config.jax_enable_x64:
        raise AssertionError("importing hgq_fpga.nn did not turn jax_enable_x64 on")
    jax.config.update("jax_enable_x64", False)
    try:
        model(x, training=False)
    except RuntimeError as e:
        if "jax_enable_x64" not in str(e):
            raise
    else:
        raise AssertionError("calibrated mode ran in float32 with jax_enable_x64 off")
    finally:
        jax.config.update("jax_enable_x64", True)


def main() -> None:
    import hgq_fpga
    from hgq_fpga.nn.keras_backend import require_float64

    backend = keras.backend.backend()
    require_float64("backend_user_path")
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, (512, 12)).astype(np.float32)
    y = rng.integers(0, 4, 512)
    model = build()
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    before = keras.ops.convert_to_numpy(model.layers[2].kernel).copy()
    history = model.fit(x, y, epochs=1, batch_size=64, verbose=0).history
    if np.array_equal(before, keras.ops.convert_to_numpy(model.layers[2].kernel)):
        raise AssertionError("fit did not change the kernel")
    # the EBOPs logged for the epoch are the layers' EBOPs of its last step
    last_step = sum(float(keras.ops.convert_to_numpy(layer.ebops_var)) for layer in model.layers
                    if hasattr(layer, "ebops_var"))
    logged = history.get("ebops", [float("nan")])[-1]
    if not last_step > 0 or logged != last_step:
        raise AssertionError(f"fit logged EBOPs {logged}, the last step's are {last_step}")

    exact = hgq_fpga.calibrate(model, x)
    fw = hgq_fpga.to_firmware(model)
    t = ties(model, rng)
    k, i, f = model.layers[1].output_types()
    if np.array_equal(hgq_fpga.fixed.quantize(t, k, i, f, round="RND"), hgq_fpga.fixed.quantize(t, k, i, f, round="TRN")):
        raise AssertionError("the ties do not tell RND from TRN")
    denormals = np.zeros((8, 12), np.float32)
    denormals[:, 0] = [-1e-40, -1.4e-45, 1e-40, -0.0, 0.0, 3e-39, -3e-39, 1.0]
    data = {"x": x, "4x": 4 * x, "ties": t, "denormals": denormals}
    check(model, fw, data, "calibrated")

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "model.keras")
        model.save(path)
        loaded = keras.models.load_model(path, compile=False)
        # the compiled predict first: the loaded model has not run eagerly yet
        if not np.array_equal(predict(loaded, x, jit=True), fw.predict(x.astype(np.float64))):
            raise AssertionError("the loaded model's compiled predict differs from the emulator")
        check(loaded, fw, data, "loaded")
    if backend == "jax":
        refuses_without_float64(model, x)
    print(f"ok {backend}: fit, calibrate ({exact} EBOPs), freeze, Keras == emulator on "
          f"{', '.join(data)}, eager / predict / compiled predict, saved and loaded")


if __name__ == "__main__":
    main()

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


def build_wide() -> keras.Model:
    """TRN and WRAP with 20 fractional bits on inputs up to about 4000: codes of 32 bits, beyond
    float32's 24 (a float32 step anywhere in calibrated mode changes them), and negative denormals
    that truncate to -2**-20."""
    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((4,))
    x = HQuantize(output_quantizer={"f_init": 20, "f_max": 20})(inp)
    return keras.Model(inp, [x, HDense(3, kernel_quantizer={"init_bits": 20}, output_quantizer={"f_init": 16})(x)])


def check_float64_denormals() -> None:
    """float64 inputs, called eagerly (``fit``/``predict`` cast float64 data to float32 themselves):
    denormals and products that underflow truncate to ``-2**-4`` as in the firmware."""
    import hgq_fpga
    from hgq_fpga.nn.layers import HQuantize

    inp = keras.Input((1,), dtype="float64")
    model = keras.Model(inp, HQuantize(output_quantizer={"f_init": 4})(inp))
    hgq_fpga.calibrate(model, np.array([[-3.0], [2.0]]))
    x = np.array([[-5e-324], [-1e-310], [5e-324], [-2.0 ** -1020], [-1e-300], [-0.0]])
    got = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    want = hgq_fpga.to_firmware(model).predict(x)
    if not np.array_equal(got, want) or not np.all(want[[0, 1, 3, 4]] == -0.0625):
        raise AssertionError(f"float64 denormals: Keras {got.ravel()}, emulator {want.ravel()}")


def ties(model: keras.Model, rng, n: int = 64) -> np.ndarray:
    """Inputs half way between two codes of the input quantizer (a RND/TRN difference)."""
    k, i, f = model.layers[1].output_types()
    m = rng.integers(-(2 ** 5), 2 ** 5, (n,) + k.shape)
    return np.ldexp(m + 0.5, -f).astype(np.float32)


def predict(model: keras.Model, x: np.ndarray, jit: bool) -> np.ndarray:
    model.compile(loss="mse", jit_compile=jit)
    return model.predict(x, verbose=0, batch_size=64)


def _outputs(y) -> list[np.ndarray]:
    return [np.asarray(keras.ops.convert_to_numpy(t)) for t in (y if isinstance(y, (list, tuple)) else [y])]


def check(model: keras.Model, fw, data: dict[str, np.ndarray], where: str) -> None:
    x = np.concatenate(list(data.values()))
    want = _outputs(fw.predict(x.astype(np.float64)))
    runs = {"eager": model(x, training=False), "predict": predict(model, x, jit=False),
            "predict compiled": predict(model, x, jit=True)}
    for how, got in runs.items():
        for n, (g, w) in enumerate(zip(_outputs(got), want, strict=True)):
            if g.dtype != np.float64:
                raise AssertionError(f"{where}, {how}: calibrated mode gave {g.dtype}, not float64")
            start = 0
            for name, part in data.items():
                rows = slice(start, start + len(part))
                start += len(part)
                if not np.array_equal(g[rows], w[rows]):
                    raise AssertionError(f"{where}, {how}, output {n}, {name}: {np.sum(g[rows] != w[rows])} "
                                         f"of {g[rows].size} values differ from the emulator")


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
    wide = build_wide()
    xw = (rng.normal(0, 1000, (256, 4)) + rng.random((256, 4))).astype(np.float32)
    hgq_fpga.calibrate(wide, xw)
    wide_data = {"x": xw, "4x": 4 * xw, "denormals": denormals[:, :4]}
    if np.all(hgq_fpga.to_firmware(wide).predict(xw.astype(np.float64))[0] * 2.0 ** 20 < 2 ** 24):
        raise AssertionError("the wide model's codes fit float32")
    check(wide, hgq_fpga.to_firmware(wide), wide_data, "20 fractional bits")
    check_float64_denormals()
    if backend == "jax":
        refuses_without_float64(model, x)
    print(f"ok {backend}: fit, calibrate ({exact} EBOPs), freeze, Keras == emulator on "
          f"{', '.join(data)}, eager / predict / compiled predict, saved and loaded; 32-bit codes; float64 denormals")


if __name__ == "__main__":
    main()

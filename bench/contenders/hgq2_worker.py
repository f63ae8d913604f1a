"""The HGQ2 contender: runs INSIDE the HGQ2 venv (``bench/contenders/hgq2_env.py``), which has no
click, so its settings come as one JSON object (the second argument) instead of options.

It imports only numpy, keras and hgq (HGQ2) — never hgq_fpga, which lives in another venv. The
``timing`` mode (the training-time study) builds the benchmark's 784-64-32-32-10 MLP with HGQ2's
layers, compiles it like ours (Adam(1e-3), sparse categorical cross-entropy from logits, optionally
``jit_compile``) and then answers a line protocol:

    python bench/contenders/hgq2_worker.py timing '{"x": "X.npy", "y": "Y.npy", "jit": false, "seed": 0}'

    worker -> {"ready": true, "hgq2": "0.2.0", "keras": "3.15.1", "model": {...}}   (once, first)
    epoch <batch>  -> {"seconds": <wall seconds of one whole fit epoch at that batch size>}
    quit           -> (exits 0)
    anything else  -> {"error": "..."} and the worker keeps going; a failing epoch also answers {"error"}

One JSON object per line on stdout, nothing else: everything Keras or TensorFlow prints goes to stderr.

The ``front`` mode trains one HGQ2 front for the seeded resource study (``hgq2_front.py``):

    python bench/contenders/hgq2_worker.py front '{"data": "DATA.npz", "out": "OUT_DIR", "betas": [B0, ...],
        "units": [64, 32, 32, 10], "batch_size": 64, "learning_rate": 2e-3, "seed": 0,
        "init": "default" | "fair", "init_bits": 4, "f_init": 4.0, "weight_f": null,
        "lr_schedule": "constant" | "cosine", "lr_final": 1.0}'

With ``"arch": {"kind": "cnn", "filters": [8, 16], "kernel_size": 3}`` it builds the bench's CNN
instead (:func:`build_cnn`; ``units`` are then the dense widths after the convolutions) and trains on
images (``x_train`` of shape ``(n, h, w, c)``); each layer's ``shape_in<j>`` is the shape of what its
input quantizer quantizes (the pooled values).

It trains on ``x_train, y_train`` of ``DATA.npz`` (flattened images for the MLP) with ``beta = B<epoch>`` at each
epoch and after every epoch writes ``OUT_DIR/epoch<k>.npz`` (written, then renamed): per layer ``j``
the quantized kernel ``kernel<j>`` and bias ``bias<j>`` (HGQ2's ``qkernel``, ``qbias``), the input
quantizer's rounded fractional and integer bits ``f_in<j>``, ``i_in<j>``, the last layer's output
quantizer's ``f_out``, ``i_out``, and HGQ2's own ``val_accuracy`` and ``ebops``. It ends with one JSON line
``{"done": true, "epochs": E, "train_s": ...}``. ``"init": "fair"`` starts each weight with
``init_bits`` significant bits (``b = init_bits``, ``i`` = the integer bits of the weight's float value,
as ``hgq_fpga``'s ``init_bits`` does) and every activation with ``f_init`` fractional bits;
``init_bits: null`` with ``weight_f`` starts every weight with ``weight_f`` fractional bits instead;
``default`` keeps HGQ2's own starting widths. ``lr_schedule: "cosine"`` lowers the learning rate
along a cosine to ``lr_final`` times it at the last step, as the bench does for ours.

The model, HGQ2's idiom: every ``QDense`` quantizes its *input* (HGQ2's default ``iq``), so the
first layer's input quantizer is the model's input quantizer, like our ``HQuantize``; the last layer
also quantizes its output (``enable_oq``), like our last ``HDense``, so both models quantize the
same five tensors (784, 64, 32, 32, 10 values). Weights and biases use HGQ2's default quantizer
configuration (per-weight bit widths, its HGQ mode), activations its per-element default, and every
layer adds ``beta0 * EBOPs`` to the loss with ``beta0 = 1e-6``, the ``beta`` of our ``hgq_mlp()``.
"""

from __future__ import annotations

import json
import os
import sys
import time

BETA = 1e-6
UNITS = (64, 32, 32, 10)


def build_model(n_in: int = 784, beta: float = BETA, units: tuple[int, ...] = UNITS, datalane_f0: float | None = None):
    """The MLP ``n_in``-``units`` with HGQ2's layers (see the module docstring); ``datalane_f0``:
    the starting fractional bits of every activation quantizer (default: HGQ2's)."""
    import keras
    from hgq.config import QuantizerConfig
    from hgq.layers import QDense

    act = {} if datalane_f0 is None else {"iq_conf": QuantizerConfig("kif", "datalane", f0=datalane_f0),
                                          "oq_conf": QuantizerConfig("kif", "datalane", f0=datalane_f0)}
    inp = keras.Input((n_in,))
    x = inp
    for j, width in enumerate(units):
        last = j == len(units) - 1
        x = QDense(width, activation=None if last else "relu", beta0=beta, enable_oq=last,
                   **(act if last else {k: v for k, v in act.items() if k == "iq_conf"}))(x)
    return keras.Model(inp, x)


def build_cnn(image_shape: tuple[int, ...], filters: tuple[int, ...], kernel_size: int, units: tuple[int, ...],
              beta: float = BETA, datalane_f0: float | None = None):
    """The CNN of the bench (``filters`` conv + 2x2 max-pool blocks, then ``units`` dense widths) with
    HGQ2's layers: every ``QConv2D`` and ``QDense`` quantizes its input (the pooled values: Keras's
    ``MaxPooling2D`` and ``Flatten`` in between), the last one its output too."""
    import keras
    from hgq.config import QuantizerConfig
    from hgq.layers import QConv2D, QDense

    iq = {} if datalane_f0 is None else {"iq_conf": QuantizerConfig("kif", "datalane", f0=datalane_f0)}
    oq = {} if datalane_f0 is None else {"oq_conf": QuantizerConfig("kif", "datalane", f0=datalane_f0)}
    inp = keras.Input(tuple(image_shape))
    x = inp
    for c in filters:
        x = QConv2D(c, kernel_size, activation="relu", beta0=beta, **iq)(x)
        x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    for j, width in enumerate(units):
        last = j == len(units) - 1
        x = QDense(width, activation=None if last else "relu", beta0=beta, enable_oq=last,
                   **({**iq, **oq} if last else iq))(x)
    return keras.Model(inp, x)


def q_layers(model) -> list:
    """The layers of ``model`` with a kernel quantizer (QDense, QConv2D), in order."""
    return [layer for layer in model.layers[1:] if hasattr(layer, "kq")]


def describe(model) -> dict:
    """Layer structure and parameter counts, for the record (compared with ours by the bench)."""
    layers = []
    for layer in model.layers[1:]:
        kernel = getattr(layer, "kernel", None)
        layers.append({"class": type(layer).__name__, "units": getattr(layer, "units", None),
                       "activation": getattr(getattr(layer, "activation", None), "__name__", None),
                       "kernel": list(kernel.shape) if kernel is not None else None,
                       "params": int(layer.count_params())})
    float_weights = sum(int(v.numpy().size) for layer in model.layers[1:]
                        for v in (getattr(layer, "kernel", None), getattr(layer, "bias", None)) if v is not None)
    trainable = sum(int(v.numpy().size) for v in model.trainable_variables)
    return {"layers": layers, "params": int(model.count_params()), "trainable_params": trainable,
            "float_weights": float_weights}


def _fair_weight_bits(model, init_bits: int | None, weight_f: float | None = None) -> None:
    """Every kernel weight starts as ``hgq_fpga`` starts it: with ``init_bits`` significant bits
    (``b = init_bits`` and ``i`` the integer bits ``floor(log2|w|) + 1`` of its float value, so
    ``f = b - i``), or, when ``init_bits`` is None, with ``weight_f`` fractional bits (``i`` as
    before, ``b = i + weight_f``)."""
    import numpy as np

    for layer in q_layers(model):
        q = layer.kq.quantizer
        w = np.asarray(layer.kernel.numpy(), np.float64)
        mag = np.where(w == 0, 1.0, np.abs(w))
        i = np.floor(np.log2(mag)) + 1
        b = np.full(w.shape, float(init_bits)) if init_bits is not None else i + float(weight_f)
        q._b.assign(b.astype(np.float32))
        q._i.assign(i.astype(np.float32))


def export_epoch(model, path: str, logs: dict) -> None:
    """The quantized values and activation widths of ``model`` (see the module docstring), as ``path``."""
    import numpy as np

    arrays = {}
    layers = q_layers(model)
    for j, layer in enumerate(layers):
        arrays[f"kernel{j}"] = np.asarray(layer.qkernel, np.float64)
        arrays[f"bias{j}"] = np.asarray(layer.qbias, np.float64)
        iq = layer.iq.quantizer
        arrays[f"f_in{j}"] = np.asarray(iq.f, np.float64).reshape(-1)
        arrays[f"i_in{j}"] = np.asarray(iq.i, np.float64).reshape(-1)
        arrays[f"shape_in{j}"] = np.asarray(layer.input.shape[1:], np.int64)
    oq = layers[-1].oq.quantizer
    arrays["f_out"] = np.asarray(oq.f, np.float64).reshape(-1)
    arrays["i_out"] = np.asarray(oq.i, np.float64).reshape(-1)
    arrays["val_accuracy"] = np.float64(logs.get("val_accuracy", np.nan))
    arrays["ebops"] = np.float64(sum(float(layer.ebops) for layer in layers))
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def front(settings: dict) -> int:
    """The ``front`` mode (see the module docstring)."""
    result_fd = os.dup(1)  # the one result line goes there; Keras's prints go to stderr
    os.dup2(2, 1)
    betas = [float(b) for b in settings["betas"]]

    import numpy as np
    import keras
    from hgq.utils.sugar import BetaScheduler

    d = np.load(settings["data"])
    x, y, xv, yv = (d[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    keras.utils.set_random_seed(settings.get("seed", 0))
    fair = settings.get("init", "default") == "fair"
    f_init = float(settings.get("f_init", 4.0))
    arch = settings.get("arch", {"kind": "mlp"})
    if arch["kind"] == "cnn":
        model = build_cnn(x.shape[1:], tuple(arch["filters"]), arch["kernel_size"], tuple(settings["units"]),
                          beta=betas[0], datalane_f0=f_init if fair else None)
    else:
        model = build_model(x.shape[1], beta=betas[0], units=tuple(settings.get("units", UNITS)),
                            datalane_f0=f_init if fair else None)
    model(x[:2], training=False)
    if fair:
        _fair_weight_bits(model, settings.get("init_bits", 4), settings.get("weight_f"))
    batch = settings.get("batch_size", 64)
    lr = settings.get("learning_rate", 2e-3)
    if settings.get("lr_schedule", "constant") == "cosine":   # as bench.common.training.learning_rate
        lr = keras.optimizers.schedules.CosineDecay(lr, len(betas) * -(-len(x) // batch),
                                                    alpha=settings.get("lr_final", 1.0))
    model.compile(keras.optimizers.Adam(lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    out = settings["out"]
    os.makedirs(out, exist_ok=True)

    class Export(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            export_epoch(self.model, os.path.join(out, f"epoch{epoch + 1}.npz"), logs or {})

    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=len(betas), validation_data=(xv, yv), verbose=0,
              callbacks=[BetaScheduler(lambda e: betas[min(e, len(betas) - 1)]), Export()])
    result = {"done": True, "epochs": len(betas), "train_s": round(time.perf_counter() - t0, 2)}
    os.write(result_fd, (json.dumps(result) + "\n").encode())
    return 0


def timing(settings: dict) -> int:
    """The ``timing`` mode (see the module docstring): ``x`` (.npy, shape (n, 784)), ``y`` (.npy,
    shape (n,)), ``jit`` (compile with XLA), ``seed``."""
    jit = bool(settings.get("jit", False))
    proto = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol channel: the original stdout
    os.dup2(2, 1)  # anything else printed to stdout lands on stderr

    def say(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    import numpy as np
    import importlib.metadata as metadata
    import keras

    x, y = np.load(settings["x"]), np.load(settings["y"])
    if x.ndim != 2 or len(x) != len(y):
        say({"error": f"x must be (n, features) and y (n,), got {x.shape} and {y.shape}"})
        return 2
    keras.utils.set_random_seed(settings.get("seed", 0))
    model = build_model(x.shape[1])
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit)
    model(x[:2], training=False)  # build every quantizer before counting parameters
    say({"ready": True, "hgq2": metadata.version("hgq2"), "keras": keras.__version__,
         "backend": keras.backend.backend(), "jit": jit, "model": describe(model)})

    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words == ["quit"]:
            return 0
        if words[0] == "epoch" and len(words) == 2 and words[1].isdigit() and int(words[1]) > 0:
            try:
                t0 = time.perf_counter()
                model.fit(x, y, batch_size=int(words[1]), epochs=1, verbose=0)
                say({"seconds": time.perf_counter() - t0})
            except Exception as exc:  # noqa: BLE001 - reported to the bench, which raises
                say({"error": f"{type(exc).__name__}: {exc}"})
            continue
        say({"error": f"unknown command {line.strip()!r}; expected 'epoch <batch>' or 'quit'"})
    return 0


MODES = {"timing": timing, "front": front}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        sys.exit(f"Error: expected a mode ({', '.join(MODES)}) and one JSON object of settings, got {sys.argv[1:]}")
    sys.exit(MODES[sys.argv[1]](json.loads(sys.argv[2])))

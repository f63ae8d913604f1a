"""The HGQ2 side of the particle study: runs INSIDE an HGQ2 venv (``bench/contenders/hgq2_env.py`` for
training, ``bench/contenders/hgq2_firmware.py`` for the firmware path: HGQ2, alkaid and hls4ml), never next to hgq_fpga. Its
settings come as one JSON object (the second argument); it prints one JSON line to stdout at the end.

    python bench/contenders/hgq2_particles_worker.py train '{"data": "DATA.npz", "out": "DIR",
        "arch": "deep_sets", "options": {"hidden": 32}, "betas": [B0, ...], "batch_size": 64,
        "learning_rate": 0.003, "seed": 0}'
    python bench/contenders/hgq2_particles_worker.py firmware '{"model": "M.keras", "data": "X.npz",
        "out": "DIR", "tools": ["alkaid", "hls4ml"]}'

**train** builds the reference architecture ``arch`` of ``examples/particles/models.py`` from HGQ2's
own layers (same layer names, sizes and activations): ``QDense`` on every particle, ``QEinsumDense``
for the mixing across particles and the attention projections, ``QEinsum`` for the two products of
activations, ``QSoftmax``, ``QSum``, ``QAdd``, ``QGlobalAveragePooling1D`` and Keras's ``Permute``.
It is HGQ2's idiom: every quantized layer quantizes its *inputs* (HGQ2's default ``iq``, per element)
and counts its EBOPs from them; the logits layer also quantizes its output (``enable_oq``). Weights,
biases and activations use HGQ2's default quantizer configurations and starting widths. It trains
on ``x_train, y_train`` of ``DATA.npz`` with Adam, sparse categorical cross-entropy from logits and
``beta = B<epoch>`` at each epoch, and after every epoch writes ``DIR/epoch<k>.npz`` (see
:func:`export_epoch`) and ``DIR/epoch<k>.keras`` (the model, for the firmware path). ``DIR/graph.json``
describes the model's layers in order (class, inbound layers, the options that shape them), so that
the bench can rebuild each export as an hgq_fpga model (``bench/contenders/hgq2_particles.py``).

**firmware** loads an HGQ2 model and runs it, on ``x`` and ``x4`` of ``X.npz``, through HGQ2's own
Keras model and HGQ2's documented paths to firmware: alkaid's HGQ2 converter
(``alkaid.converter.trace_model`` then ``alkaid.trace.trace``: alkaid's interpreter of the traced
logic) and hls4ml (``convert_from_keras_model``, Vitis backend, then its C++ compiled with g++ and
run through ``predict``). It saves every output in ``DIR/outputs.npz`` (``keras_x``, ``alkaid_x``, ...)
and prints, per tool, ``{"ok": true}`` or the error that tool raised (a refusal is a result).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback

#: a layer's HGQ2 quantizers exported per epoch, by attribute (the softmax's four are inside it)
_SOFTMAX_PARTS = {"exp_iq": ("exp_table", "iq"), "exp_oq": ("exp_table", "oq"),
                  "inv_iq": ("inv_table", "iq"), "inv_oq": ("inv_table", "oq")}


def _inputs(keras, n: int, f: int):
    return keras.Input((n, f), name="particles")


def _logits(classes: int, beta: float):
    from hgq.layers import QDense
    return QDense(classes, beta0=beta, enable_oq=True, name="logits")


def deep_sets(n=16, f=5, classes=5, hidden=32, beta=0.0):
    import keras
    from hgq.layers import QDense, QSum

    inp = _inputs(keras, n, f)
    x = QDense(hidden, activation="relu", beta0=beta, name="phi1")(inp)
    x = QDense(hidden, activation="relu", beta0=beta, name="phi2")(x)
    x = QSum(axes=1, beta0=beta, name="sum")(x)
    x = QDense(hidden, activation="relu", beta0=beta, name="rho")(x)
    return keras.Model(inp, _logits(classes, beta)(x), name="deep_sets")


def interaction_network(n=16, f=5, classes=5, hidden=16, beta=0.0):
    import keras
    from hgq.layers import QAdd, QDense, QEinsumDense, QSum

    inp = _inputs(keras, n, f)
    h = QDense(hidden, activation="relu", beta0=beta, name="embed")(inp)
    mixed = QEinsumDense("bnf,nm->bmf", (n, hidden), beta0=beta, name="mix")(h)
    total = QSum(axes=1, keepdims=True, beta0=beta, name="total")(h)
    update = QAdd(beta0=beta, name="update")([QDense(hidden, beta0=beta, name="self")(h), mixed,
                                              QDense(hidden, beta0=beta, name="global")(total)])
    h = QDense(hidden, activation="relu", beta0=beta, name="node")(update)
    x = QSum(axes=1, beta0=beta, name="sum")(h)
    return keras.Model(inp, _logits(classes, beta)(x), name="interaction_network")


def mlp_mixer(n=16, f=5, classes=5, hidden=16, blocks=1, beta=0.0):
    import keras
    from hgq.layers import QAdd, QDense, QGlobalAveragePooling1D

    inp = _inputs(keras, n, f)
    x = QDense(hidden, beta0=beta, name="embed")(inp)
    for b in range(blocks):
        t = keras.layers.Permute((2, 1), name=f"tokens{b}")(x)
        t = QDense(n, activation="relu", beta0=beta, name=f"token_mix{b}")(t)
        x = QAdd(beta0=beta, name=f"token_res{b}")([x, keras.layers.Permute((2, 1), name=f"back{b}")(t)])
        c = QDense(hidden, activation="relu", beta0=beta, name=f"channel_mix{b}")(x)
        x = QAdd(beta0=beta, name=f"channel_res{b}")([x, c])
    x = QGlobalAveragePooling1D(beta0=beta, name="pool")(x)
    return keras.Model(inp, _logits(classes, beta)(x), name="mlp_mixer")


def transformer(n=16, f=5, classes=5, dim=8, beta=0.0):
    """Keras's multi-head attention equations for one head, as hgq_fpga's HMultiHeadAttention
    recipe writes them (projections, scores, softmax over the keys, combination, output)."""
    import keras
    from hgq.layers import QAdd, QDense, QEinsum, QEinsumDense, QGlobalAveragePooling1D, QSoftmax

    inp = _inputs(keras, n, f)
    x = QDense(dim, beta0=beta, name="embed")(inp)
    proj = {part: QEinsumDense("abc,cde->abde", (n, 1, dim), bias_axes="de", beta0=beta,
                               name=f"attention_{part}")(x) for part in ("query", "key", "value")}
    scores = QEinsum("aecd,abcd->acbe", beta0=beta, name="attention_scores")([proj["key"], proj["query"]])
    probs = QSoftmax(axis=-1, beta0=beta, name="attention_softmax")(scores)
    combined = QEinsum("acbe,aecd->abcd", beta0=beta, name="attention_combine")([probs, proj["value"]])
    attended = QEinsumDense("abcd,cde->abe", (n, dim), bias_axes="e", beta0=beta,
                            name="attention_output")(combined)
    x = QAdd(beta0=beta, name="residual")([x, attended])
    x = QDense(dim, activation="relu", beta0=beta, name="ffn")(x)
    x = QGlobalAveragePooling1D(beta0=beta, name="pool")(x)
    return keras.Model(inp, _logits(classes, beta)(x), name="transformer")


ARCHITECTURES = {"deep_sets": deep_sets, "interaction_network": interaction_network,
                 "mlp_mixer": mlp_mixer, "transformer": transformer}


def _config(layer) -> dict:
    """The options of ``layer`` that its hgq_fpga counterpart needs."""
    cfg = layer.get_config()
    keep = ("units", "equation", "output_shape", "bias_axes", "axes", "keepdims", "dims", "use_bias")
    out = {k: cfg[k] for k in keep if k in cfg}
    act = getattr(layer, "activation", None)
    if act is not None:
        out["activation"] = getattr(act, "__name__", str(act))
    if "axes" in out:
        out["axes"] = [int(a) for a in layer.axes]
    return out


def describe_graph(model) -> dict:
    """The model's layers in order: name, class, inbound layer names, shaping options."""
    layers = []
    for layer in model.layers:
        inbound = []
        if layer._inbound_nodes:
            inbound = [t._keras_history.operation.name for t in layer._inbound_nodes[0].input_tensors]
        layers.append({"name": layer.name, "class": type(layer).__name__, "inbound": inbound,
                       "config": _config(layer), "iq": bool(getattr(layer, "enable_iq", False)),
                       "oq": bool(getattr(layer, "enable_oq", False))})
    return {"layers": layers, "input_shape": list(model.input_shape[1:]), "outputs": [model.layers[-1].name]}


def _kif(arrays: dict, key: str, quantizer) -> None:
    import numpy as np

    q = quantizer.quantizer
    for field in "kif":
        arrays[f"{key}.{field}"] = np.asarray(getattr(q, field), np.float64)


def export_epoch(model, path: str, logs: dict) -> None:
    """Per layer ``L``: ``L.iq<j>.{k,i,f}`` (input ``j``'s quantizer), ``L.oq.{k,i,f}``, the quantized
    ``L.kernel`` and ``L.bias``, the softmax's ``L.exp_iq`` ... ``L.inv_oq``; HGQ2's ``val_accuracy``
    and ``ebops`` (its own count, the sum over layers)."""
    import numpy as np
    from hgq.layers import QSoftmax

    arrays = {}
    ebops = 0.0
    for layer in model.layers:
        if getattr(layer, "enable_iq", False):
            iqs = layer.iq if hasattr(layer.iq, "quantizers") else [layer.iq]
            for j, q in enumerate(iqs):
                _kif(arrays, f"{layer.name}.iq{j}", q)
        if getattr(layer, "enable_oq", False):
            _kif(arrays, f"{layer.name}.oq", layer.oq)
        if hasattr(layer, "kq"):
            arrays[f"{layer.name}.kernel"] = np.asarray(layer.qkernel, np.float64)
            if layer.bias is not None:
                arrays[f"{layer.name}.bias"] = np.asarray(layer.qbias, np.float64)
        if isinstance(layer, QSoftmax):
            for key, (table, which) in _SOFTMAX_PARTS.items():
                _kif(arrays, f"{layer.name}.{key}", getattr(getattr(layer, table), which))
        if getattr(layer, "enable_ebops", False):
            ebops += float(layer.ebops)
    arrays["val_accuracy"] = np.float64(logs.get("val_accuracy", np.nan))
    arrays["ebops"] = np.float64(ebops)
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def train(settings: dict) -> dict:
    import keras
    import numpy as np
    from hgq.utils.sugar import BetaScheduler

    betas = [float(b) for b in settings["betas"]]
    d = np.load(settings["data"])
    x, y, xv, yv = (d[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    keras.utils.set_random_seed(int(settings.get("seed", 0)))
    build = ARCHITECTURES[settings["arch"]]
    model = build(n=x.shape[1], f=x.shape[2], classes=int(y.max()) + 1, beta=betas[0],
                  **settings.get("options", {}))
    model.compile(keras.optimizers.Adam(settings.get("learning_rate", 3e-3)),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    out = settings["out"]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "graph.json"), "w") as fh:
        json.dump(describe_graph(model), fh)

    class Export(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            export_epoch(self.model, os.path.join(out, f"epoch{epoch + 1}.npz"), logs or {})
            self.model.save(os.path.join(out, f"epoch{epoch + 1}.keras"))

    t0 = time.perf_counter()
    model.fit(x, y, batch_size=int(settings.get("batch_size", 64)), epochs=len(betas), validation_data=(xv, yv),
              verbose=0, callbacks=[BetaScheduler(lambda e: betas[min(e, len(betas) - 1)]), Export()])
    return {"done": True, "epochs": len(betas), "train_s": round(time.perf_counter() - t0, 2),
            "params": int(model.count_params())}


def _alkaid(model, out_dir: str):
    """alkaid's interpreter of the logic its HGQ2 converter traces from ``model``."""
    from alkaid.converter import trace_model
    from alkaid.trace import trace

    inp, out = trace_model(model)
    logic = trace(inp, out)
    return lambda x: logic.predict(x.reshape(len(x), -1).astype("float64"))


def _hls4ml(model, out_dir: str):
    """hls4ml's Vitis project of ``model`` (io_parallel, its per-layer configuration from the model),
    compiled once with g++ for its ``predict``."""
    import hls4ml

    config = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vitis")
    hls = hls4ml.converters.convert_from_keras_model(model, hls_config=config, backend="Vitis",
                                                     output_dir=os.path.join(out_dir, "hls4ml"),
                                                     io_type="io_parallel")
    hls.compile()
    return lambda x: hls.predict(x.astype("float32"))


TOOLS = {"alkaid": _alkaid, "hls4ml": _hls4ml}


def firmware(settings: dict) -> dict:
    import hgq  # noqa: F401 - registers HGQ2's layers for loading
    import keras
    import numpy as np

    model = keras.saving.load_model(settings["model"], compile=False)
    data = np.load(settings["data"])
    out = settings["out"]
    os.makedirs(out, exist_ok=True)
    outputs, facts = {}, {}
    for name in ("x", "x4"):
        outputs[f"keras_{name}"] = np.asarray(model.predict(data[name], batch_size=512, verbose=0), np.float64)
    for tool in settings.get("tools", tuple(TOOLS)):
        t0 = time.perf_counter()
        try:
            run = TOOLS[tool](model, out)
            for name in ("x", "x4"):
                got = run(data[name])
                outputs[f"{tool}_{name}"] = np.asarray(got, np.float64).reshape(outputs[f"keras_{name}"].shape)
            facts[tool] = {"ok": True, "seconds": round(time.perf_counter() - t0, 1)}
        except Exception as exc:  # noqa: BLE001 - a tool refusing the model is a result
            last = traceback.format_exc().strip().splitlines()[-1]
            facts[tool] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                           if str(exc) else last}
    np.savez(os.path.join(out, "outputs.npz"), **outputs)
    return {"done": True, "tools": facts}


MODES = {"train": train, "firmware": firmware}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in MODES:
        sys.exit(f"Error: expected a mode ({', '.join(MODES)}) and one JSON object of settings, got {sys.argv[1:]}")
    result_fd = os.dup(1)   # the one result line goes there; everything Keras prints goes to stderr
    os.dup2(2, 1)
    result = MODES[sys.argv[1]](json.loads(sys.argv[2]))
    os.write(result_fd, (json.dumps(result) + "\n").encode())

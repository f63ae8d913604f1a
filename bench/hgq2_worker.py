"""The HGQ2 contender of the training-time benchmark: runs INSIDE the HGQ2 venv (``bench/hgq2_env.py``).

It imports only numpy, keras and hgq (HGQ2) — never hgq_fpga, which lives in another venv — builds
the benchmark's 784-64-32-32-10 MLP with HGQ2's layers, compiles it like ours (Adam(1e-3), sparse
categorical cross-entropy from logits, optionally ``jit_compile``) and then answers a line protocol:

    python bench/hgq2_worker.py X.npy Y.npy [--jit] [--seed 0]

    worker -> {"ready": true, "hgq2": "0.2.0", "keras": "3.15.1", "model": {...}}   (once, first)
    epoch <batch>  -> {"seconds": <wall seconds of one whole fit epoch at that batch size>}
    quit           -> (exits 0)
    anything else  -> {"error": "..."} and the worker keeps going; a failing epoch also answers {"error"}

One JSON object per line on stdout, nothing else: everything Keras or TensorFlow prints goes to stderr.

The model, HGQ2's idiom: every ``QDense`` quantizes its *input* (HGQ2's default ``iq``), so the
first layer's input quantizer is the model's input quantizer, like our ``HQuantize``; the last layer
also quantizes its output (``enable_oq``), like our last ``HDense``, so both models quantize the
same five tensors (784, 64, 32, 32, 10 values). Weights and biases use HGQ2's default quantizer
configuration (per-weight bit widths, its HGQ mode), activations its per-element default, and every
layer adds ``beta0 * EBOPs`` to the loss with ``beta0 = 1e-6``, the ``beta`` of our ``hgq_mlp()``.
"""

from __future__ import annotations

import os
import sys

# the script's folder (bench/) holds modules named config.py, data.py, ...: keep it off the import path
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

BETA = 1e-6
UNITS = (64, 32, 32, 10)


def build_model(n_in: int = 784, beta: float = BETA):
    """The 784-64-32-32-10 MLP with HGQ2's layers (see the module docstring)."""
    import keras
    from hgq.layers import QDense

    inp = keras.Input((n_in,))
    x = inp
    for j, units in enumerate(UNITS):
        last = j == len(UNITS) - 1
        x = QDense(units, activation=None if last else "relu", beta0=beta, enable_oq=last)(x)
    return keras.Model(inp, x)


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="HGQ2 contender of bench/bench_training.py (line protocol)")
    ap.add_argument("x", help="training inputs, .npy, shape (n, 784)")
    ap.add_argument("y", help="training labels, .npy, shape (n,)")
    ap.add_argument("--jit", action="store_true", help="compile with XLA (jit_compile=True)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    proto = os.fdopen(os.dup(1), "w", buffering=1)  # the protocol channel: the original stdout
    os.dup2(2, 1)  # anything else printed to stdout lands on stderr

    def say(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    import numpy as np
    import importlib.metadata as metadata
    import keras

    x, y = np.load(args.x), np.load(args.y)
    if x.ndim != 2 or len(x) != len(y):
        say({"error": f"x must be (n, features) and y (n,), got {x.shape} and {y.shape}"})
        return 2
    keras.utils.set_random_seed(args.seed)
    model = build_model(x.shape[1])
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=args.jit)
    model(x[:2], training=False)  # build every quantizer before counting parameters
    say({"ready": True, "hgq2": metadata.version("hgq2"), "keras": keras.__version__,
         "backend": keras.backend.backend(), "jit": args.jit, "model": describe(model)})

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


if __name__ == "__main__":
    sys.exit(main())

"""Post-training quantization benchmark: min/max against EasyQuant on Fashion-MNIST (not run in CI).

    python -m bench.bench_ptq [--quick] [--cnn] [--out bench/ptq_results.json]

Trains the float model of the resource study (MLP 784-64-32-32-10; with ``--cnn`` also the CNN
conv3x3x8-pool-conv3x3x16-pool-10), then quantizes it after training at 8, 7, 6, 5 and 4 bits
(weights and activations alike) with ``search="minmax"`` and ``search="easyquant"``, and adds
mixed-precision points: EasyQuant at 8 bits lowered per layer to the EBOPs of each uniform
EasyQuant model. Every point is converted to firmware; its accuracy is the *firmware's* on the
test set (``fw.predict``), and Keras = emulator is checked on the whole test set (mismatches are
recorded and must be 0). Results go to a JSON file and a table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from hgq_fpga.argparsing import ArgumentParser, error_line

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

BITS = (8, 7, 6, 5, 4)


def float_model(kind: str, image_shape: tuple[int, ...], seed: int):
    """The resource study's architecture as a plain float Keras model (logits out)."""
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = keras.Input(image_shape)
    x = inp
    if kind == "cnn":
        for filters in (8, 16):
            x = L.MaxPooling2D(2)(L.Conv2D(filters, 3, activation="relu")(x))
        x = L.Flatten()(x)
    else:
        x = L.Flatten()(x)
        for units in (64, 32, 32):
            x = L.Dense(units, activation="relu")(x)
    return keras.Model(inp, L.Dense(10)(x), name=f"float_{kind}")


def train(model, split, epochs: int) -> float:
    import keras

    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(split.x_train, split.y_train, validation_data=(split.x_val, split.y_val), epochs=epochs,
              batch_size=128, verbose=0)
    return _accuracy(np.asarray(model.predict(split.x_test, batch_size=1000, verbose=0)), split.y_test)


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=-1) == y))


def measure(result, split, label: str, bits, search: str) -> dict:
    """Firmware accuracy, EBOPs and the Keras/emulator mismatch count of one PTQ model."""
    import hgq_fpga

    fw = hgq_fpga.to_firmware(result.model)
    y_fw = fw.predict(split.x_test)
    y_keras = np.asarray(result.model.predict(split.x_test, batch_size=1000, verbose=0), np.float64)
    return {"label": label, "bits": bits, "search": search, "ebops": int(fw.resources().ebops),
            "accuracy": _accuracy(y_fw, split.y_test), "output_cosine": result.output_cosine,
            "mismatches": int(np.sum(y_keras != y_fw))}


def run_model(kind: str, split, epochs: int, n_calib: int, seed: int, mixed: bool) -> dict:
    from hgq_fpga.nn.importers.ptq import ptq

    model = float_model(kind, split.image_shape, seed)
    t0 = time.time()
    float_acc = train(model, split, epochs)
    record = {"kind": kind, "float_accuracy": float_acc, "train_s": time.time() - t0, "points": []}
    print(f"{kind}: float test accuracy {float_acc:.4f} ({record['train_s']:.0f} s)", flush=True)
    x_calib = split.x_train[:n_calib]
    for bits in BITS:
        for search in ("minmax", "easyquant"):
            t0 = time.time()
            r = ptq(model, x_calib, bits, bits, search=search)
            point = measure(r, split, f"{search} {bits}b", bits, search)
            point["ptq_s"] = time.time() - t0
            record["points"].append(point)
            print(_row(point, float_acc), flush=True)
    if mixed:
        budgets = [p["ebops"] for p in record["points"] if p["search"] == "easyquant" and p["bits"] < 8]
        for budget in budgets:
            t0 = time.time()
            r = ptq(model, x_calib, 8, 8, search="easyquant", ebops_budget=budget)
            point = measure(r, split, f"mixed <= {budget}", None, "easyquant+mixed")
            point["budget"], point["ptq_s"] = budget, time.time() - t0
            record["points"].append(point)
            print(_row(point, float_acc), flush=True)
    return record


def _row(p: dict, float_acc: float) -> str:
    return (f"  {p['label']:>22}  acc {p['accuracy']:.4f} ({100 * (p['accuracy'] - float_acc):+.2f} pt)  "
            f"EBOPs {p['ebops']:>9}  cos {p['output_cosine']:.5f}  mismatches {p['mismatches']}  "
            f"{p['ptq_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m bench.bench_ptq", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 training images, 4 epochs, 2,000 test images")
    parser.add_argument("--cnn", action="store_true", help="also the CNN")
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed-precision points")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--calib", type=int, default=2000, help="calibration images (from the training set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("ptq_results.json"))
    args = parser.parse_args(argv)

    from .data import DatasetMissingError, fashion_mnist

    try:
        split = (fashion_mnist(n_train=10000, n_test=2000, seed=args.seed) if args.quick
                 else fashion_mnist(seed=args.seed))
    except DatasetMissingError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    epochs = args.epochs if args.epochs is not None else (4 if args.quick else 20)
    results = {"data": split.describe(), "epochs": epochs, "calibration_images": args.calib, "models": []}
    for kind in ("mlp", "cnn") if args.cnn else ("mlp",):
        results["models"].append(run_model(kind, split, epochs, args.calib, args.seed, not args.no_mixed))
        tmp = args.out.with_suffix(".json.tmp")         # after each model: a later failure keeps it
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(args.out)
        print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

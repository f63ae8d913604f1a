"""Post-training quantization study: min/max against EasyQuant on Fashion-MNIST (not run in CI).

    nice -n 10 python -m bench.bench_ptq [--models mlp cnn] [--out bench/ptq_results.json]
    python -m bench.record ptq                     # into results.json and BENCHMARKS.md

Trains the float model of each resource-study architecture (MLP 784-64-32-32-10, CNN
conv3x3x8-pool-conv3x3x16-pool-10) with the resource study's own recipe (``bench.config.full``:
the same training images, epochs, batch size, optimizer and learning rate; the weights of the
epoch with the best validation accuracy are kept, as for the uniform QAT points), then quantizes
it after training at 8, 7, 6, 5 and 4 bits (weights and activations alike) with
``search="minmax"`` and ``search="easyquant"``, and adds budgeted mixed-precision points:
EasyQuant at 8 bits lowered per layer to the EBOPs of each uniform EasyQuant model below 8 bits
(one greedy descent, :func:`hgq_fpga.nn.ptq.quantize_float_budgets`). Every point is converted to
firmware; its accuracy is the *firmware's* on the test set (``fw.predict``), and Keras = emulator
is checked on the whole test set (the mismatch count is recorded and must be 0).

The raw record ``bench/ptq_results.json`` (study KEY ``ptq``, rendered by
:mod:`bench.studies.ptq`) also holds a copy of the HGQ and uniform-QAT points of the resource
study read from ``bench/results.json`` (``resource_study.architectures.<kind>``), with that run's
command and recipe, so the plot beside those fronts is drawn from the record alone. Each model is
merged into an existing record of the same settings, so ``--models mlp`` and ``--models cnn`` may
run one after the other (or side by side).
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

#: the targets' widths (8, 6) first, so that a run stopped early still judges them
BITS = (8, 6, 4, 7, 5)
KINDS = ("mlp", "cnn")
RESULTS = Path(__file__).with_name("results.json")


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


def recipe(kind: str, smoke: bool, epochs: dict[str, int]) -> dict:
    """Training images, epochs, batch size, learning rate: the resource study's (``bench.config.full``),
    with the epochs of ``epochs`` (by kind) instead where given (recorded as such)."""
    from .config import full

    if smoke:
        return {"n_train": None, "epochs": 2, "batch_size": 64, "learning_rate": 2e-3, "optimizer": "Adam",
                "source": "smoke"}
    study = full().study
    plan = {p.arch.name: p for p in study.plans}[kind]
    r = {"n_train": plan.n_train, "epochs": plan.epochs, "batch_size": study.batch_size,
         "learning_rate": study.learning_rate, "optimizer": "Adam", "source": "bench.config.full"}
    if kind in epochs and epochs[kind] != plan.epochs:
        r.update(epochs=epochs[kind], source=f"bench.config.full with {epochs[kind]} epochs instead of {plan.epochs}")
    return r


def train(model, split, r: dict) -> tuple[float, int]:
    """Train with recipe ``r``, keep the best-validation epoch's weights; (test accuracy, that epoch)."""
    import keras

    class KeepBest(keras.callbacks.Callback):
        best, epoch, weights = -1.0, 0, None

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] > self.best:
                self.best, self.epoch, self.weights = logs["val_accuracy"], epoch + 1, self.model.get_weights()

    n = r["n_train"] or len(split.x_train)
    keep = KeepBest()
    model.compile(keras.optimizers.Adam(r["learning_rate"]),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(split.x_train[:n], split.y_train[:n], validation_data=(split.x_val, split.y_val),
              epochs=r["epochs"], batch_size=r["batch_size"], verbose=0, callbacks=[keep])
    model.set_weights(keep.weights)
    return _accuracy(np.asarray(model.predict(split.x_test, batch_size=1000, verbose=0)), split.y_test), keep.epoch


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
            "mismatches": int(np.sum(y_keras != y_fw)), "test_samples": int(len(split.x_test))}


def fronts(kind: str, results_path: Path) -> dict | None:
    """The resource study's HGQ front and uniform-QAT points for ``kind``, copied with their origin."""
    if not results_path.is_file():
        return None
    res = json.loads(results_path.read_text())
    arch = res.get("resource_study", {}).get("architectures", {}).get(kind)
    if arch is None:
        return None
    keep = ("label", "accuracy", "ebops", "bits", "epoch")
    plan = res["resource_study"].get("config", {}).get("plans", {}).get(kind, {})
    return {"source": f"{results_path.name}: resource_study.architectures.{kind}",
            "command": res.get("command"), "mode": res.get("mode"),
            "dataset": res["resource_study"].get("dataset"), "n_train": arch.get("n_train"),
            "epochs": plan.get("epochs"), "architecture": arch.get("architecture"),
            "hgq_front": [{k: p[k] for k in keep if k in p} for p in arch["hgq_front"]],
            "uniform_points": [{k: p[k] for k in keep if k in p} for p in arch["uniform_points"]],
            "uniform_front_labels": list(arch.get("uniform_front_labels", []))}


def float_trained(kind: str, split, args) -> tuple:
    """The trained float model, its recipe, test accuracy, best epoch and training seconds.

    With ``--float-cache DIR`` a model trained earlier with the same recipe is loaded from DIR
    instead (and a newly trained one is saved there), so a stopped run restarts without training.
    """
    import keras

    r = recipe(kind, args.smoke, dict(args.epochs))
    cache = None
    if args.float_cache is not None:
        tag = f"{kind}_{r['n_train']}_{r['epochs']}_{r['batch_size']}_{r['learning_rate']:g}_{args.seed}"
        cache = Path(args.float_cache) / tag
        if (cache / "model.keras").is_file():
            info = json.loads((cache / "info.json").read_text())
            return keras.saving.load_model(cache / "model.keras"), r, *info
    model = float_model(kind, split.image_shape, args.seed)
    t0 = time.time()
    float_acc, best_epoch = train(model, split, r)
    info = [float_acc, best_epoch, time.time() - t0]
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        model.save(cache / "model.keras")
        (cache / "info.json").write_text(json.dumps(info))
    return model, r, *info


def run_model(kind: str, split, args, bits_list, mixed: bool, save) -> dict:
    """Every point of one architecture; ``save(record)`` after each, so a stopped run keeps its points."""
    from hgq_fpga.nn.ptq import quantize_float, quantize_float_budgets

    model, r, float_acc, best_epoch, train_s = float_trained(kind, split, args)
    record = {"kind": kind, "recipe": {**r, "n_train": r["n_train"] or len(split.x_train),
                                       "best_val_epoch": best_epoch},
              "float_accuracy": float_acc, "train_s": train_s, "points": [],
              "fronts": fronts(kind, args.fronts), "complete": False}
    print(f"{kind}: float test accuracy {float_acc:.4f} (epoch {best_epoch}, {train_s:.0f} s)", flush=True)
    x_calib = split.x_train[:args.calib]
    for bits in bits_list:
        for search in ("minmax", "easyquant"):
            t0 = time.time()
            res = quantize_float(model, x_calib, bits, bits, search=search)
            point = measure(res, split, f"{search} {bits}b", bits, search)
            point["ptq_s"] = time.time() - t0
            record["points"].append(point)
            save(record)
            print(_row(point, float_acc), flush=True)
    if mixed:
        budgets = sorted((p["ebops"] for p in record["points"] if p["search"] == "easyquant" and p["bits"] < 8),
                         reverse=True)
        t0 = time.time()
        found = quantize_float_budgets(model, x_calib, budgets, 8, 8, search="easyquant", mixed_samples=args.mixed_samples)
        ptq_s = time.time() - t0
        for budget, res in zip(budgets, found):
            point = measure(res, split, f"mixed <= {budget}", None, "easyquant+mixed")
            point.update(budget=budget, ptq_s=ptq_s, greedy_steps=len(res.lowered),
                         widths={name: [c.wbits, c.abits] for name, c in res.layers.items()})
            record["points"].append(point)
            save(record)
            print(_row(point, float_acc) + " (one descent for all budgets)", flush=True)
    record["complete"] = True
    save(record)
    return record


def _row(p: dict, float_acc: float) -> str:
    return (f"  {p['label']:>22}  acc {p['accuracy']:.4f} ({100 * (p['accuracy'] - float_acc):+.2f} pt)  "
            f"EBOPs {p['ebops']:>9}  cos {p['output_cosine']:.5f}  mismatches {p['mismatches']}  "
            f"{p['ptq_s']:.1f} s")


def _settings(args, split) -> dict:
    return {"data": split.describe(), "calibration_images": args.calib, "mixed_samples": args.mixed_samples,
            "seed": args.seed, "smoke": bool(args.smoke)}


def save_model(out: Path, settings: dict, record: dict) -> dict:
    """Merge one model's record into ``out`` (replacing that kind; other settings start afresh).

    Under a lock, so that runs of different models side by side keep each other's records.
    """
    import fcntl

    fd = os.open(out.parent, os.O_RDONLY)          # the folder is the lock: no stray lock file
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return _merge(out, settings, record)
    finally:
        os.close(fd)


def _merge(out: Path, settings: dict, record: dict) -> dict:
    results = {**settings, "models": []}
    if out.is_file():
        old = json.loads(out.read_text())
        if {k: old.get(k) for k in settings} == settings:
            results["models"] = [m for m in old.get("models", []) if m["kind"] != record["kind"]]
    results["models"].append(record)
    results["models"].sort(key=lambda m: KINDS.index(m["kind"]))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(out)
    return results


def _kind_epochs(text: str):
    return int(text) if text.isdigit() else text


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m bench.bench_ptq", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--smoke", action="store_true",
                        help="synthetic 16x16 data, 2 epochs, 8 and 6 bits only (the CI smoke test)")
    parser.add_argument("--epochs", nargs=2, action="append", default=[], metavar=("KIND", "N"),
                        type=_kind_epochs, help="train KIND's float model for N epochs instead of the "
                        "resource study's (recorded in the raw record)")
    parser.add_argument("--no-mixed", action="store_true", help="skip the mixed-precision points")
    parser.add_argument("--calib", type=int, default=2000, help="calibration images (from the training set)")
    parser.add_argument("--mixed-samples", type=int, default=500,
                        help="calibration images the greedy mixed-precision trials are scored on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fronts", type=Path, default=RESULTS,
                        help="results.json whose resource study gives the HGQ and uniform-QAT fronts")
    parser.add_argument("--float-cache", type=Path, default=None, metavar="DIR",
                        help="keep the trained float models here and reuse them on a rerun")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("ptq_results.json"))
    args = parser.parse_args(argv)

    from .data import DatasetMissingError, fashion_mnist, synthetic

    if args.smoke:
        split = synthetic(side=16)              # the CNN needs 16 x 16 for its two poolings
    else:
        try:
            split = fashion_mnist(n_val=5000, seed=args.seed)
        except DatasetMissingError as exc:
            print(error_line(exc), file=sys.stderr)
            return 2
    bits_list = (8, 6) if args.smoke else BITS
    settings = _settings(args, split)
    for kind in args.models:
        run_model(kind, split, args, bits_list, not args.no_mixed, lambda rec: save_model(args.out, settings, rec))
        print(f"wrote {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

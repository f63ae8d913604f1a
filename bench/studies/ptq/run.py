"""Post-training quantization study: min/max against EasyQuant on Fashion-MNIST (not run in CI).

    nice -n 10 python -m bench run ptq [--models mlp --models cnn] [--out DIR]

Trains the float model of each resource-study architecture (MLP 784-64-32-32-10, CNN
conv3x3x8-pool-conv3x3x16-pool-10) with the resource study's own recipe (the full preset of
:mod:`bench.common.presets`: the same training images, epochs, batch size, optimizer and learning
rate; the weights of the epoch with the best validation accuracy are kept, as for the uniform QAT
points), then quantizes it after training at 8, 7, 6, 5 and 4 bits (weights and activations alike)
with ``search="minmax"`` and ``search="easyquant"``, and adds budgeted mixed-precision points:
EasyQuant at 8 bits lowered per layer to the EBOPs of each uniform EasyQuant model below 8 bits
(one greedy descent, :func:`hgq_fpga.nn.ptq.quantize_float_budgets`). Every point is converted to
firmware; its accuracy is the *firmware's* on the test set (``fw.predict``), and Keras = emulator
is checked on the whole test set (the mismatch count is recorded and must be 0).

The record is stored after every point (so a stopped run keeps its points, marked incomplete), each
model merged into a stored record of the same settings, so ``--models mlp`` and ``--models cnn`` may
run one after the other (or side by side).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import click
import numpy as np

from bench.cli import needs_dataset, out_option

#: the targets' widths (8, 6) first, so that a run stopped early still judges them
BITS = (8, 6, 4, 7, 5)
KINDS = ("mlp", "cnn")


@dataclass(frozen=True)
class Options:
    """The run's settings: ``smoke`` (synthetic 16 x 16 data, 2 epochs, 8 and 6 bits), float-model
    ``epochs`` per kind instead of the resource study's, calibration images, images the greedy
    mixed-precision trials are scored on, the seed, and where trained float models are kept."""

    smoke: bool = False
    epochs: tuple[tuple[str, int], ...] = ()
    calib: int = 2000
    mixed_samples: int = 500
    seed: int = 0
    float_cache: Path | None = None


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
    """Training images, epochs, batch size, learning rate: the resource study's (``bench.common.presets.full``),
    with the epochs of ``epochs`` (by kind) instead where given (recorded as such)."""
    from bench.common.presets import full

    if smoke:
        return {"n_train": None, "epochs": 2, "batch_size": 64, "learning_rate": 2e-3, "optimizer": "Adam",
                "source": "smoke"}
    study = full().study
    plan = {p.arch.name: p for p in study.plans}[kind]
    r = {"n_train": plan.n_train, "epochs": plan.epochs, "batch_size": study.batch_size,
         "learning_rate": study.learning_rate, "optimizer": "Adam", "source": "bench.common.presets.full"}
    if kind in epochs and epochs[kind] != plan.epochs:
        r.update(epochs=epochs[kind],
                 source=f"bench.common.presets.full with {epochs[kind]} epochs instead of {plan.epochs}")
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


def float_trained(kind: str, split, opts: Options) -> tuple:
    """The trained float model, its recipe, test accuracy, best epoch and training seconds.

    With ``opts.float_cache`` a model trained earlier with the same recipe is loaded from there
    instead (and a newly trained one is saved there), so a stopped run restarts without training.
    """
    import keras

    r = recipe(kind, opts.smoke, dict(opts.epochs))
    cache = None
    if opts.float_cache is not None:
        tag = f"{kind}_{r['n_train']}_{r['epochs']}_{r['batch_size']}_{r['learning_rate']:g}_{opts.seed}"
        cache = Path(opts.float_cache) / tag
        if (cache / "model.keras").is_file():
            info = json.loads((cache / "info.json").read_text())
            return keras.saving.load_model(cache / "model.keras"), r, *info
    model = float_model(kind, split.image_shape, opts.seed)
    t0 = time.time()
    float_acc, best_epoch = train(model, split, r)
    info = [float_acc, best_epoch, time.time() - t0]
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        model.save(cache / "model.keras")
        (cache / "info.json").write_text(json.dumps(info))
    return model, r, *info


def run_model(kind: str, split, opts: Options, bits_list, mixed: bool, save: Callable[[dict], None]) -> dict:
    """Every point of one architecture; ``save(record)`` after each, so a stopped run keeps its points."""
    from hgq_fpga.nn.ptq import quantize_float, quantize_float_budgets

    model, r, float_acc, best_epoch, train_s = float_trained(kind, split, opts)
    record = {"kind": kind, "recipe": {**r, "n_train": r["n_train"] or len(split.x_train),
                                       "best_val_epoch": best_epoch},
              "float_accuracy": float_acc, "train_s": train_s, "points": [], "complete": False}
    print(f"{kind}: float test accuracy {float_acc:.4f} (epoch {best_epoch}, {train_s:.0f} s)", flush=True)
    x_calib = split.x_train[:opts.calib]
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
        found = quantize_float_budgets(model, x_calib, budgets, 8, 8, search="easyquant",
                                       mixed_samples=opts.mixed_samples)
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


def _settings(opts: Options, split) -> dict:
    return {"data": split.describe(), "calibration_images": opts.calib, "mixed_samples": opts.mixed_samples,
            "seed": opts.seed, "smoke": opts.smoke}


def merge(settings: dict, record: dict) -> Callable[[dict], None]:
    """The store change that puts one model's record into the PTQ record: replacing that kind, keeping
    the other kinds' when the settings are the same (other settings start afresh)."""
    def change(results: dict) -> None:
        old = results.setdefault("studies", {}).get("ptq") or {}
        same = {k: old.get(k) for k in settings} == settings
        models = [m for m in old.get("models", []) if m["kind"] != record["kind"]] if same else []
        models = sorted([*models, record], key=lambda m: KINDS.index(m["kind"]))
        results["studies"]["ptq"] = {**settings, "models": models}

    return change


@click.command()
@click.option("--models", "kinds", multiple=True, type=click.Choice(KINDS), default=KINDS, show_default=True,
              help="the architectures (repeat the option for both)")
@click.option("--smoke", is_flag=True, help="synthetic 16x16 data, 2 epochs, 8 and 6 bits only (the CI smoke test)")
@click.option("--epochs", multiple=True, type=(click.Choice(KINDS), int), metavar="KIND N",
              help="train KIND's float model for N epochs instead of the resource study's (recorded)")
@click.option("--no-mixed", is_flag=True, help="skip the mixed-precision points")
@click.option("--calib", type=int, default=2000, show_default=True, help="calibration images (from the training set)")
@click.option("--mixed-samples", type=int, default=500, show_default=True,
              help="calibration images the greedy mixed-precision trials are scored on")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--float-cache", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="keep the trained float models here and reuse them on a rerun")
@out_option
def main(kinds: tuple[str, ...], smoke: bool, epochs: tuple, no_mixed: bool, calib: int, mixed_samples: int,
         seed: int, float_cache: Path | None, out) -> None:
    """Post-training quantization of float models: min/max against EasyQuant, mixed precision."""
    from bench.common.data import fashion_mnist, synthetic

    opts = Options(smoke, tuple(epochs), calib, mixed_samples, seed, float_cache)
    # the CNN needs 16 x 16 for its two poolings
    split = synthetic(side=16) if smoke else needs_dataset(lambda: fashion_mnist(n_val=5000, seed=seed))
    settings = _settings(opts, split)
    for kind in kinds:
        run_model(kind, split, opts, (8, 6) if smoke else BITS, not no_mixed,
                  lambda record: out.change(merge(settings, record), f"studies.ptq ({kind})"))

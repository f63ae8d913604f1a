"""Training time of the 784-64-32-32-10 HGQ MLP against the same plain Keras (float) Dense MLP.

Whole ``fit`` epochs of real data (Fashion-MNIST when installed, else the synthetic stand-in), at
batch 64 and at batch 1024, both models in the same process. After one untimed warm-up epoch each
(tracing, allocation), the two are timed **interleaved**, one epoch each per round, the order
alternating (A B, B A, ...) so that a drift of the machine's speed falls on both alike; each gets
``rounds`` >= 5 timed epochs and the figure is the ratio of the **medians**. The HGQ model pays for
the fake quantization of every weight and activation, the range tracking and the EBOPs term.

Targets (issue 19): HGQ / plain <= 1.5 at batch 64 and <= 1.2 at batch 1024.

    .venv/bin/python -m bench.bench_training [--quick] [--rounds 6] [--n-train N] [--xla | --write]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np

#: batch size -> the largest acceptable HGQ / plain epoch-time ratio
TARGETS = {64: 1.5, 1024: 1.2}
MIN_ROUNDS = 5
#: the raw record of ``--write`` (bench/studies/training_time.py renders it)
RAW = Path(__file__).resolve().parent / "training_time_results.json"


def plain_mlp() -> keras.Model:
    inp = keras.Input((784,))
    x = keras.layers.Dense(64, activation="relu")(inp)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inp, keras.layers.Dense(10)(x))


def hgq_mlp() -> keras.Model:
    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((784,))
    x = HQuantize()(inp)
    x = HDense(64, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    return keras.Model(inp, HDense(10, beta=1e-6)(x))


def _epoch(model: keras.Model, x: np.ndarray, y: np.ndarray, batch: int) -> float:
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    return time.perf_counter() - t0


def interleaved(models: dict[str, keras.Model], x: np.ndarray, y: np.ndarray, batch: int,
                rounds: int, jit: bool = False) -> dict[str, list[float]]:
    """Epoch times of each model, one warm-up epoch each, then ``rounds`` rounds of one epoch
    each, the order reversed every other round; ``jit``: compiled with XLA (``jit_compile``)."""
    names = list(models)
    for name in names:
        models[name].compile(keras.optimizers.Adam(1e-3),
                             keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)
        _epoch(models[name], x, y, batch)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(_epoch(models[name], x, y, batch))
    return times


def _real_data(n_train: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    from . import data

    try:
        split = data.fashion_mnist(n_train=n_train, n_val=5000)
    except data.DatasetMissingError:
        split = data.synthetic()
    x = split.x_train.reshape(len(split.x_train), -1).astype(np.float32)
    if x.shape[1] != 784:  # the synthetic stand-in has smaller images: pad to the MLP's input
        x = np.pad(x, ((0, 0), (0, 784 - x.shape[1])))
    return x, split.y_train, split.name


def run(quick: bool = False, rounds: int | None = None, n_train: int | None = None,
        batches: tuple[int, ...] = tuple(TARGETS), load: Callable | None = None, jit: bool = False) -> dict:
    """Time both models at each batch size; return the measurements.

    Args:
        quick: 10,000 training images instead of all (the ratio is per epoch either way).
        rounds: timed epochs per model and batch (default 6; at least 5).
        load: ``n_train -> (x, y, name)`` (default: Fashion-MNIST, or the synthetic set).
        jit: compile both models with XLA (``jit_compile=True``; Keras' default on CPU is off).

    Returns:
        ``{"data", "n_train", "rounds", "per_batch": {batch: {"plain_s": [...], "hgq_s": [...],
        "plain_median_s", "hgq_median_s", "ratio", "target", "meets_target"}}, "ratio" (batch
        1024's), "target_ratio", "meets_target" (every batch)}``.
    """
    rounds = rounds or 6
    if rounds < MIN_ROUNDS:
        raise ValueError(f"need at least {MIN_ROUNDS} timed epochs per model, got rounds={rounds}")
    x, y, name = (load or _real_data)(10000 if quick and n_train is None else n_train)
    per_batch = {}
    for batch in batches:
        keras.utils.set_random_seed(0)
        times = interleaved({"plain": plain_mlp(), "hgq": hgq_mlp()}, x, y, batch, rounds, jit)
        p, h = statistics.median(times["plain"]), statistics.median(times["hgq"])
        target = TARGETS.get(batch)
        per_batch[str(batch)] = {"plain_s": times["plain"], "hgq_s": times["hgq"], "plain_median_s": p,
                                 "hgq_median_s": h, "ratio": h / p, "target": target,
                                 "meets_target": None if target is None else h / p <= target}
    last = per_batch[str(max(batches))]
    verdicts = [b["meets_target"] for b in per_batch.values() if b["meets_target"] is not None]
    return {"data": name, "n_train": len(x), "rounds": rounds, "order": "interleaved, alternating", "xla": jit,
            "per_batch": per_batch, "batch": max(batches), "ratio": last["ratio"], "target_ratio": last["target"],
            "meets_target": all(verdicts) if verdicts else None}


def record(path: Path, **kwargs) -> dict:
    """Run without and with XLA, and write the raw record ``path`` (see bench/studies/training_time.py)
    with the machine's load average before and after, since the ratio is measured on a shared machine."""
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    modes = {("xla" if jit else "graph"): run(jit=jit, **kwargs) for jit in (False, True)}
    rec = {"modes": modes, "load_before": list(load_before), "load_after": list(os.getloadavg()),
           "cores": os.cpu_count(), "seconds": round(time.perf_counter() - t0, 1),
           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "targets": {str(b): t for b, t in TARGETS.items()}}
    path.write_text(json.dumps(rec, indent=1))
    return rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 training images")
    parser.add_argument("--rounds", type=int, default=None, help="timed epochs per model and batch (>= 5)")
    parser.add_argument("--n-train", type=int, default=None, help="training images per epoch")
    parser.add_argument("--xla", action="store_true", help="compile with XLA (jit_compile=True)")
    parser.add_argument("--write", action="store_true",
                        help="run without and with XLA and write bench/training_time_results.json")
    args = parser.parse_args()
    if args.write:
        rec = record(RAW, quick=args.quick, rounds=args.rounds, n_train=args.n_train)
        runs = rec["modes"].items()
        print(f"wrote {RAW} (load average {rec['load_before']} -> {rec['load_after']})")
    else:
        runs = [("xla" if args.xla else "graph", run(quick=args.quick, rounds=args.rounds, n_train=args.n_train,
                                                      jit=args.xla))]
    for mode, r in runs:
        print(f"{mode}: {r['data']}: {r['n_train']} images per epoch, {r['rounds']} timed epochs per model, interleaved")
        for batch, b in r["per_batch"].items():
            print(f"  batch {batch}: plain {b['plain_median_s']:.3f} s, HGQ {b['hgq_median_s']:.3f} s per epoch "
                  f"(medians); HGQ/plain {b['ratio']:.2f} (target <= {b['target']})")


if __name__ == "__main__":
    main()

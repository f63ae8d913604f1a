"""Training step time of the bench MLP 784-64-32-32-10 in HGQ against the same plain Keras Dense
MLP, on each Keras backend: TensorFlow graph mode, TensorFlow with XLA (``jit_compile``), JAX (jit).

Whole ``fit`` epochs on the same data (``--n-train`` images of 784 values, 10 classes: synthetic,
since only the step's cost is measured), after one untimed warm-up epoch per model. The two
models of one backend and batch are timed **interleaved**, one epoch each per round, the order
reversed every other round, and the figure is the ratio of the **medians** (HGQ / plain), as in
``bench/bench_training.py``. A backend is fixed when Keras is imported, so each backend runs in a
subprocess of this script (``--worker``); the backends take turns round by round is not possible,
so they run one after the other, and the ratios, not the absolute times, compare.

HGQ2's ratios over plain Keras come from its last recorded run (``bench/results.json``,
``studies.training_time``; HGQ2 is not installed here): ours is ahead where our ratio is lower.

    .venv/bin/python tools/training_step_time.py [--rounds 7] [--n-train 6400] [--batches 64 1024]
                                                 [--modes tf-graph tf-xla jax] [--out build/...json]

Prints a table and writes the JSON record (default ``build/training_step/step_time.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: mode -> (KERAS_BACKEND, jit_compile)
MODES = {"tf-graph": ("tensorflow", False), "tf-xla": ("tensorflow", True), "jax": ("jax", True)}
#: the HGQ2 record's name of each mode (JAX was not measured for HGQ2)
HGQ2_MODES = {"tf-graph": "graph", "tf-xla": "xla"}
TARGET = {64: 1.5, 1024: 1.2}


def plain_mlp():
    import keras

    inp = keras.Input((784,))
    x = keras.layers.Dense(64, activation="relu")(inp)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inp, keras.layers.Dense(10)(x))


def hgq_mlp():
    """The bench's HGQ MLP (bench/bench_training.py ``hgq_mlp``)."""
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((784,))
    x = HQuantize()(inp)
    x = HDense(64, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    return keras.Model(inp, HDense(10, beta=1e-6)(x))


def worker(jit: bool, batches: list[int], rounds: int, n_train: int) -> dict:
    """Time both models in this process (its backend); return seconds per step for each."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (n_train, 784)).astype(np.float32)
    y = rng.integers(0, 10, n_train)
    out = {}
    for batch in batches:
        keras.utils.set_random_seed(0)
        models = {"plain": plain_mlp(), "hgq": hgq_mlp()}
        for m in models.values():
            m.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
            m.fit(x, y, batch_size=batch, epochs=1, verbose=0)           # warm-up: tracing, compiling
        steps = -(-n_train // batch)
        times = {name: [] for name in models}
        for r in range(rounds):
            for name in (list(models) if r % 2 == 0 else list(models)[::-1]):
                t0 = time.perf_counter()
                models[name].fit(x, y, batch_size=batch, epochs=1, verbose=0)
                times[name].append((time.perf_counter() - t0) / steps)
        out[str(batch)] = times
    return out


def summary(times: dict[str, list[float]], batch: int) -> dict:
    plain, ours = statistics.median(times["plain"]), statistics.median(times["hgq"])
    return {"plain_ms": [1e3 * t for t in times["plain"]], "hgq_ms": [1e3 * t for t in times["hgq"]],
            "plain_median_ms": 1e3 * plain, "hgq_median_ms": 1e3 * ours, "ratio": ours / plain,
            "target": TARGET.get(batch), "meets_target": None if batch not in TARGET else ours / plain <= TARGET[batch]}


def hgq2_ratios() -> dict:
    """HGQ2 / plain Keras per mode and batch from the last recorded bench run (empty if absent)."""
    path = ROOT / "bench" / "results.json"
    try:
        modes = json.loads(path.read_text())["studies"]["training_time"]["modes"]
    except (OSError, KeyError, ValueError):
        return {}
    out = {}
    for mode, name in HGQ2_MODES.items():
        for batch, b in modes.get(name, {}).get("per_batch", {}).items():
            if "hgq2_median_s" in b:
                out.setdefault(mode, {})[batch] = {"hgq2_ratio": b["hgq2_median_s"] / b["plain_median_s"],
                                                   "ours_then": b["ratio"], "date": None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="timed epochs per model (>= 5)")
    parser.add_argument("--n-train", type=int, default=6400, help="training images per epoch")
    parser.add_argument("--batches", type=int, nargs="+", default=[64, 1024])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "training_step" / "step_time.json")
    parser.add_argument("--worker", choices=list(MODES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error(f"--rounds must be at least 5, got {args.rounds}")
    if args.worker:
        print(json.dumps(worker(MODES[args.worker][1], args.batches, args.rounds, args.n_train)))
        return
    load_before, t0 = os.getloadavg(), time.perf_counter()
    hgq2 = hgq2_ratios()
    record = {"model": "784-64-32-32-10 MLP, HGQ (bench hgq_mlp) vs plain Keras Dense", "n_train": args.n_train,
              "rounds": args.rounds, "order": "interleaved, alternating; medians", "modes": {}}
    for mode in args.modes:
        backend, _ = MODES[mode]
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--rounds", str(args.rounds),
               "--n-train", str(args.n_train), "--batches", *map(str, args.batches)]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"Error: the {mode} worker failed:\n{result.stderr[-2000:]}")
        times = json.loads(result.stdout.strip().splitlines()[-1])
        record["modes"][mode] = {}
        for batch, t in times.items():
            s = summary(t, int(batch))
            ref = hgq2.get(mode, {}).get(batch)
            if ref is not None:
                s.update(hgq2_ratio_recorded=ref["hgq2_ratio"], ours_ratio_recorded=ref["ours_then"],
                         ahead_of_hgq2=s["ratio"] < ref["hgq2_ratio"])
            record["modes"][mode][batch] = s
    record.update(load_before=list(load_before), load_after=list(os.getloadavg()), cores=os.cpu_count(),
                  seconds=round(time.perf_counter() - t0, 1), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1))
    print(f"{'mode':9s} {'batch':>5s} {'plain ms':>9s} {'HGQ ms':>8s} {'HGQ/plain':>9s} {'target':>6s} "
          f"{'HGQ2/plain (recorded)':>21s}")
    for mode, per_batch in record["modes"].items():
        for batch, s in per_batch.items():
            hgq2_text = f"{s['hgq2_ratio_recorded']:.2f}" if "hgq2_ratio_recorded" in s else "-"
            print(f"{mode:9s} {batch:>5s} {s['plain_median_ms']:9.3f} {s['hgq_median_ms']:8.3f} {s['ratio']:9.2f} "
                  f"{s['target'] or '-':>6} {hgq2_text:>21s}")
    print(f"wrote {args.out} (load average {record['load_before']} -> {record['load_after']})")


if __name__ == "__main__":
    main()

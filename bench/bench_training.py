"""Training time of a 784-64-32-32-10 HGQ MLP against the same plain Keras Dense MLP.

Random data (timing only), batch 1024, both models in the same process, each timed over whole
``fit`` epochs after a warm-up epoch (which pays for tracing). The HGQ model pays for the fake
quantization of every weight and activation, the activation-range tracking and the EBOPs term of
the loss; the target is an epoch-time ratio of at most 2.0x.

    .venv/bin/python bench/bench_training.py [--quick] [--steps 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np

BATCH = 1024
TARGET_RATIO = 2.0


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


def epoch_time(model: keras.Model, x: np.ndarray, y: np.ndarray, repeats: int) -> float:
    """Best wall time (seconds) of one ``fit`` epoch over ``x`` in batches of :data:`BATCH`."""
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # warm-up: tracing and allocation
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False, steps: int | None = None, repeats: int | None = None) -> dict:
    """Time both models; return the measurements.

    Args:
        quick: fewer steps per epoch and fewer repeats (a smoke run, noisier).
        steps: batches per epoch (default 30, or 8 with ``quick``).
        repeats: timed epochs per model, the best counts (default 3, or 2 with ``quick``).

    Returns:
        ``{"batch", "steps", "plain_epoch_s", "hgq_epoch_s", "plain_step_ms", "hgq_step_ms",
        "ratio", "target_ratio", "meets_target"}``.
    """
    steps = steps or (8 if quick else 30)
    repeats = repeats or (2 if quick else 3)
    rng = np.random.default_rng(0)
    n = steps * BATCH
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    keras.utils.set_random_seed(0)
    t_plain = epoch_time(plain_mlp(), x, y, repeats)
    t_hgq = epoch_time(hgq_mlp(), x, y, repeats)
    ratio = t_hgq / t_plain
    return {"batch": BATCH, "steps": steps, "plain_epoch_s": t_plain, "hgq_epoch_s": t_hgq,
            "plain_step_ms": 1e3 * t_plain / steps, "hgq_step_ms": 1e3 * t_hgq / steps,
            "ratio": ratio, "target_ratio": TARGET_RATIO, "meets_target": ratio <= TARGET_RATIO}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    parser.add_argument("--steps", type=int, default=None, help="batches per epoch")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per model")
    args = parser.parse_args()
    r = run(quick=args.quick, steps=args.steps, repeats=args.repeats)
    print(f"batch {r['batch']}, {r['steps']} steps per epoch")
    print(f"plain Keras Dense: {r['plain_epoch_s']:.3f} s/epoch ({r['plain_step_ms']:.2f} ms/step)")
    print(f"HGQ HDense:        {r['hgq_epoch_s']:.3f} s/epoch ({r['hgq_step_ms']:.2f} ms/step)")
    print(f"ratio HGQ/plain:   {r['ratio']:.2f}x (target <= {r['target_ratio']:.1f}x)")


if __name__ == "__main__":
    main()

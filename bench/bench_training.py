"""Training-step time of a 784-64-32-32-10 HGQ MLP against the same plain Keras MLP (issue 3).

Random data (timing only), batch 1024, same process. Prints both per-step times and the ratio;
the target is at most 2.0x.

    .venv/bin/python bench/bench_training.py [--steps 30]
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np


def plain_mlp() -> keras.Model:
    inp = keras.Input((784,))
    x = keras.layers.Dense(64, activation="relu")(inp)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inp, keras.layers.Dense(10)(x))


def hgq_mlp() -> keras.Model:
    from hgq_fpga.layers import HDense, HQuantize

    inp = keras.Input((784,))
    x = HQuantize()(inp)
    x = HDense(64, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    return keras.Model(inp, HDense(10, beta=1e-6)(x))


def time_steps(model: keras.Model, x: np.ndarray, y: np.ndarray, steps: int) -> float:
    """Seconds per training step (one epoch of ``steps`` batches, after a warm-up epoch)."""
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = len(x) // steps
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        best = min(best, (time.perf_counter() - t0) / steps)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = args.steps * args.batch
    x = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    keras.utils.set_random_seed(0)
    t_plain = time_steps(plain_mlp(), x, y, args.steps)
    t_hgq = time_steps(hgq_mlp(), x, y, args.steps)
    print(f"plain Keras Dense: {t_plain * 1e3:.2f} ms/step")
    print(f"HGQ HDense:        {t_hgq * 1e3:.2f} ms/step")
    print(f"ratio HGQ/plain:   {t_hgq / t_plain:.2f}x (target <= 2.0x)")


if __name__ == "__main__":
    main()

"""Throughput of the IR emulator on a 64-32-32-10 MLP with random ~8-bit per-element types: samples/s
of ``FirmwareModel.predict`` (input quantization, three exact dense layers, casts, relu) against the
target of 200,000 samples/s. A speed benchmark of the suite (:mod:`bench.studies.speed.run`).
"""

from __future__ import annotations

import time

import numpy as np

from hgq_fpga.ir import FirmwareBuilder

#: samples/s the emulator must reach on this MLP
TARGET = 200_000


def mlp(seed: int = 0, sizes: tuple[int, ...] = (64, 32, 32, 10)):
    """An MLP (default 64-32-32-10) with per-element random types (widths 4..8) and ~8-bit weights."""
    rng = np.random.default_rng(seed)

    def typ(shape, signed=True):
        w = rng.integers(4, 9, shape)
        k = np.full(shape, int(signed))
        f = rng.integers(2, 6, shape)
        return k, w - k - f, f

    b = FirmwareBuilder()
    h = b.input("x", (sizes[0],), *typ((sizes[0],)), round="RND", overflow="SAT")
    for n, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.integers(-127, 128, (n_in, n_out))
        w[rng.random(w.shape) < 0.2] = 0
        h = b.dense(h, w, rng.integers(5, 9, (n_in, n_out)), rng.integers(-127, 128, n_out), 6)
        last = n == len(sizes) - 2
        h = b.cast(h, *typ((n_out,), signed=True), round="RND", overflow="SAT" if last else "WRAP")
        if not last:
            h = b.relu(h)
    return b.build([h])


def run(quick: bool = False) -> dict:
    """Time ``predict`` on the MLP; best of several batches.

    ``quick`` uses a smaller batch and fewer repeats (a smoke run, a noisier number).  Returns
    ``samples_per_s``, ``target``, ``meets_target``, ``batch``, ``repeats``, ``seconds_per_batch``.
    """
    batch, repeats = (20_000, 3) if quick else (100_000, 5)
    fw = mlp()
    x = np.random.default_rng(1).normal(scale=2.0, size=(batch, 64))
    fw.predict(x[:10])  # compile the kernels outside the timing
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fw.predict(x)
        best = min(best, time.perf_counter() - t0)
    rate = batch / best
    return {"samples_per_s": rate, "target": TARGET, "meets_target": rate >= TARGET, "batch": batch,
            "repeats": repeats, "seconds_per_batch": best}

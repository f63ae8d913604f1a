"""Benchmark the HLS C simulation: compile time and prj.predict samples/s on two MLPs.

Random integer weights (8-bit-ish codes, 30 % pruned) on 64-32-32-10 and 784-64-32-32-10; the
compile cache is a fresh temporary folder so the compile time is a cold build.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from hgq_fpga.hls.writer import write_project
from hgq_fpga.ir import FirmwareBuilder


def mlp(sizes, rng):
    """Dense → cast(RND,SAT) → ReLU stack with per-element input and activation types."""
    b = FirmwareBuilder()
    h = b.input("x", (sizes[0],), k=1, i=2, f=rng.integers(2, 6, sizes[0]))
    for n, m in enumerate(sizes[1:]):
        w = rng.integers(-100, 100, (sizes[n], m))
        w[rng.random(w.shape) < 0.3] = 0
        h = b.dense(h, w, rng.integers(4, 8, w.shape), rng.integers(-50, 50, m), 6)
        h = b.cast(h, 1, rng.integers(1, 4, m), rng.integers(2, 6, m), "RND", "SAT")
        if n < len(sizes) - 2:
            h = b.relu(h)
    return b.build([h])


def main() -> None:
    rng = np.random.default_rng(0)
    for sizes in ((64, 32, 32, 10), (784, 64, 32, 32, 10)):
        fw = mlp(sizes, rng)
        with tempfile.TemporaryDirectory() as d:
            prj = write_project(fw, Path(d) / "prj", cache_dir=Path(d) / "cache")
            t0 = time.perf_counter()
            prj.compile()
            tc = time.perf_counter() - t0
            x = rng.normal(0, 2, (20000, sizes[0]))
            prj.predict(x[:10])
            t0 = time.perf_counter()
            y = prj.predict(x)
            tp = time.perf_counter() - t0
            assert np.array_equal(y, fw.predict(x))
            print(f"{'-'.join(map(str, sizes))}: compile {tc:.2f} s, predict {len(x) / tp:,.0f} "
                  f"samples/s (exact vs emulator)")


if __name__ == "__main__":
    main()

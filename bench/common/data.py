"""Data sets for the benchmarks: Fashion-MNIST from Debian's ``dataset-fashion-mnist``, or a tiny
synthetic stand-in for the smoke test.

Fashion-MNIST is read straight from the gzip IDX files the Debian package installs, so the bench
needs no network and no extra Python package. Pixels are scaled to ``[0, 1]`` and given a channel
axis (``(n, 28, 28, 1)``); the MLP flattens them itself.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: where ``apt-get install dataset-fashion-mnist`` puts the files (override: ``$HGQ_FASHION_MNIST``)
FASHION_MNIST_DIR = Path(os.environ.get("HGQ_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
_FILES = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}


class DatasetMissingError(FileNotFoundError):
    """The Fashion-MNIST files are not installed; the message says how to install them."""


@dataclass
class Split:
    """Train / validation / test arrays. ``x`` is float32 ``(n, h, w, 1)`` in [0, 1]; ``y`` int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def describe(self) -> dict:
        """Sizes, for results.json."""
        return {"name": self.name, "image_shape": list(self.image_shape), "n_train": len(self.x_train),
                "n_val": len(self.x_val), "n_test": len(self.x_test)}


def read_idx(path: Path) -> np.ndarray:
    """Read one gzip IDX file (the MNIST container format) into a uint8 array."""
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * d:8 + 4 * d], "big") for d in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, found {data.size} bytes of data")
    return data.reshape(dims)


def fashion_mnist(n_train: int | None = None, n_val: int = 5000, n_test: int | None = None,
                  seed: int = 0, directory: Path | None = None) -> Split:
    """Fashion-MNIST, with ``n_val`` images of the training set held out for model selection.

    ``n_train`` / ``n_test`` take a random subset (quick mode); ``None`` keeps everything. The
    validation images never overlap the training subset; the test set is the official 10,000.

    Raises:
        DatasetMissingError: the Debian package is not installed.
    """
    d = Path(directory) if directory is not None else FASHION_MNIST_DIR
    missing = [f for f in _FILES.values() if not (d / f).is_file()]
    if missing:
        raise DatasetMissingError(
            f"Fashion-MNIST not found in {d} (missing {', '.join(missing)}). Install it with "
            "`apt-get install dataset-fashion-mnist`, or point $HGQ_FASHION_MNIST at a folder "
            "holding the four gzip IDX files.")
    arrays = {key: read_idx(d / name) for key, name in _FILES.items()}
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(arrays["train_x"]))
    if n_val >= len(order):
        raise ValueError(f"n_val={n_val} leaves no training images")
    val_idx, train_idx = order[:n_val], order[n_val:]
    if n_train is not None:
        train_idx = train_idx[:n_train]
    test_idx = np.arange(len(arrays["test_x"]))
    if n_test is not None:
        test_idx = rng.permutation(test_idx)[:n_test]

    def images(a: np.ndarray) -> np.ndarray:
        return (a.astype(np.float32) / 255.0)[..., None]

    return Split("fashion_mnist",
                 images(arrays["train_x"][train_idx]), arrays["train_y"][train_idx].astype(np.int64),
                 images(arrays["train_x"][val_idx]), arrays["train_y"][val_idx].astype(np.int64),
                 images(arrays["test_x"][test_idx]), arrays["test_y"][test_idx].astype(np.int64))


def synthetic(n_train: int = 256, n_val: int = 64, n_test: int = 128, side: int = 8,
              classes: int = 10, seed: int = 0) -> Split:
    """A tiny learnable image task for the smoke test: each class brightens its own pixel block."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, n)
        x = rng.random((n, side, side, 1)).astype(np.float32) * 0.5
        for c in range(classes):
            r, col = divmod(c % (side // 2) ** 2, side // 2)
            x[y == c, 2 * r:2 * r + 2, 2 * col:2 * col + 2, 0] += 0.5
        return x, y.astype(np.int64)

    xt, yt = make(n_train)
    xv, yv = make(n_val)
    xs, ys = make(n_test)
    return Split("synthetic", xt, yt, xv, yv, xs, ys)

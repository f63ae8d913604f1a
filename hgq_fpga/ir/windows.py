"""Sliding-window index tables for convolution and pooling (channels-last, Keras padding rules).

The emulator gathers windows with one fancy-indexing step; precomputing the indices once per
graph keeps the per-batch work vectorised.  Index ``-1`` marks a padding position.
"""

from __future__ import annotations

import itertools

import numpy as np


def out_size(n: int, k: int, s: int, padding: str) -> tuple[int, int]:
    """Output length and padding-before for one spatial axis, as Keras computes them."""
    if padding == "valid":
        if n < k:
            raise ValueError(f"window {k} is larger than the input length {n} with 'valid' padding")
        return (n - k) // s + 1, 0
    if padding == "same":
        out = -(-n // s)
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2
    raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")


def window_index(spatial: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...],
                 padding: str) -> tuple[tuple[int, ...], np.ndarray]:
    """Output spatial shape and an index table ``(P, K)`` into the flattened spatial input.

    ``P`` runs over output positions (C order), ``K`` over kernel offsets (C order); entries are
    flat spatial indices, or ``-1`` where the window hangs over the padding.
    """
    if not (len(spatial) == len(kernel) == len(strides)):
        raise ValueError("spatial rank, kernel rank and strides rank differ")
    outs, pads = zip(*(out_size(n, k, s, padding) for n, k, s in zip(spatial, kernel, strides)))
    positions = list(itertools.product(*(range(o) for o in outs)))
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    pos = np.array(positions, dtype=np.int64).reshape(len(positions), 1, len(spatial))
    off = np.array(offsets, dtype=np.int64).reshape(1, len(offsets), len(spatial))
    coord = pos * np.array(strides) - np.array(pads) + off          # (P, K, D)
    inside = np.all((coord >= 0) & (coord < np.array(spatial)), axis=-1)
    flat = np.ravel_multi_index(tuple(np.clip(coord, 0, np.array(spatial) - 1).transpose(2, 0, 1)),
                                spatial)
    return tuple(outs), np.where(inside, flat, -1)


def with_channels(idx: np.ndarray, channels: int, per_channel: bool) -> np.ndarray:
    """Extend a spatial index table to the flattened ``(spatial, C)`` input.

    ``per_channel=False`` (convolution): ``(P, K*C)``, kernel offset major, channel minor, the
    order of a Keras kernel reshaped to ``(K*C, O)``.  ``per_channel=True`` (pooling):
    ``(P, K, C)``.
    """
    c = np.arange(channels, dtype=np.int64)
    full = np.where(idx[:, :, None] >= 0, idx[:, :, None] * channels + c, -1)
    return full if per_channel else full.reshape(idx.shape[0], -1)

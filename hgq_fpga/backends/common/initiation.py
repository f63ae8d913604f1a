"""The initiation interval a user asks of a backend (``ii``): a new sample every so many clock cycles.

``ii`` is a whole number (every Dense and Conv of the model may take up to that many cycles) or
``{layer: number}`` (only those layers are folded; the design's II is the largest number).  A layer
is named by its IR op (``dense_1``) or by the Keras layer it was frozen from (op ``<layer>_acc``).
One reading for every backend, so that a mistake reads the same whichever backend meets it.
"""

from __future__ import annotations

import numpy as np

#: IR op kinds that can take several clock cycles per sample
FOLDABLE = ("dense", "conv")


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a whole number of clock cycles >= 1, got {value!r}")
    return int(value)


def initiation_intervals(fw, ii) -> tuple[int, dict[str, int]]:
    """The design's II and ``{op name: most cycles}`` for each folded Dense/Conv of ``fw``; a
    ValueError naming ``ii`` (or ``ii[layer]``) when it is not a number >= 1 or names no such layer."""
    linear = [op.name for op in fw.ops if op.kind in FOLDABLE]
    if isinstance(ii, dict):
        fold = {}
        for key, value in ii.items():
            op = key if key in linear else f"{key}_acc" if f"{key}_acc" in linear else None
            if op is None:
                raise ValueError(f"ii names layer {key!r}, which is not a Dense or Conv of the model "
                                 f"(those are: {', '.join(linear) or 'none'})")
            fold[op] = _positive(value, f"ii[{key!r}]")
        return max(fold.values(), default=1), fold
    n = _positive(ii, "ii")
    return n, ({op: n for op in linear} if n > 1 else {})

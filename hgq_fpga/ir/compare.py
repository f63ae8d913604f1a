"""Exact, element-by-element comparison of two implementations' outputs (pure numpy).

Bit-exactness means every output value is equal, so the comparison is ``==`` and nothing else: no
tolerance, and a NaN on either side counts as a difference.  :func:`compare_outputs` counts the
differing values, finds the first one (lowest sample, then output, then element in C order) and
the largest absolute difference, which is what a verification report needs to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class Difference:
    """One output value on which two implementations disagree."""

    sample: int
    output: str
    index: tuple[int, ...]
    a: float
    b: float


@dataclass(frozen=True)
class Comparison:
    """Outcome of comparing implementation ``a`` with implementation ``b`` on the same inputs."""

    a: str
    b: str
    compared: int
    mismatches: int
    samples_with_mismatch: int
    max_abs_diff: float
    first: Difference | None


def _as_outputs(values, n_outputs: int, label: str) -> list[np.ndarray]:
    """``values`` (an array, or a list of arrays for several outputs) as a list of float64 arrays."""
    if isinstance(values, (list, tuple)):
        outs = list(values)
    else:
        outs = [values]
    if len(outs) != n_outputs:
        raise ValueError(f"{label} returned {len(outs)} output(s), expected {n_outputs}")
    return [np.asarray(o, dtype=np.float64) for o in outs]


def compare_outputs(a_label: str, a_values, b_label: str, b_values,
                    names: Sequence[str]) -> Comparison:
    """Compare two implementations' outputs exactly.

    Args:
        a_label, b_label: names of the implementations, used in messages and the result.
        a_values, b_values: each an array ``(batch, ...)`` or a list of them, one per output.
        names: output names, in order.

    Raises:
        ValueError: the two sides disagree on the number or the shapes of the outputs.
    """
    a_out = _as_outputs(a_values, len(names), a_label)
    b_out = _as_outputs(b_values, len(names), b_label)
    n = a_out[0].shape[0] if a_out and a_out[0].ndim else 0
    compared = mismatches = 0
    max_diff = 0.0
    per_sample = np.zeros(n, dtype=bool)
    masks = []
    for name, a, b in zip(names, a_out, b_out):
        if a.shape != b.shape or a.shape[:1] != (n,):
            raise ValueError(f"output {name!r}: {a_label} gives shape {a.shape}, {b_label} gives "
                             f"{b.shape}; the implementations do not compute the same tensor")
        differ = ~(a == b)                     # NaN on either side is a difference
        masks.append(differ)
        compared += differ.size
        count = int(np.count_nonzero(differ))
        if count:
            mismatches += count
            with np.errstate(invalid="ignore", over="ignore"):
                d = np.abs(a[differ] - b[differ])
            d = np.where(np.isnan(d), np.inf, d)
            max_diff = max(max_diff, float(d.max()))
            per_sample |= differ.reshape(n, -1).any(axis=1)
    first = None
    if mismatches:
        s = int(np.argmax(per_sample))
        for name, a, b, differ in zip(names, a_out, b_out, masks):
            hits = np.argwhere(differ[s])
            if len(hits):
                idx = tuple(int(v) for v in hits[0])
                first = Difference(s, name, idx, float(a[(s,) + idx]), float(b[(s,) + idx]))
                break
    return Comparison(a_label, b_label, compared, mismatches, int(per_sample.sum()), max_diff, first)

"""Per-element fixed-point types of IR tensors, and exact integer helpers on them.

A :class:`TensorType` holds ``k``, ``i`` and ``f`` int64 arrays of the tensor's per-sample shape.
Raw codes of a tensor are ``value * 2**f`` element by element; an element of width 0 is the
constant 0 (its raw code is 0 whatever its ``f``).  Range computations here use Python ints
(object arrays) where int64 could overflow, because the builder must derive *exact* types even
for graphs the int64 emulator later refuses to run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hgq_fpga.fixed import MAX_RAW_WIDTH, check_type_arrays, range_type

#: Widest declared type the int64 emulator runs (raw code plus a rounding carry fit an int64).
MAX_EMULATED_WIDTH = MAX_RAW_WIDTH


@dataclass(frozen=True, eq=False)
class TensorType:
    """Per-element ``(k, i, f)`` of one tensor (per-sample shape, no batch axis)."""

    k: np.ndarray
    i: np.ndarray
    f: np.ndarray

    @staticmethod
    def of(k, i, f, shape: tuple[int, ...] | None = None) -> "TensorType":
        """Validate and broadcast ``k, i, f`` (scalars or arrays) to ``shape``."""
        k, i, f = check_type_arrays(k, i, f)
        if shape is not None:
            shape = tuple(int(s) for s in shape)
            try:
                k, i, f = (np.broadcast_to(a, shape) for a in (k, i, f))
            except ValueError:
                raise ValueError(f"type arrays of shape {k.shape} do not broadcast to tensor "
                                 f"shape {shape}") from None
        k, i, f = (np.array(a, dtype=np.int64) for a in (k, i, f))
        w = k + i + f
        # canonical form: dead elements are (0, 0, 0)
        dead = w == 0
        k[dead] = 0
        i[dead] = 0
        f[dead] = 0
        return TensorType(k, i, f)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.k.shape)

    @property
    def width(self) -> np.ndarray:
        """Per-element width ``k + i + f``."""
        return self.k + self.i + self.f

    @property
    def live(self) -> np.ndarray:
        """Elements that are not the constant 0."""
        return self.width > 0

    def reshape(self, shape: tuple[int, ...]) -> "TensorType":
        return TensorType(self.k.reshape(shape), self.i.reshape(shape), self.f.reshape(shape))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Smallest and largest raw code per element, as object arrays of Python ints."""
        w = self.width
        lo = np.empty(self.shape, dtype=object)
        hi = np.empty(self.shape, dtype=object)
        for idx, (kk, ww) in enumerate(zip(self.k.ravel().tolist(), w.ravel().tolist())):
            lo.flat[idx] = -(1 << (ww - 1)) if (kk and ww > 0) else 0
            hi.flat[idx] = (1 << (ww - kk)) - 1 if ww > 0 else 0
        return lo, hi

    def same_as(self, other: "TensorType") -> bool:
        return (self.shape == other.shape and np.array_equal(self.k, other.k)
                and np.array_equal(self.i, other.i) and np.array_equal(self.f, other.f))

    def __repr__(self) -> str:
        w = self.width
        return (f"TensorType(shape={self.shape}, width {int(w.min(initial=0))}.."
                f"{int(w.max(initial=0))}, f {int(self.f.min(initial=0))}..{int(self.f.max(initial=0))})")


def type_of_range(lo: np.ndarray, hi: np.ndarray, f: np.ndarray) -> TensorType:
    """Tightest per-element type at ``f`` fractional bits holding raw codes ``[lo, hi]``.

    ``lo``/``hi`` are integer (object or int64) arrays of raw codes at ``f``.  Elements whose
    range is ``{0}`` become width 0.
    """
    lo = np.asarray(lo, dtype=object)
    hi = np.asarray(hi, dtype=object)
    f = np.asarray(f, dtype=np.int64)
    k = np.zeros(lo.shape, dtype=np.int64)
    i = np.zeros(lo.shape, dtype=np.int64)
    ff = np.zeros(lo.shape, dtype=np.int64)
    for idx, (a, b, fe) in enumerate(zip(lo.ravel().tolist(), hi.ravel().tolist(), f.ravel().tolist())):
        if a == 0 and b == 0:
            continue
        k.flat[idx], i.flat[idx], ff.flat[idx] = range_type(a, b, fe)
    return TensorType.of(k, i, ff)


def shift_left_exact(raw: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``raw * 2**shift`` (``shift >= 0``) exactly: int64 when it fits, else a Python-int array."""
    raw = np.asarray(raw)
    shift = np.asarray(shift, dtype=np.int64)
    if np.any(shift < 0):
        raise ValueError("internal: negative alignment shift")
    mag = np.abs(raw.astype(np.float64)) * np.exp2(shift.astype(np.float64))
    if not mag.size or float(mag.max()) < 2.0 ** 62:
        return raw.astype(np.int64) << shift
    return np.asarray(raw, dtype=object) * (np.ones(shift.shape, dtype=object) * 2) ** shift.astype(object)


def max_abs(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per-element ``max(|lo|, |hi|)`` for object arrays."""
    return np.maximum(np.abs(lo), np.abs(hi))

"""Spelling IR fixed-point types as ``ap_fixed``/``ap_ufixed``, and grouping elements by type.

An IR tensor gives every element its own ``(k, i, f)``.  The C++ holds a tensor in one array whose
element type, the *container*, is the union of the live elements' types (largest ``k``, ``i`` and
``f``): every element's value is then exactly representable, because each element's range
``[-k·2^i, 2^i - 2^-f]`` lies inside the container's and its step ``2^-f`` is a multiple of the
container's step.  Rounding and overflow are never applied by a container; they are applied by
casting to a per-element type (:func:`group_by_type`), so each distinct element type is spelled
once with the mode of the op that produces it.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga.fixed import FixedType, bit_length
from hgq_fpga.ir.tensor import TensorType



def union_spec(k: np.ndarray, i: np.ndarray, f: np.ndarray, live: np.ndarray) -> FixedType:
    """Smallest type holding every live element's type exactly (see module doc).

    A tensor with no live element is all zeros; it gets ``ap_ufixed<1, 1>``, which holds 0.
    """
    live = np.asarray(live, dtype=bool)
    if not live.any():
        return FixedType(0, 1, 0)
    return FixedType(int(np.max(k[live])), int(np.max(i[live])), int(np.max(f[live])))


def container(t: TensorType) -> FixedType:
    """The array element type of tensor ``t``."""
    return union_spec(t.k, t.i, t.f, t.live)


def group_by_type(t: TensorType, round: str | None = None, overflow: str | None = None
                  ) -> tuple[list[tuple[FixedType, np.ndarray]], np.ndarray]:
    """Split the flattened elements of ``t`` by distinct ``(k, i, f)``.

    Returns ``(groups, dead)``: one ``(spec, flat_indices)`` per distinct live type (spec carrying
    ``round``/``overflow``), in a stable order, and the flat indices of width-0 elements.
    """
    k, i, f = (a.reshape(-1) for a in (t.k, t.i, t.f))
    live = t.live.reshape(-1)
    dead = np.nonzero(~live)[0]
    if not live.any():
        return [], dead
    keys = np.stack([k[live], i[live], f[live]], axis=1)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    where = np.nonzero(live)[0]
    inverse = inverse.reshape(-1)
    groups = [(FixedType(int(kk), int(ii), int(ff), round, overflow), where[inverse == n])
              for n, (kk, ii, ff) in enumerate(uniq.tolist())]
    return groups, dead


def code_spec(codes: np.ndarray, f: np.ndarray, what: str = "constants"
              ) -> tuple[FixedType, np.ndarray]:
    """One container type for integer constants ``codes·2^-f`` and their codes in it.

    Used for weights, biases and pooling constants: the container is the union of each nonzero
    constant's tightest type, and every code is shifted (exactly) to the container's ``f`` so it
    can be loaded with ``x.setBits(code)``.  Raises ``ValueError`` naming ``what`` when the
    container would be wider than 63 bits, because the codes are then no longer C ``long long``
    values.
    """
    codes = np.asarray(codes, dtype=np.int64)
    f = np.broadcast_to(np.asarray(f, dtype=np.int64), codes.shape).reshape(-1)
    codes = codes.reshape(-1)
    nz = codes != 0
    if not nz.any():
        return FixedType(0, 1, 0), np.zeros(codes.shape, np.int64)
    c = codes[nz]
    mag = np.where(c < 0, -c - 1, c)
    bits = bit_length(mag)
    spec = FixedType(int((c < 0).any()), int((bits - f[nz]).max()), int(f[nz].max()))
    if spec.width > 63:
        raise ValueError(f"{what} need a {spec.width}-bit container ({spec.describe()}): their "
                         "integer bits and fractional bits span too far; at most 63 bits are "
                         "supported")
    shifted = np.zeros(codes.shape, np.int64)
    shifted[nz] = c << (spec.f - f[nz])
    return spec, shifted

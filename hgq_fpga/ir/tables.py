"""Lookup tables of unary functions: one table of output codes per distinct (input type, output
type) pair, over every raw code of the input type (``docs/method.md`` §5).

The firmware holds these tables, and the Keras side looks its calibrated-mode values up in the very
same arrays, so both give the same bits for every input code.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hgq_fpga.fixed import to_raw
from hgq_fpga.ir.functions import ExactFunction
from hgq_fpga.ir.tensor import TensorType

#: Largest input width a Table op accepts (2**20 entries per distinct type).
MAX_TABLE_INPUT_WIDTH = 20


def build_table(x: TensorType, fn: Callable[[np.ndarray], np.ndarray], out: TensorType,
                round: str, overflow: str) -> dict:
    """Table arrays for ``fn``: one table per distinct (input type, output type) pair.

    ``fn`` is a float64 function (its values are quantized to the output type), or an
    :class:`~hgq_fpga.ir.functions.ExactFunction`, whose codes are exactly rounded.
    """
    if int(x.width.max(initial=0)) > MAX_TABLE_INPUT_WIDTH:
        raise ValueError(f"table input width {int(x.width.max())} exceeds {MAX_TABLE_INPUT_WIDTH} bits; "
                         "cast the input narrower first")
    keys = np.stack([a.ravel() for a in (x.k, x.i, x.f, out.k, out.i, out.f)], axis=1)
    uniq, table_id = np.unique(keys, axis=0, return_inverse=True)
    lo_l, start_l, size_l, vals = [], [], [], []
    pos = 0
    for kin, iin, fin, ko, io, fo in uniq.tolist():
        w = kin + iin + fin
        lo = -(1 << (w - 1)) if (kin and w > 0) else 0
        hi = (1 << (w - kin)) - 1 if w > 0 else 0
        codes = np.arange(lo, hi + 1, dtype=np.int64)
        if isinstance(fn, ExactFunction):
            raw = fn.table_codes(codes, fin, ko, io, fo, round, overflow)
        else:
            y = np.asarray(fn(np.ldexp(codes.astype(np.float64), -fin)), dtype=np.float64)
            if y.shape != codes.shape:
                raise ValueError("table function must map an array to an array of the same shape")
            raw = to_raw(y, ko, io, fo, round, overflow)
        lo_l.append(lo)
        start_l.append(pos)
        size_l.append(codes.size)
        vals.append(raw)
        pos += codes.size
    return dict(table_id=table_id.reshape(x.shape).astype(np.int64), lo=np.array(lo_l, np.int64),
                start=np.array(start_l, np.int64), size=np.array(size_l, np.int64),
                values=np.concatenate(vals).astype(np.int64))

"""Lookup tables on the Keras side: calibrated-mode table lookups, and :class:`CodeTable`.

:class:`TableLookup` is how a calibrated layer applies a firmware table (:class:`HActivation`,
:class:`~hgq_fpga.nn.layers.softmax.HSoftmax`): the very arrays of
:func:`hgq_fpga.ir.tables.build_table`, indexed by each element's raw input code, so the values do
not depend on how Keras compiles the model (eagerly, as a graph or with XLA).

A unary function given by its values on a grid: how an imported table activation is held in Keras.

:class:`CodeTable` maps ``x = code * 2^-f`` (``lo <= code <= hi``) to ``values[code - lo]``. It is
what :class:`~hgq_fpga.nn.layers.HActivation` applies for a QKeras ``quantized_tanh`` or
``quantized_sigmoid`` (the values are QKeras's own float32 outputs, computed in the legacy
subprocess), so Keras inference, the converter's table (:func:`hgq_fpga.ir.tables.build_table`
evaluates it on every input code) and the firmware hold the same numbers. It is serializable, so a
saved imported model keeps its table.
"""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.keras_backend import round_keep_dtype
from hgq_fpga.ir.tables import build_table
from hgq_fpga.ir.tensor import TensorType


class TableLookup:
    """A firmware table applied to calibrated-mode tensors, rebuilt only when the types change.

    Args:
        fn: the function (float64, or an :class:`~hgq_fpga.ir.functions.ExactFunction`).
    """

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self._cache: tuple | None = None

    def arrays(self, x_types, out_types, round: str, overflow: str):
        """``(base, scale, values)``: element ``x`` reads ``values[x * scale + base]`` (``scale =
        2**f_in``); raises ValueError when a table cannot be built (too wide, not finite)."""
        types = tuple(np.asarray(t, np.int64) for t in (*x_types, *out_types))
        key = (tuple(t.tobytes() for t in types), tuple(t.shape for t in types), round, overflow)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        x_type, out_type = TensorType.of(*types[:3]), TensorType.of(*types[3:])
        t = build_table(x_type, self.fn, out_type, round, overflow)
        base = (t["start"] - t["lo"])[t["table_id"]]
        # entries are raw codes of the output type, which all elements of one table share
        table_f = np.zeros(t["size"].shape, np.int64)
        table_f[t["table_id"].reshape(-1)] = out_type.f.reshape(-1)
        out_f = np.repeat(table_f, t["size"])      # the tables lie back to back in `values`
        lut = (base, np.ldexp(1.0, x_type.f), np.ldexp(t["values"].astype(np.float64), -out_f))
        self._cache = (key, lut)
        return lut

    @staticmethod
    def apply(x, lut):
        """Look the calibrated-mode tensor ``x`` (batch first) up in ``lut`` (from :meth:`arrays`)."""
        base, scale, values = lut
        code = ops.cast(round_keep_dtype(ops.cast(x, "float64") * scale), "int64")
        index = ops.clip(code + base, 0, values.shape[0] - 1)
        return ops.take(values, index)


@keras.saving.register_keras_serializable(package="hgq_fpga")
class CodeTable:
    """``x -> values[round(x * 2^f) - lo]``; inputs outside ``lo..hi`` read the nearest end.

    Args:
        values: the function's value for each code ``lo, lo + 1, ..., lo + len(values) - 1``.
        f: fractional bits of the input grid.
        lo: the first code.
        name: what the function is (shown in the firmware IR), e.g. ``"quantized_tanh(4)"``.
    """

    def __init__(self, values, f: int, lo: int, name: str = "table") -> None:
        self.values = np.asarray(values, np.float64).reshape(-1)
        if self.values.size == 0 or not np.all(np.isfinite(self.values)):
            raise ValueError(f"CodeTable {name!r} needs a non-empty table of finite values")
        self.f = int(f)
        self.lo = int(lo)
        self.__name__ = str(name)

    def lookup(self, x: np.ndarray) -> np.ndarray:
        """The function on float values, in numpy (the builder's shadow firmware uses it)."""
        code = np.round(np.ldexp(np.asarray(x, np.float64), self.f)).astype(np.int64)
        return self.values[np.clip(code - self.lo, 0, self.values.size - 1)]

    def __call__(self, x):
        dtype = keras.backend.standardize_dtype(x.dtype)
        code = round_keep_dtype(x * (2.0 ** self.f))
        index = ops.cast(ops.clip(code - self.lo, 0, self.values.size - 1), "int32")
        return ops.take(ops.convert_to_tensor(self.values, dtype=dtype), index)

    def get_config(self) -> dict[str, Any]:
        return {"values": self.values.tolist(), "f": self.f, "lo": self.lo, "name": self.__name__}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "CodeTable":
        return cls(**config)

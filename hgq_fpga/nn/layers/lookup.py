"""A unary function given by its values on a grid: how an imported table activation is held in Keras.

:class:`CodeTable` maps ``x = code * 2^-f`` (``lo <= code <= hi``) to ``values[code - lo]``. It is
what :class:`~hgq_fpga.nn.layers.HActivation` applies for a QKeras ``quantized_tanh`` or
``quantized_sigmoid`` (the values are QKeras's own float32 outputs, computed in the legacy
subprocess), so Keras inference, the converter's table (:func:`hgq_fpga.ir.tables.build_table`
evaluates it on every input code) and the firmware hold the same numbers. It is serializable, so a
saved imported model keeps its table.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from hgq_fpga.nn.keras_backend import round_keep_dtype


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

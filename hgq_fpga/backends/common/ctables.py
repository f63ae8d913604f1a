"""Integer constant tables as the templates need them: values, C type, and the literal text.

Every constant of the generated firmware (element indices, weight codes, table values) is a plain
C integer array.  g++ compiles such arrays in a blink, whereas arrays of ``ap_fixed`` constants cost
it a constructor per element, minutes for a real network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: C integer types for constant tables, narrowest first: (name, magnitude bits it holds).
_INT_TYPES = (("signed char", 7), ("short", 15), ("int", 31), ("long long", 63))

#: Numbers per line in a table literal (keeps lines short enough to read and diff).
PER_LINE = 24


@dataclass(frozen=True, eq=False)
class IntTable:
    """A 1-d integer table.  ``start`` is set when the values are ``start, start+1, ...``, so a
    template can write the index arithmetic instead of declaring a table."""

    values: np.ndarray

    @staticmethod
    def of(values) -> "IntTable":
        return IntTable(np.asarray(values, dtype=np.int64).reshape(-1))

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def ctype(self) -> str:
        return int_ctype(self.values)

    @property
    def start(self) -> int | None:
        v = self.values
        if v.size and np.array_equal(v, np.arange(v[0], v[0] + v.size, dtype=np.int64)):
            return int(v[0])
        return None

    @property
    def longest_run(self) -> int:
        """For a pointer table ``ptr``: the most entries any ``[ptr[n], ptr[n+1])`` holds.

        Templates use it as a constant trip count, so HLS can unroll the inner loops without
        first propagating the table's values into the loop bounds.
        """
        return int(np.diff(self.values).max(initial=0))

    @property
    def all_equal(self) -> bool:
        return bool(self.values.size) and bool(np.all(self.values == self.values[0]))


def c_literal(values, indent: str = "    ") -> str:
    """Brace-enclosed initialiser text, ``PER_LINE`` numbers per line (``{0}`` when empty)."""
    v = values.values if isinstance(values, IntTable) else np.asarray(values, dtype=np.int64).ravel()
    if v.size == 0:
        return "{0}"
    text = [str(int(x)) for x in v.tolist()]
    if len(text) <= PER_LINE:
        return "{" + ", ".join(text) + "}"
    lines = [", ".join(text[n:n + PER_LINE]) for n in range(0, len(text), PER_LINE)]
    return "{\n" + ",\n".join(indent + "    " + line for line in lines) + "\n" + indent + "}"


def int_ctype(values: np.ndarray) -> str:
    """Narrowest C integer type holding every value (``signed char`` .. ``long long``)."""
    values = np.asarray(values, dtype=np.int64)
    if values.size == 0:
        return "signed char"
    lo, hi = int(values.min()), int(values.max())
    for name, bits in _INT_TYPES:
        if -(1 << bits) <= lo and hi < (1 << bits):
            return name
    raise ValueError("internal: constant beyond 64 bits")

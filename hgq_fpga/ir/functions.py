"""Functions whose lookup tables are computed exactly: the table of ``exp`` and of ``1/x``.

A table built by evaluating a function in float64 (:func:`hgq_fpga.ir.tables.build_table`) holds
whatever that float64 evaluation gave; a float ``exp`` differs between libraries, CPUs and
compilers in the last bit, and one such bit can move a value across a rounding boundary. (This is
how hls4ml's softmax mismatched HGQ2's: it recomputed the tables with ``std::exp``.) The
functions here return the *correctly rounded* code of the true value instead, so every machine
computes the same table:

* :data:`RECIPROCAL` - ``1/x`` of a code is a rational number: integer division, exact;
* :data:`EXP` - ``exp(x)`` (for ``x <= 0``, the softmax's domain) is irrational for every ``x != 0``, so it is never on a rounding
  boundary; a float64 estimate decides the code wherever it lies far enough (a relative margin of
  ``2^-40``, far beyond float64's error) from every boundary, and :mod:`decimal` at a precision
  that separates the value from the boundary decides the others.

The firmware IR stores the resulting codes (a :class:`~hgq_fpga.ir.ops.Table`), the Keras layers
look their calibrated-mode values up in the same tables, and the backends copy them from the IR.
"""

from __future__ import annotations

import decimal
import math
from fractions import Fraction

import numpy as np

from hgq_fpga.fixed import check_overflow, check_round

#: decimal digits beyond the value's own magnitude when a code is settled with :mod:`decimal`
_GUARD_DIGITS = 40
#: relative distance from a rounding boundary below which float64 does not decide a code
_FLOAT_MARGIN = 2.0 ** -40


def round_ratio(num: np.ndarray, den: np.ndarray, mode: str) -> np.ndarray:
    """The integers that ``num / den`` round to under an ``ap_fixed`` rounding mode
    (``docs/method.md`` §1), exactly: element-wise on int64 arrays (magnitudes below ``2^61``) or on
    object arrays of Python ints (any size). ``den`` is never 0."""
    num, den = np.asarray(num), np.asarray(den)
    num, den = np.where(den < 0, -num, num), np.where(den < 0, -den, den)
    floor = num // den
    twice = 2 * (num - floor * den)                  # 2 · remainder, in [0, 2·den)
    if mode == "TRN":
        return floor
    if mode == "TRN_ZERO":
        return floor + ((num < 0) & (twice > 0))
    up, tie = twice > den, twice == den
    away = {"RND": tie, "RND_MIN_INF": False, "RND_ZERO": tie & (num < 0), "RND_INF": tie & (num > 0),
            "RND_CONV": tie & ((floor & 1) == 1)}[mode]
    return floor + (up | away)


def round_fraction(q: Fraction, mode: str) -> int:
    """The integer that the exact fraction ``q`` rounds to under an ``ap_fixed`` rounding mode."""
    ratio = round_ratio(np.array([q.numerator], object), np.array([q.denominator], object), mode)
    return int(ratio[0])


def overflow_code(code: int, k: int, width: int, mode: str) -> int:
    """A code at the output's ``f`` brought into a ``width``-bit type (sign bit ``k``) by ``mode``."""
    if width <= 0:
        return 0
    lo = -(1 << (width - 1)) if k else 0
    hi = (1 << (width - k)) - 1
    if lo <= code <= hi:
        return code
    if mode == "WRAP":
        code &= (1 << width) - 1
        return code - (1 << width) if k and code > hi else code
    if mode == "SAT_ZERO":
        return 0
    if mode == "SAT_SYM" and k:
        lo = -hi
    return min(max(code, lo), hi)


class ExactFunction:
    """A unary function with exactly rounded table codes (base class; see the module doc).

    Subclasses give :meth:`rounded`; ``table_codes`` is what
    :func:`hgq_fpga.ir.tables.build_table` calls. ``__call__`` evaluates the function in float64,
    for plots and for training.
    """

    name = "function"

    def rounded(self, codes: np.ndarray, f_in: int, f_out: int, mode: str) -> np.ndarray:
        """Object array: ``fn(code · 2^-f_in) · 2^f_out`` rounded by ``mode``, exactly (Python ints;
        ``None`` where the value is the largest code of the output type)."""
        raise NotImplementedError

    def table_codes(self, codes: np.ndarray, f_in: int, k: int, i: int, f: int, round: str,
                    overflow: str) -> np.ndarray:
        """Raw output codes of type ``(k, i, f)`` for the input codes ``codes`` at ``f_in``."""
        round, overflow = check_round(round), check_overflow(overflow)
        width = k + i + f
        top = (1 << (width - k)) - 1 if width > 0 else 0
        m = self.rounded(np.asarray(codes, np.int64), f_in, f, round)
        return np.array([top if v is None else overflow_code(int(v), k, width, overflow)
                         for v in m.tolist()], np.int64)

    def __repr__(self) -> str:
        return f"<exact function {self.name}>"


class Exp(ExactFunction):
    """``exp(min(x, 0))``, correctly rounded to the table's output type: the exponential on the
    domain a softmax uses (``x - max(x) <= 0``), and 1 above it, where no input ever lies.

    ``exp(x)`` of a nonzero dyadic ``x`` is irrational: never on a rounding boundary. A float64
    estimate decides every code that lies further than ``2^-40`` (relative) from a boundary (and
    every value below float64's range, which rounds to 0); :mod:`decimal` decides the rest, and
    ``x = 0`` is exact.
    """

    name = "exp"

    def rounded(self, codes: np.ndarray, f_in: int, f_out: int, mode: str) -> np.ndarray:
        codes = np.minimum(codes, 0)
        with np.errstate(over="ignore", under="ignore"):
            v = np.exp(np.ldexp(codes.astype(np.float64), -f_in)) * np.ldexp(1.0, f_out)
        floor = np.floor(np.where(np.isfinite(v), v, 0.0))
        rest = v - floor
        margin = _FLOAT_MARGIN * np.abs(v)
        decided = np.isfinite(v) & (v < 2.0 ** 50) & (codes != 0) \
            & (np.minimum(rest, 1.0 - rest) > margin) & (np.abs(rest - 0.5) > margin)
        decided |= (v == 0) & (f_out < 900)      # below 2^-1074 · 2^f_out: far below one half
        up = (rest > 0.5) if mode.startswith("RND") else np.zeros(v.shape, bool)
        out = np.where(decided, floor + up, 0.0).astype(np.int64).astype(object)
        for n in np.nonzero(~decided)[0].tolist():
            out[n] = self.settle(int(codes[n]), f_in, f_out, mode)
        return out

    def settle(self, code: int, f_in: int, f_out: int, mode: str) -> int:
        """The rounded code of one value, exactly: ``x = 0`` as the fraction ``2^f_out``, any other
        in :mod:`decimal` at a precision beyond the value's own digits (it is irrational, so no
        finite precision puts it on a boundary)."""
        if code == 0:
            return round_fraction(Fraction(2) ** f_out, mode)
        x = Fraction(code, 1) / Fraction(2) ** f_in
        digits = int(abs(float(x)) / math.log(10) + abs(f_out) * math.log10(2)) + _GUARD_DIGITS
        with decimal.localcontext() as ctx:
            ctx.prec = digits
            ctx.Emax, ctx.Emin = decimal.MAX_EMAX, decimal.MIN_EMIN
            value = (decimal.Decimal(x.numerator) / decimal.Decimal(x.denominator)).exp() \
                * decimal.Decimal(2) ** f_out
        # no tie can occur, so every round-to-nearest mode is round half up
        return round_fraction(Fraction(value), "RND" if mode.startswith("RND") else mode)

    def __call__(self, x):
        return np.exp(np.minimum(np.asarray(x, np.float64), 0.0))


class Reciprocal(ExactFunction):
    """``1/x``, exactly rounded (a ratio of integers); ``1/0`` is the largest value of the output
    type (it saturates, whatever the overflow mode)."""

    name = "reciprocal"

    def rounded(self, codes: np.ndarray, f_in: int, f_out: int, mode: str) -> np.ndarray:
        # 1/(c·2^-f_in) · 2^f_out = 2^(f_in + f_out) / c
        shift = f_in + f_out
        c = np.where(codes == 0, 1, codes).astype(object)
        num = np.full(c.shape, 1 << max(shift, 0), dtype=object)
        den = c * (1 << max(-shift, 0))
        out = round_ratio(num, den, mode)
        out[codes == 0] = None
        return out

    def __call__(self, x):
        x = np.asarray(x, np.float64)
        with np.errstate(divide="ignore"):
            return np.where(x != 0, 1.0 / np.where(x != 0, x, 1.0), np.inf)


EXP = Exp()
RECIPROCAL = Reciprocal()

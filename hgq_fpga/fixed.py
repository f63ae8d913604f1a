"""Exact fixed-point arithmetic in numpy, with the semantics of Xilinx ``ap_fixed``.

A type is the triple ``(k, i, f)`` of ``docs/method.md`` §1: ``k`` sign bit (0/1), ``i`` integer
bits without the sign, ``f`` fractional bits; width ``W = k + i + f``. Every function here works on
arrays with *per-element* types: ``k``, ``i`` and ``f`` are integer arrays broadcastable against the
data. ``W == 0`` means the element is the constant 0.

Two domains are offered:

* the value domain (``quantize``): float64 in, float64 out, exact for widths up to 53 bits;
* the integer domain (``to_raw``, ``from_raw``, ``cast_raw``): int64 raw codes ``value * 2**f``,
  which the emulator uses so that no float rounding can ever enter, exact for widths up to 62 bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

ROUNDING_MODES = ("TRN", "TRN_ZERO", "RND", "RND_ZERO", "RND_MIN_INF", "RND_INF", "RND_CONV")
OVERFLOW_MODES = ("WRAP", "SAT", "SAT_SYM", "SAT_ZERO")

#: Widest type whose every value float64 holds exactly.
MAX_FLOAT_WIDTH = 53
#: Widest type whose raw codes, and a rounding carry on top, fit an int64.
MAX_RAW_WIDTH = 62


#: integers up to this magnitude are exact in float64
FLOAT64_EXACT_INTEGER = 2 ** MAX_FLOAT_WIDTH


def plain(value):
    """``value`` with numpy scalars as Python numbers, also inside lists and tuples: for messages,
    where numpy 2's repr would print ``np.float64(0.5)`` instead of ``0.5``."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


#: ml_dtypes' narrow number types (numpy kind "V"): float64 holds every one of their values
_NARROW_NUMBERS = ("bfloat16", "float8", "float6", "float4", "int2", "int4", "uint2", "uint4")


def exact_float64(a, what: str) -> np.ndarray:
    """``a`` as a float64 array, or a ValueError naming ``what`` when float64 would not hold its values
    exactly: complex numbers (numpy would drop the imaginary part with a warning), text, dates, masked
    values, objects that are not plain numbers, integers beyond 2**53 and long doubles that float64
    would round. bool, integers and floats of any width (bfloat16 and float8 included) are taken as
    they are."""
    if np.ma.isMaskedArray(a) and np.ma.is_masked(a):
        raise ValueError(f"{what} is a masked array with masked values; the firmware has no masked "
                         "input: fill them (a.filled(value)) first")
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} is not an array of numbers ({e})") from None
    kind = raw.dtype.kind
    if kind == "c":
        raise ValueError(f"{what} holds complex numbers ({raw.dtype}); the firmware takes real values, and "
                         "dropping the imaginary parts would change them: pass the real part")
    if kind in "US":
        raise ValueError(f"{what} holds text ({raw.dtype}), not numbers")
    if kind == "O":
        return _plain_numbers(raw, what)
    if kind == "V" and raw.dtype.name.startswith(_NARROW_NUMBERS):
        return raw.astype(np.float64)
    if kind not in "biuf":
        raise ValueError(f"{what} holds values of type {raw.dtype}, not numbers (bool, integers or floats)")
    if kind in "iu" and raw.size:
        big = (raw > FLOAT64_EXACT_INTEGER) if kind == "u" else \
            (raw > FLOAT64_EXACT_INTEGER) | (raw < -FLOAT64_EXACT_INTEGER)
        if np.any(big):
            first = np.unravel_index(int(np.argmax(big)), raw.shape)
            raise ValueError(f"{what} holds integers beyond 2**53 (the first at sample {first[0]}), which "
                             "float64 cannot hold exactly")
    out = np.asarray(raw, dtype=np.float64)
    if kind == "f" and raw.dtype.itemsize > 8 and not np.array_equal(out.astype(raw.dtype), raw, equal_nan=True):
        raise ValueError(f"{what} holds {raw.dtype} values that float64 would round; round them to float64 "
                         "first if that is what you mean")
    return out


def _plain_numbers(raw: np.ndarray, what: str) -> np.ndarray:
    """An object array of Python or numpy numbers as float64, refusing anything float64 would not hold
    exactly (``None``, ``Fraction``, ``Decimal``, integers beyond 2**53)."""
    values = raw.ravel().tolist()
    for n, v in enumerate(values):
        if not isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) or \
                (isinstance(v, np.floating) and np.finfo(type(v)).bits > 64):
            held = "None" if v is None else f"a {type(v).__name__} ({v!r})"
            raise ValueError(f"{what} holds {held}, not a number float64 holds exactly (bool, int or float)")
        if isinstance(v, (int, np.integer)) and abs(int(v)) > FLOAT64_EXACT_INTEGER:
            first = np.unravel_index(n, raw.shape)
            raise ValueError(f"{what} holds integers beyond 2**53 (the first at sample {first[0]}), which "
                             "float64 cannot hold exactly")
    return np.array(values, dtype=np.float64).reshape(raw.shape)


def bit_length(n) -> np.ndarray:
    """Bits of non-negative integers (0 for 0), element-wise and exact: ``int.bit_length`` of each.

    ``n`` is an int64 array (any value up to ``2^63 - 1``) or an object array of Python ints.
    """
    a = np.asarray(n)
    if a.dtype == object:
        return np.array([int(v).bit_length() for v in a.ravel().tolist()],
                        dtype=np.int64).reshape(a.shape)
    a = a.astype(np.int64)
    if a.size and int(a.min()) < 0:
        raise ValueError("bit_length of a negative number")
    b = np.frexp(a.astype(np.float64))[1].astype(np.int64)
    # above 2**53 the float64 conversion may round up to the next power of two: one bit too many
    top = np.minimum(np.maximum(b - 1, 0), 62)
    return np.where((b > 63) | ((b > 0) & ((np.int64(1) << top) > a)), b - 1, b)


def _check_mode(name: str, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(name, str) or name.upper() not in allowed:
        raise ValueError(f"unknown {what} mode {name!r}; expected one of {', '.join(allowed)}")
    return name.upper()


def check_round(mode: str) -> str:
    """Normalise a rounding-mode name (``'rnd'`` → ``'RND'``), or raise naming the valid ones."""
    return _check_mode(mode, ROUNDING_MODES, "rounding")


def check_overflow(mode: str) -> str:
    """Normalise an overflow-mode name, or raise naming the valid ones."""
    return _check_mode(mode, OVERFLOW_MODES, "overflow")


def _as_int_array(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating):
            raise ValueError(f"{name} must be integer-valued, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{name} must be integer-valued, got non-integer values such as "
                             f"{plain(arr[(~np.isfinite(arr)) | (arr != np.round(arr))].flat[0])!r}")
    return arr.astype(np.int64)


def _broadcast(arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{n}{tuple(np.shape(a))}" for n, a in arrays.items())
        raise ValueError(f"shapes do not broadcast: {shapes}") from None


def check_type_arrays(k, i, f) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate per-element ``(k, i, f)``: integers, ``k`` in {0, 1}, ``W = k+i+f >= 0``."""
    k = _as_int_array(k, "k")
    i = _as_int_array(i, "i")
    f = _as_int_array(f, "f")
    if np.any((k != 0) & (k != 1)):
        raise ValueError("k must be 0 (unsigned) or 1 (signed)")
    k, i, f = _broadcast({"k": k, "i": i, "f": f})
    if np.any(k + i + f < 0):
        raise ValueError("width W = k + i + f must be >= 0")
    return k, i, f


# ----------------------------------------------------------------------------------------------
# Value domain
# ----------------------------------------------------------------------------------------------

def _round_up(fl: np.ndarray, frac: np.ndarray, negative: np.ndarray, mode: str) -> np.ndarray:
    """Whether to step from ``floor(v)`` to ``floor(v)+1``, given ``frac = v - floor(v)``."""
    inexact = frac > 0
    half = frac == 0.5
    above = frac > 0.5
    if mode == "TRN":
        return np.zeros_like(inexact)
    if mode == "TRN_ZERO":
        return inexact & negative
    if mode == "RND":
        return frac >= 0.5
    if mode == "RND_ZERO":
        return above | (half & negative)
    if mode == "RND_MIN_INF":
        return above
    if mode == "RND_INF":
        return above | (half & ~negative)
    # RND_CONV: half to even
    return above | (half & (np.fmod(fl, 2) != 0))


def _sat_sym_low(lo: np.ndarray, hi: np.ndarray, k: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Lowest code that ``AP_SAT_SYM`` lets through: ``-hi`` for signed types, ``lo`` otherwise.

    ap_fixed saturates a negative overflow to the code ``min | 1``; for a 1-bit signed type that
    bit is the sign bit itself, so the result is ``min`` (-1), exactly as with ``AP_SAT``.
    """
    return np.where((k == 1) & (w > 1), -hi, lo)


def _apply_overflow_float(m: np.ndarray, k: np.ndarray, w: np.ndarray, mode: str) -> np.ndarray:
    """Overflow handling on integer-valued float64 codes ``m`` for width ``w`` (all > 0)."""
    lo = -np.ldexp(1.0, w - 1) * k
    hi = np.ldexp(1.0, w - k) - 1
    if mode == "WRAP":
        span = np.ldexp(1.0, w)
        r = np.mod(m, span)  # exact: |m| < 2**(w+2) after range reduction
        return np.where(r > hi, r - span, r)
    if mode == "SAT":
        return np.clip(m, lo, hi)
    if mode == "SAT_SYM":
        return np.clip(m, _sat_sym_low(lo, hi, k, w), hi)
    # SAT_ZERO
    return np.where((m < lo) | (m > hi), 0.0, m)


def quantize(x, k, i, f, round: str = "TRN", overflow: str = "WRAP") -> np.ndarray:
    """Return ``ap_[u]fixed<W, k+i, round, overflow>(double(x))`` element-wise, as float64.

    ``x`` must be finite; types may be given per element. Widths above 53 bits are refused
    because float64 could not hold the result exactly (use the integer-domain functions).
    """
    round = check_round(round)
    overflow = check_overflow(overflow)
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        bad = "NaN" if np.any(np.isnan(x)) else "inf"
        raise ValueError(f"cannot quantize non-finite input ({bad}); clean the data first")
    k, i, f = check_type_arrays(k, i, f)
    x, k, i, f = _broadcast({"x": x, "k": k, "i": i, "f": f})
    w = k + i + f
    if np.any(w > MAX_FLOAT_WIDTH):
        raise ValueError(f"width {int(w.max())} exceeds {MAX_FLOAT_WIDTH} bits, the most float64 "
                         "holds exactly; use hgq_fpga.fixed.to_raw/cast_raw instead")
    live = w > 0
    wl = np.where(live, w, 1)
    top = k + i  # ap_fixed's I parameter
    # Range reduction that changes neither the rounding nor the overflow result: keep the sign,
    # bring |x| below 2**(top+2). WRAP: subtract a multiple of 2**(top+1) (a multiple of 2**W
    # codes). Saturating modes: clip just outside the range.
    bound = np.ldexp(1.0, top + 1)
    if overflow == "WRAP":
        xr = np.fmod(x, bound)
    else:
        xr = np.clip(x, -bound, bound)
    v = np.ldexp(xr, f)
    fl = np.floor(v)
    frac = v - fl
    # ldexp may underflow a tiny nonzero x to (-)0; the exact code then lies strictly inside
    # (-1, 0) or (0, 1), never on a tie, so stand-in fractions keep the rounding decision exact.
    tiny = (v == 0) & (xr != 0)
    fl = np.where(tiny & (xr < 0), -1.0, fl)
    frac = np.where(tiny, np.where(xr < 0, 0.75, 0.25), frac)
    m = fl + _round_up(fl, frac, np.signbit(xr) & (xr != 0), round)
    m = _apply_overflow_float(m, k, wl, overflow)
    out = np.ldexp(m, -f)
    out = np.where(live, out, 0.0)
    return out + 0.0  # normalise -0.0 to 0.0


# ----------------------------------------------------------------------------------------------
# Integer domain
# ----------------------------------------------------------------------------------------------

def _check_raw_width(w: np.ndarray, what: str) -> None:
    if w.size and int(w.max()) > MAX_RAW_WIDTH:
        raise ValueError(f"{what}: width {int(w.max())} exceeds {MAX_RAW_WIDTH} bits, "
                         "the most the int64 integer domain holds exactly")


def to_raw(x, k, i, f, round: str = "TRN", overflow: str = "WRAP") -> np.ndarray:
    """Quantize ``x`` and return the raw int64 codes ``value * 2**f``."""
    k, i, f = check_type_arrays(k, i, f)
    _check_raw_width(k + i + f, "to_raw")
    if np.any(k + i + f > MAX_FLOAT_WIDTH):
        raise ValueError("to_raw from float64 supports widths up to 53 bits")
    q = quantize(x, k, i, f, round, overflow)
    return np.ldexp(q, np.broadcast_to(f, q.shape)).astype(np.int64)


def from_raw(m, f) -> np.ndarray:
    """Value of raw codes ``m`` with ``f`` fractional bits, as float64 (exact below 2**53)."""
    m = np.asarray(m, dtype=np.int64)
    f = _as_int_array(f, "f")
    if m.size and int(np.abs(m).max(initial=0)) >= 2 ** 53:
        raise ValueError("from_raw: codes of 2**53 or more are not exact in float64")
    return np.ldexp(m.astype(np.float64), -f) + 0.0


def _shift_right_round(m: np.ndarray, s: np.ndarray, mode: str) -> np.ndarray:
    """``m / 2**s`` rounded with ``mode``, for ``s >= 0``, exactly in int64."""
    # For s >= 64, |m| < 2**63 <= 2**(s-1): the quotient lies strictly inside (-1/2, 1/2) and only
    # the sign of m matters; (sign(m), 63) gives the same floor, remainder class and tie decision.
    m = np.where(s > 63, np.sign(m), m)
    s = np.minimum(s, 63)
    fl = m >> s                                     # floor division by 2**s
    rem = m - (fl << s)                             # 0 <= rem < 2**s
    half = np.where(s > 0, np.int64(1) << np.maximum(s - 1, 0), 0)
    inexact = rem != 0
    tie = inexact & (rem == half) & (s > 0)
    above = rem > half
    negative = m < 0
    if mode == "TRN":
        up = np.zeros_like(inexact)
    elif mode == "TRN_ZERO":
        up = inexact & negative
    elif mode == "RND":
        up = above | tie
    elif mode == "RND_ZERO":
        up = above | (tie & negative)
    elif mode == "RND_MIN_INF":
        up = above
    elif mode == "RND_INF":
        up = above | (tie & ~negative)
    else:  # RND_CONV
        up = above | (tie & ((fl & 1) == 1))
    return fl + up


def _apply_overflow_raw(m: np.ndarray, k: np.ndarray, w: np.ndarray, mode: str) -> np.ndarray:
    one = np.int64(1)
    lo = -(one << np.maximum(w - 1, 0)) * k
    hi = (one << (w - k)) - 1
    if mode == "WRAP":
        span_mask = (one << w) - 1
        r = m & span_mask
        return np.where(r > hi, r - (one << w), r)
    if mode == "SAT":
        return np.clip(m, lo, hi)
    if mode == "SAT_SYM":
        return np.clip(m, _sat_sym_low(lo, hi, k, w), hi)
    return np.where((m < lo) | (m > hi), 0, m)


def cast_raw(m, f_in, k, i, f, round: str = "TRN", overflow: str = "WRAP") -> np.ndarray:
    """Cast raw codes ``m`` (with ``f_in`` fractional bits) to type ``(k, i, f)``; return raw codes.

    This is the one operation a firmware does between exact products and sums: drop or add
    fractional bits with the rounding mode, then fit the integer part with the overflow mode.
    ``m`` itself must be exact (int64); the target width may be up to 62 bits.
    """
    round = check_round(round)
    overflow = check_overflow(overflow)
    m = np.asarray(m)
    if not np.issubdtype(m.dtype, np.integer):
        raise ValueError(f"cast_raw needs integer codes, got dtype {m.dtype}")
    f_in = _as_int_array(f_in, "f_in")
    k, i, f = check_type_arrays(k, i, f)
    m, f_in, k, i, f = _broadcast({"m": m.astype(np.int64), "f_in": f_in, "k": k, "i": i, "f": f})
    w = k + i + f
    _check_raw_width(w, "cast_raw")
    shift = f_in - f
    down = _shift_right_round(m, np.maximum(shift, 0), round)
    up_shift = np.maximum(-shift, 0)
    if overflow == "WRAP":
        # Adding fractional bits: int64 shifts drop high bits, i.e. they work modulo 2**64, and
        # the wrap below is modulo 2**W with W <= 62, so the result is exact at any shift.
        up = m << np.minimum(up_shift, 63)
    else:
        # A saturating mode only needs to know that a code is out of range: cap magnitudes at
        # 2**62 (beyond every target, W <= 62) so that the shift cannot leave int64.
        cap_shift = np.minimum(up_shift, 62)
        limit = np.int64(1) << (62 - cap_shift)
        capped = np.where(m >= limit, limit, np.where(m <= -limit, -limit, m))
        up = capped << cap_shift
    shifted = np.where(shift >= 0, down, up)
    live = w > 0
    out = _apply_overflow_raw(shifted, k, np.where(live, w, 1), overflow)
    return np.where(live, out, 0)


def out_of_range(m, f_in, k, i, f, round: str = "TRN") -> np.ndarray:
    """Whether casting raw codes ``m`` (at ``f_in`` fractional bits) to ``(k, i, f)`` overflows:
    the value *after rounding* lies outside the type's range, so the overflow mode changes it.

    Zero-width (pruned) elements never count: they are the constant 0 by design.
    """
    round = check_round(round)
    f_in = _as_int_array(f_in, "f_in")
    k, i, f = check_type_arrays(k, i, f)
    m, f_in, k, i, f = _broadcast({"m": np.asarray(m).astype(np.int64), "f_in": f_in, "k": k,
                                   "i": i, "f": f})
    w = k + i + f
    _check_raw_width(w, "out_of_range")
    live = w > 0
    wl = np.where(live, w, 1)
    one = np.int64(1)
    lo = -(one << np.maximum(wl - 1, 0)) * k
    hi = (one << (wl - k)) - 1
    shift = f_in - f
    rounded = _shift_right_round(m, np.maximum(shift, 0), round)
    down_out = (rounded < lo) | (rounded > hi)
    # adding fractional bits is exact: m * 2^up is out of range iff m is beyond the range / 2^up
    up = np.minimum(np.maximum(-shift, 0), 63)
    up_out = (m > (hi >> up)) | (m < -((-lo) >> up))
    return live & np.where(shift >= 0, down_out, up_out)


# ----------------------------------------------------------------------------------------------
# Types of exact results
# ----------------------------------------------------------------------------------------------

def product_type(a: tuple, b: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k, i, f)`` that holds every product of a value of type ``a`` by one of type ``b``.

    The width is the sum of the widths; a zero-width factor gives a zero-width product.
    """
    ka, ia, fa = check_type_arrays(*a)
    kb, ib, fb = check_type_arrays(*b)
    k = ka | kb
    i = ia + ib + (ka & kb)
    f = fa + fb
    zero = (ka + ia + fa == 0) | (kb + ib + fb == 0)
    return np.where(zero, 0, k), np.where(zero, 0, i), np.where(zero, 0, f)


def sum_type(types: Iterable[tuple]) -> tuple[int, int, int]:
    """Scalar ``(k, i, f)`` that holds the exact sum of one value of each of ``types``.

    Zero-width terms are the constant 0 and do not count. The integer part grows by
    ``ceil(log2 n)`` bits for ``n`` live terms.
    """
    live = [(int(k), int(i), int(f)) for k, i, f in
            (tuple(np.asarray(t).ravel()[0] if np.ndim(t) else t for t in ty) for ty in types)
            if int(k) + int(i) + int(f) > 0]
    if not live:
        return 0, 0, 0
    k = max(t[0] for t in live)
    i = max(t[1] for t in live)
    f = max(t[2] for t in live)
    n = len(live)
    grow = int(np.ceil(np.log2(n))) if n > 1 else 0
    return k, i + grow, f


def range_type(lo_raw: int, hi_raw: int, f: int) -> tuple[int, int, int]:
    """Smallest ``(k, i, f)`` at ``f`` fractional bits that holds every raw code in ``[lo, hi]``."""
    lo_raw, hi_raw = int(lo_raw), int(hi_raw)
    if lo_raw > hi_raw:
        raise ValueError(f"empty range [{lo_raw}, {hi_raw}]")
    if lo_raw == 0 and hi_raw == 0:
        return 0, 0, 0
    k = 1 if lo_raw < 0 else 0
    # bits b of magnitude so that lo >= -2**b and hi <= 2**b - 1
    b = max(max(hi_raw, 0).bit_length(), (-lo_raw - 1).bit_length() if lo_raw < 0 else 0)
    return k, b - f, f


# ----------------------------------------------------------------------------------------------
# Scalar type object
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixedType:
    """One fixed-point type ``(k, i, f)`` (docs/method.md §1), with its rounding and overflow modes.

    The one class of the package that describes a scalar fixed-point type: the HLS backend spells
    its containers and casts with it, the QKeras importer describes QKeras's casts with it.
    ``round``/``overflow`` are mode names (``"RND"``, ``"SAT"``, ...) or ``None`` for the
    ``ap_fixed`` defaults (truncate, wrap), which are then not spelled out: right for a type that
    never rounds or overflows (a container that holds every value exactly).
    """

    k: int
    i: int
    f: int
    round: str | None = None
    overflow: str | None = None

    def __post_init__(self) -> None:
        for name in ("k", "i", "f"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"FixedType.{name} must be an int, got {plain(value)!r}")
            object.__setattr__(self, name, int(value))
        if self.k not in (0, 1):
            raise ValueError(f"FixedType.k must be 0 or 1, got {self.k}")
        if self.width < 0:
            raise ValueError(f"FixedType width k+i+f must be >= 0, got {self.width}")
        if self.round is not None:
            object.__setattr__(self, "round", check_round(self.round))
        if self.overflow is not None:
            object.__setattr__(self, "overflow", check_overflow(self.overflow))

    @property
    def width(self) -> int:
        """Total bits ``W = k + i + f``."""
        return self.k + self.i + self.f

    @property
    def signed(self) -> bool:
        return self.k == 1

    @property
    def min_value(self) -> float:
        return -float(self.k) * 2.0 ** self.i if self.width else 0.0

    @property
    def max_value(self) -> float:
        return 2.0 ** self.i - 2.0 ** -self.f if self.width else 0.0

    def quantize(self, x) -> np.ndarray:
        """Cast values to this type (see :func:`quantize`; ``None`` modes are TRN and WRAP)."""
        return quantize(x, self.k, self.i, self.f, self.round or "TRN", self.overflow or "WRAP")

    @property
    def cpp(self) -> str:
        """The C++ spelling: ``ap_fixed<8,3>``, or with modes ``ap_fixed<8,3,AP_RND,AP_SAT>``."""
        if self.width <= 0:
            raise ValueError(f"type (k={self.k}, i={self.i}, f={self.f}) has width 0: it is the constant 0 "
                             "and has no ap_fixed spelling")
        base = "ap_fixed" if self.signed else "ap_ufixed"
        args = [str(self.width), str(self.k + self.i)]
        if self.round is not None or self.overflow is not None:
            args += [f"AP_{self.round or 'TRN'}", f"AP_{self.overflow or 'WRAP'}"]
        return f"{base}<{','.join(args)}>"

    def describe(self) -> str:
        """``(k, i, f)`` as text, for comments."""
        return f"k={self.k} i={self.i} f={self.f}"

    def __str__(self) -> str:
        return f"({self.k},{self.i},{self.f}){self.round or 'TRN'}/{self.overflow or 'WRAP'}"

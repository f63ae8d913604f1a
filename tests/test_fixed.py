"""Unit and property tests of ``hgq_fpga.fixed`` that need no compiler.

The bit-exactness against the ``ap_fixed`` headers is in ``test_fixed_vs_apfixed.py``; here:
input validation, C++ spellings, the exact-result types (checked with Python integers, which
cannot overflow), and properties linking the value and integer domains.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hgq_fpga.fixed import (OVERFLOW_MODES, ROUNDING_MODES, FixedType, cast_raw, from_raw,
                            product_type, quantize, range_type, sum_type, to_raw)


def raw_range(k: int, i: int, f: int) -> tuple[int, int]:
    """Smallest and largest raw code of type ``(k, i, f)``, as Python ints."""
    w = k + i + f
    if w == 0:
        return 0, 0
    return (-(1 << (w - 1)) if k else 0), (1 << (w - k)) - 1


def holds(t: tuple[int, int, int], code: int, f_code: int) -> bool:
    """Whether type ``t`` represents the value ``code * 2**-f_code`` exactly."""
    k, i, f = (int(v) for v in t)
    shift = f - f_code
    if shift < 0:
        if code % (1 << -shift):
            return False
        scaled = code >> -shift
    else:
        scaled = code << shift
    lo, hi = raw_range(k, i, f)
    return lo <= scaled <= hi


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "inf")])
def test_quantize_rejects_non_finite(bad: float, word: str) -> None:
    with pytest.raises(ValueError, match=word):
        quantize(np.array([1.0, bad]), 1, 3, 4)


@pytest.mark.parametrize("field", ["k", "i", "f"])
def test_non_integer_type_fields_rejected(field: str) -> None:
    args = {"k": 1, "i": 3, "f": 4}
    args[field] = 0.5
    with pytest.raises(ValueError, match=f"{field} must be integer"):
        quantize([1.0], args["k"], args["i"], args["f"])
    args[field] = "3"
    with pytest.raises(ValueError, match=field):
        quantize([1.0], args["k"], args["i"], args["f"])


def test_bad_sign_and_negative_width_rejected() -> None:
    with pytest.raises(ValueError, match="k must be 0"):
        quantize([1.0], 2, 3, 4)
    with pytest.raises(ValueError, match="width"):
        quantize([1.0], 0, -3, 2)


@pytest.mark.parametrize("kwargs, word", [({"round": "ROUND"}, "rounding"),
                                          ({"overflow": "CLIP"}, "overflow"),
                                          ({"round": 3}, "rounding")])
def test_unknown_mode_rejected(kwargs: dict, word: str) -> None:
    with pytest.raises(ValueError, match=f"unknown {word} mode"):
        quantize([1.0], 1, 3, 4, **kwargs)
    with pytest.raises(ValueError, match=f"unknown {word} mode"):
        cast_raw([1], 2, 1, 3, 4, **kwargs)
    with pytest.raises(ValueError, match=f"unknown {word} mode"):
        FixedType(1, 3, 4, **kwargs)


def test_mode_names_are_case_insensitive() -> None:
    assert np.array_equal(quantize([0.3], 1, 2, 2, "rnd_conv", "sat"),
                          quantize([0.3], 1, 2, 2, "RND_CONV", "SAT"))


def test_non_broadcasting_shapes_rejected() -> None:
    with pytest.raises(ValueError, match="do not broadcast"):
        quantize(np.zeros(3), 1, np.array([2, 3]), 4)
    with pytest.raises(ValueError, match="do not broadcast"):
        cast_raw(np.zeros(3, dtype=np.int64), 2, 1, np.array([2, 3]), 4)


def test_quantize_width_limit() -> None:
    quantize([1.0], 1, 20, 32)  # 53 bits: fine
    with pytest.raises(ValueError, match="exceeds 53"):
        quantize([1.0], 1, 20, 33)


def test_cast_raw_rejects_float_codes_and_too_wide_types() -> None:
    with pytest.raises(ValueError, match="integer codes"):
        cast_raw(np.array([1.5]), 2, 1, 3, 4)
    with pytest.raises(ValueError, match="exceeds 62"):
        cast_raw(np.array([1]), 2, 1, 40, 30)


def test_fixed_type_validation() -> None:
    with pytest.raises(ValueError, match="k must be 0 or 1"):
        FixedType(2, 3, 4)
    with pytest.raises(ValueError, match="must be an int"):
        FixedType(1, 3.0, 4)
    with pytest.raises(ValueError, match="width"):
        FixedType(0, -5, 2)


# ----------------------------------------------------------------------------------------------
# Spellings and simple values
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("t, spelling", [
    (FixedType(1, 3, 4, "TRN", "WRAP"), "ap_fixed<8,4,AP_TRN,AP_WRAP>"),
    (FixedType(1, 3, 4), "ap_fixed<8,4>"),                  # no modes given: ap_fixed's defaults
    (FixedType(0, 3, 4, "RND", "SAT"), "ap_ufixed<7,3,AP_RND,AP_SAT>"),
    (FixedType(1, -3, 5, "rnd_conv", "sat_sym"), "ap_fixed<3,-2,AP_RND_CONV,AP_SAT_SYM>"),
    (FixedType(0, 6, -2, "TRN_ZERO", "SAT_ZERO"), "ap_ufixed<4,6,AP_TRN_ZERO,AP_SAT_ZERO>"),
    (FixedType(1, 0, 0, "RND_MIN_INF"), "ap_fixed<1,1,AP_RND_MIN_INF,AP_WRAP>"),
])
def test_fixed_type_cpp(t: FixedType, spelling: str) -> None:
    assert t.cpp == spelling


def test_zero_width_type_has_no_spelling() -> None:
    with pytest.raises(ValueError, match="width 0"):
        FixedType(0, 2, -2).cpp


def test_fixed_type_range_and_quantize() -> None:
    t = FixedType(1, 2, 3, "RND", "SAT")
    assert (t.min_value, t.max_value, t.width) == (-4.0, 4.0 - 0.125, 6)
    assert np.array_equal(t.quantize([0.0625, 100.0, -100.0]), [0.125, 3.875, -4.0])


def test_quantize_per_element_types() -> None:
    x = np.array([1.3, 1.3, 1.3, 1.3])
    out = quantize(x, [1, 1, 0, 0], [1, 2, 0, 1], [1, 2, 0, 3])
    assert np.array_equal(out, [1.0, 1.25, 0.0, 1.25])


# ----------------------------------------------------------------------------------------------
# Exact-result types
# ----------------------------------------------------------------------------------------------

type_triples = st.tuples(st.integers(0, 1), st.integers(-8, 12), st.integers(-8, 12)).filter(
    lambda t: 0 < sum(t) <= 24)


@settings(max_examples=300, deadline=None)
@given(a=type_triples, b=type_triples)
def test_product_type_holds_extreme_products(a, b) -> None:
    pk, pi, pf = (int(np.asarray(v)) for v in product_type(a, b))
    lo_a, hi_a = raw_range(*a)
    lo_b, hi_b = raw_range(*b)
    f_prod = a[2] + b[2]
    assert pf == f_prod
    for x, y in itertools.product((lo_a, hi_a), (lo_b, hi_b)):
        assert holds((pk, pi, pf), x * y, f_prod), (a, b, x, y)
    # and it is not wider than the sum of the widths
    assert pk + pi + pf <= sum(a) + sum(b)


def test_product_type_zero_width_factor() -> None:
    assert tuple(int(v) for v in product_type((1, 3, 4), (0, 2, -2))) == (0, 0, 0)
    k, i, f = product_type((np.array([1, 0]), np.array([3, 2]), np.array([4, -2])), (1, 1, 1))
    assert (k.tolist(), i.tolist(), f.tolist()) == ([1, 0], [5, 0], [5, 0])


@settings(max_examples=300, deadline=None)
@given(st.lists(type_triples | st.just((0, 0, 0)), min_size=1, max_size=9))
def test_sum_type_holds_extreme_sums(types) -> None:
    t = sum_type(types)
    live = [ty for ty in types if sum(ty) > 0]
    if not live:
        assert t == (0, 0, 0)
        return
    f_sum = max(ty[2] for ty in live)
    lo = sum(raw_range(*ty)[0] << (f_sum - ty[2]) for ty in live)
    hi = sum(raw_range(*ty)[1] << (f_sum - ty[2]) for ty in live)
    assert holds(t, lo, f_sum) and holds(t, hi, f_sum), (types, t, lo, hi)


@settings(max_examples=300, deadline=None)
@given(a=st.integers(-(1 << 40), 1 << 40), b=st.integers(-(1 << 40), 1 << 40),
       f=st.integers(-10, 20))
def test_range_type_is_smallest_holding_both_ends(a, b, f) -> None:
    lo, hi = min(a, b), max(a, b)
    t = range_type(lo, hi, f)
    if lo == hi == 0:
        assert t == (0, 0, 0)
        return
    assert t[2] == f
    assert holds(t, lo, f) and holds(t, hi, f)
    narrower = (t[0], t[1] - 1, t[2])
    if sum(narrower) >= 0:
        assert not (holds(narrower, lo, f) and holds(narrower, hi, f))
    if t[0] == 1:  # signed only if it must be
        assert lo < 0


def test_range_type_rejects_empty_range() -> None:
    with pytest.raises(ValueError, match="empty range"):
        range_type(3, 2, 0)


# ----------------------------------------------------------------------------------------------
# Value domain <-> integer domain
# ----------------------------------------------------------------------------------------------

modes = st.sampled_from(ROUNDING_MODES)
overflows = st.sampled_from(OVERFLOW_MODES)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
float_types = st.tuples(st.integers(0, 1), st.integers(-10, 30), st.integers(-10, 30)).filter(
    lambda t: 0 <= sum(t) <= 53)


@settings(max_examples=400, deadline=None)
@given(x=st.lists(finite, min_size=1, max_size=8), t=float_types, q=modes, o=overflows)
def test_to_raw_from_raw_roundtrip(x, t, q, o) -> None:
    k, i, f = t
    value = quantize(x, k, i, f, q, o)
    raw = to_raw(x, k, i, f, q, o)
    assert raw.dtype == np.int64
    assert np.array_equal(from_raw(raw, f), value)
    lo, hi = raw_range(k, i, f)
    assert all(lo <= int(m) <= hi for m in raw)
    # representable values are fixed points of the cast
    assert np.array_equal(to_raw(from_raw(raw, f), k, i, f, q, o), raw)


@settings(max_examples=500, deadline=None)
@given(m=st.lists(st.integers(-(1 << 52), (1 << 52) - 1), min_size=1, max_size=8),
       f_in=st.integers(-20, 60), t=float_types, q=modes, o=overflows)
def test_cast_raw_agrees_with_quantize(m, f_in, t, q, o) -> None:
    """Both are exact functions of the exact value ``m * 2**-f_in``, so they must agree."""
    k, i, f = t
    codes = np.array(m, dtype=np.int64)
    value = np.ldexp(codes.astype(np.float64), -f_in)  # exact: |m| < 2**53, no under/overflow
    got = cast_raw(codes, f_in, k, i, f, q, o)
    assert np.array_equal(from_raw(got, f), quantize(value, k, i, f, q, o))


@pytest.mark.parametrize("q", ROUNDING_MODES)
def test_cast_raw_huge_shift_rounds_like_tiny_value(q: str) -> None:
    """Dropping 64+ fractional bits: only the sign of the code is left to round."""
    m = np.array([-(1 << 62) - 1, -1, 0, 1, (1 << 62) + 1], dtype=np.int64)
    for f_in in (64, 70, 200):
        tiny = np.array([-1.0, -1.0, 0.0, 1.0, 1.0]) * 2.0 ** -40
        assert np.array_equal(cast_raw(m, f_in, 1, 3, 0, q, "SAT"),
                              to_raw(tiny, 1, 3, 0, q, "SAT")), (q, f_in)


def test_cast_raw_widening_is_exact() -> None:
    codes = np.array([-5, 0, 7], dtype=np.int64)
    assert np.array_equal(cast_raw(codes, 1, 1, 10, 6), codes << 5)


@settings(max_examples=500, deadline=None)
@given(m=st.integers(-(1 << 63), (1 << 63) - 1), f_in=st.integers(-80, 80),
       t=st.tuples(st.integers(0, 1), st.integers(-70, 62), st.integers(-70, 62)).filter(
           lambda t: 0 < sum(t) <= 62), q=modes, o=overflows)
def test_cast_raw_matches_python_ints(m, f_in, t, q, o) -> None:
    """``cast_raw`` over the whole int64 domain and 62-bit targets, against exact Python ints."""
    k, i, f = t
    got = int(cast_raw(np.array([m], dtype=np.int64), f_in, k, i, f, q, o)[0])
    assert got == reference_cast(m, f_in, k, i, f, q, o)


def reference_cast(m: int, f_in: int, k: int, i: int, f: int, q: str, o: str) -> int:
    """Plain-integer model of the cast, written from the mode definitions of docs/method.md §1."""
    s = f_in - f
    if s <= 0:
        c = m << -s
    else:
        fl = m >> s
        rem = m - (fl << s)
        half2 = 1 << s  # compare 2*rem with 2**s to avoid a half-bit
        above, tie, inexact = 2 * rem > half2, 2 * rem == half2, rem != 0
        up = {"TRN": False, "TRN_ZERO": inexact and m < 0, "RND": above or tie,
              "RND_ZERO": above or (tie and m < 0), "RND_MIN_INF": above,
              "RND_INF": above or (tie and m >= 0),
              "RND_CONV": above or (tie and fl % 2 == 1)}[q]
        c = fl + int(up)
    w = k + i + f
    lo, hi = raw_range(k, i, f)
    if o == "WRAP":
        c %= 1 << w
        return c - (1 << w) if c > hi else c
    if o == "SAT_ZERO":
        return c if lo <= c <= hi else 0
    low = -hi if (o == "SAT_SYM" and k == 1 and w > 1) else lo
    return min(max(c, low), hi)


def test_bit_length_is_exact_over_the_whole_int64_range():
    from hgq_fpga.fixed import bit_length
    rng = np.random.default_rng(3)
    edges = [0, 1, 2, 3, 2 ** 52 - 1, 2 ** 52, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 1, 2 ** 62 - 1, 2 ** 62,
             2 ** 63 - 1] + [2 ** e + d for e in range(1, 63) for d in (-1, 0, 1)]
    values = np.array(edges + rng.integers(0, 2 ** 63 - 1, 2000, dtype=np.int64).tolist(), np.int64)
    assert bit_length(values).tolist() == [int(v).bit_length() for v in values.tolist()]
    big = np.array([2 ** 70, 5, 0], dtype=object)
    assert bit_length(big).tolist() == [71, 3, 0]
    with pytest.raises(ValueError, match="negative"):
        bit_length(np.array([-1]))

"""``hgq_fpga.fixed`` against the real ``ap_fixed`` headers, bit for bit.

The C++ program (``tests/cpp``) casts doubles to ``ap_[u]fixed<W, I, Q, O>`` and
``ap_fixed<50, 25>`` values to narrower types and returns the raw bits; ``quantize`` and ``cast_raw``
must give the very same values (zero tolerance). Each target type gets the same number of test values: ties at half a step
around codes at the edges and in the middle, values just outside the range, signed zeros, huge and
tiny magnitudes, and random values.

Grid: widths ``W`` 1..40 and ``I = k+i`` from -4 to ``W+4``, signed and unsigned, under the 28
rounding x overflow modes: 2360 types x 28 modes = 66080 instantiations, about 15 minutes of g++ on
two cores, so the full product is ``slow``. The default run covers

* every (W, I) pair once, with the sign and the 28 modes rotating across the pairs (1180 cases);
* all 28 modes x both signs over a dense set of (W, I) pairs at the corners of the grid;
* ``cast_raw`` from ``ap_fixed<50, 25>`` to several targets under all 28 modes.

A missing g++ or missing headers make the tests fail with the install instructions, never skip.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.fixed import OVERFLOW_MODES, ROUNDING_MODES, cast_raw, quantize
from hgq_fpga.backends.common.toolchain import ToolchainError, find_ap_types_include, find_compiler

_spec = importlib.util.spec_from_file_location(
    "apfixed_harness", Path(__file__).resolve().parent / "cpp" / "apfixed_harness.py")
harness = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = harness  # dataclasses look their module up there
_spec.loader.exec_module(harness)
Case = harness.Case

MODES = list(itertools.product(ROUNDING_MODES, OVERFLOW_MODES))
MAX_W = 40
ALL_PAIRS = [(w, i) for w in range(1, MAX_W + 1) for i in range(-4, w + 5)]
#: (W, I) pairs checked under every mode and both signs by default: the grid's corners and edges.
DENSE_PAIRS = [(1, 0), (1, 5), (2, -4), (3, 1), (8, 3), (17, 21), (33, 16), (40, -4)]
#: Targets of the fixed-to-fixed casts (W, I, signed); the source is ap_fixed<50, 25>.
CAST_TARGETS = [(8, 3, True), (1, 0, True), (5, -2, False), (12, 14, False), (33, 10, True),
                (30, -2, True)]
PER_CASE = 160
MIN_DEFAULT_VALUES = 200_000


def default_double_cases() -> list[Case]:
    """Every (W, I) pair once with rotating sign and mode, plus all modes on the dense pairs."""
    combos = [(s, q, o) for s in (True, False) for q, o in MODES]
    rotating = []
    for n, (w, i) in enumerate(ALL_PAIRS):
        signed, q, o = combos[n % len(combos)]
        rotating.append(Case("double", signed, w, i, q, o))
    dense = [Case("double", s, w, i, q, o) for (w, i) in DENSE_PAIRS for s in (True, False)
             for q, o in MODES]
    return rotating + dense


def full_double_cases() -> list[Case]:
    """The whole cartesian product: every (W, I), both signs, all 28 modes."""
    return [Case("double", s, w, i, q, o) for (w, i) in ALL_PAIRS for s in (True, False)
            for q, o in MODES]


def fixed_cases() -> list[Case]:
    return [Case("fixed", s, w, i, q, o) for (w, i, s) in CAST_TARGETS for q, o in MODES]


# ----------------------------------------------------------------------------------------------
# Test values
# ----------------------------------------------------------------------------------------------

def _edge_codes(case: Case) -> list[int]:
    """Raw codes at and around the ends of the target range, zero and the symmetric minimum."""
    k = int(case.signed)
    lo = -(1 << (case.W - 1)) if k else 0
    hi = (1 << (case.W - k)) - 1
    return [lo - 2, lo - 1, lo, lo + 1, -hi - 1, -hi, -2, -1, 0, 1, 2, 3, hi - 1, hi, hi + 1,
            hi + 2, 2 * hi + 1, 2 * lo - 1]


def double_values(case: Case, rng: np.random.Generator) -> np.ndarray:
    """``PER_CASE`` exact doubles aimed at ``case``'s rounding and overflow decisions."""
    _, _, f = case.kif
    vals: list[float] = []
    # quarter steps around the edge codes: exact, ties (+0.5) and both sides of a tie
    for c in _edge_codes(case):
        for q in (0, 1, 2, 3, -1, -2):
            vals.append(np.ldexp(float(4 * c + q), -f - 2))
    specials = [0.0, -0.0, 1e10, -1e10, 1e15, -1e15, 1e300, -1e300, 5e-324, -5e-324,
                np.ldexp(1.0, case.I + 9), -np.ldexp(1.0, case.I + 9),
                np.ldexp(1.0, -f - 3), -np.ldexp(1.0, -f - 3)]
    vals.extend(specials)
    n_rand = PER_CASE - len(vals)
    # random codes over twice the range, on quarter steps (many ties), then random magnitudes
    span = 1 << (case.W + 1)
    codes = rng.integers(-span, span, size=n_rand // 2) * 4 + rng.integers(0, 4, size=n_rand // 2)
    vals.extend(np.ldexp(codes.astype(np.float64), -f - 2))
    n_free = PER_CASE - len(vals)
    mags = np.exp2(rng.uniform(-f - 6, case.I + 6, size=n_free))
    vals.extend(mags * rng.choice([-1.0, 1.0], size=n_free))
    out = np.array(vals, dtype=np.float64)
    assert out.shape == (PER_CASE,)
    return out


def fixed_source_codes(case: Case, rng: np.random.Generator) -> np.ndarray:
    """``PER_CASE`` raw codes of ``ap_fixed<50, 25>`` aimed at the cast to ``case``."""
    _, _, f = case.kif
    shift = harness.SRC_F - f  # source codes per target step, as a power of two
    src_lo, src_hi = -(1 << (harness.SRC_W - 1)), (1 << (harness.SRC_W - 1)) - 1
    codes: list[int] = []
    for c in _edge_codes(case):
        if shift > 0:
            half = 1 << (shift - 1)
            base = c << shift
            codes += [base, base + half, base + half - 1, base + half + 1, base - half, base - 1]
        else:
            codes += [c >> -shift, (c >> -shift) + 1, (c >> -shift) - 1]
    codes += [0, 1, -1, src_lo, src_hi, src_lo + 1, src_hi - 1]
    n_rand = PER_CASE - len(codes)
    codes += list(rng.integers(src_lo, src_hi, size=n_rand // 2, endpoint=True))
    scale = 1 << max(min(case.W + max(shift, 0) + 1, harness.SRC_W - 1), 1)
    codes += list(rng.integers(-scale, scale, size=PER_CASE - len(codes)))
    out = np.clip(np.array(codes, dtype=np.int64), src_lo, src_hi)
    assert out.shape == (PER_CASE,)
    return out


# ----------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------

def _build_or_fail(cases: list[Case]) -> Path:
    try:
        return harness.build(cases)
    except ToolchainError as exc:
        pytest.fail(f"cannot compile the ap_fixed reference: {exc}")


def _describe_mismatches(cases, inputs, got, expected, bad) -> str:
    rows, cols = np.nonzero(bad)
    lines = [f"{int(bad.sum())} of {bad.size} values differ from ap_fixed; first ones:"]
    for r, c in list(zip(rows, cols))[:12]:
        case = cases[r]
        kind = "ap_fixed" if case.signed else "ap_ufixed"
        lines.append(f"  {case.kind} -> {kind}<{case.W},{case.I},AP_{case.Q},AP_{case.O}> "
                     f"in={float(inputs[r, c]).hex()} ({inputs[r, c]!r}) "
                     f"ap_fixed={got[r, c]!r} ours={expected[r, c]!r}")
    return "\n".join(lines)


def check_double_cases(cases: list[Case]) -> int:
    """Compare ``quantize`` with the program over ``cases``; return the number of values compared."""
    exe = _build_or_fail(cases)
    rng = np.random.default_rng(20240611)
    inputs = np.stack([double_values(c, rng) for c in cases])
    bits = harness.run(exe, inputs)
    got = np.stack([c.decode(b) for c, b in zip(cases, bits)])
    expected = np.empty_like(got)
    kif = np.array([c.kif for c in cases])
    for q, o in MODES:
        rows = np.array([n for n, c in enumerate(cases) if (c.Q, c.O) == (q, o)], dtype=np.int64)
        if rows.size:
            k, i, f = (kif[rows, j][:, None] for j in range(3))
            expected[rows] = quantize(inputs[rows], k, i, f, q, o)
    bad = ~(got == expected)  # value comparison: -0.0 == 0.0, and no NaN may appear
    assert not bad.any(), _describe_mismatches(cases, inputs, got, expected, bad)
    return got.size


def test_quantize_matches_ap_fixed_default_grid() -> None:
    """Default coverage: every (W, I) pair once, every mode and sign on the dense pairs."""
    cases = default_double_cases()
    compared = check_double_cases(cases)
    full = 2 * len(ALL_PAIRS) * len(MODES)
    print(f"\ncompared {compared} values over {len(cases)} types "
          f"({len(cases) / full:.1%} of the {full} (W, I, sign, mode) cells; "
          f"{len(ALL_PAIRS)}/{len(ALL_PAIRS)} (W, I) pairs; {len(DENSE_PAIRS)} pairs in all modes)")
    assert compared + PER_CASE * len(fixed_cases()) >= MIN_DEFAULT_VALUES


def test_cast_raw_matches_ap_fixed_to_ap_fixed() -> None:
    """``cast_raw`` from ``ap_fixed<50, 25>`` codes equals the C++ fixed-to-fixed assignment."""
    cases = fixed_cases()
    exe = _build_or_fail(cases)
    rng = np.random.default_rng(7)
    codes = np.stack([fixed_source_codes(c, rng) for c in cases])
    inputs = np.ldexp(codes.astype(np.float64), -harness.SRC_F)  # exact: 50-bit codes
    bits = harness.run(exe, inputs)
    got = np.stack([c.decode(b) for c, b in zip(cases, bits)])
    expected = np.empty_like(got)
    for n, c in enumerate(cases):
        k, i, f = c.kif
        raw = cast_raw(codes[n], harness.SRC_F, k, i, f, c.Q, c.O)
        expected[n] = np.ldexp(raw.astype(np.float64), -f)
    bad = ~(got == expected)
    assert not bad.any(), _describe_mismatches(cases, inputs, got, expected, bad)


def test_zero_width_is_zero() -> None:
    """``W = 0`` has no ap_fixed spelling; every mode must give the constant 0."""
    x = np.array([0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 3.75, 1e300, -1e300, 5e-324])
    for (q, o), (k, i) in itertools.product(MODES, [(0, 0), (0, 3), (0, -3), (1, -1), (1, 4)]):
        out = quantize(x, k, i, -k - i, q, o)
        assert np.array_equal(out, np.zeros_like(x)) and not np.signbit(out).any()


def test_toolchain_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """The headers are found without importing hls4ml; a bad CXX is reported with a fix."""
    assert (find_ap_types_include() / "ap_fixed.h").is_file()
    monkeypatch.setenv("CXX", "no-such-compiler-xyz")
    with pytest.raises(ToolchainError, match="CXX"):
        find_compiler()
    monkeypatch.delenv("CXX")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolchainError, match="apt-get install g\\+\\+"):
        find_compiler()


@pytest.mark.slow
def test_quantize_matches_ap_fixed_full_grid() -> None:
    """The full cartesian product: 66080 types, 10.6 million values (~15 min of g++ on 2 cores)."""
    check_double_cases(full_double_cases())

"""Precompiled casts for the emulator's hot loop, and exact float → raw input quantization.

``hgq_fpga.fixed.cast_raw`` is the definition of every ap_fixed cast; it re-validates and
re-broadcasts its type arrays on each call, which dominates emulation time.  ``CastKernel``
precomputes the per-element constants once.  For the common modes (``TRN``/``RND`` with
``WRAP``/``SAT``) it runs a short add/shift/mask sequence; every other mode, or any case where an
int64 intermediate could overflow, calls ``cast_raw`` itself.  The fast path is checked against
``cast_raw`` in the tests.

Input quantization uses the guard/sticky construction: ``x·2^(f+1)`` is exact in float64 (a
power-of-two scale), its floor gives the code plus one guard bit, and whether anything was left
over is one more "sticky" bit.  The resulting integer at ``f + 2`` fractional bits rounds to ``f``
bits exactly as ``x`` does under every rounding mode, so the cast above finishes the job.
"""

from __future__ import annotations

import numpy as np

from hgq_fpga.fixed import cast_raw, check_overflow, check_round, out_of_range
from hgq_fpga.ir.tensor import TensorType


class CastKernel:
    """Cast raw codes at per-element ``f_in`` (of a type at most ``in_width`` bits wide) to ``out``."""

    def __init__(self, f_in: np.ndarray, in_width: np.ndarray, out: TensorType, round: str,
                 overflow: str) -> None:
        self.round = check_round(round)
        self.overflow = check_overflow(overflow)
        self.out = out
        self.f_in = np.broadcast_to(np.asarray(f_in, np.int64), out.shape).copy()
        w = out.width
        shift = self.f_in - out.f
        self.down = np.maximum(shift, 0)
        self.up = np.maximum(-shift, 0)
        in_width = np.broadcast_to(np.asarray(in_width, np.int64), out.shape)
        safe = bool(np.all(in_width + self.up <= 62)) and bool(np.all(self.down <= 62))
        self.fast = safe and self.round in ("TRN", "RND") and self.overflow in ("WRAP", "SAT")
        one = np.int64(1)
        self.bias = np.where(self.down > 0, one << np.maximum(self.down - 1, 0), 0) \
            if self.round == "RND" else np.zeros(out.shape, np.int64)
        self.any_bias = bool(np.any(self.bias))
        self.any_down = bool(np.any(self.down))
        self.any_up = bool(np.any(self.up))
        live = w > 0
        self.mask = np.where(live, (one << np.where(live, w, 1)) - 1, 0)
        self.off = np.where(live & (out.k == 1), one << np.maximum(w - 1, 0), 0)
        self.lo = -self.off
        self.hi = np.where(live, (one << np.maximum(w - out.k, 0)) - 1, 0)

    def __call__(self, m: np.ndarray, owned: bool = False) -> np.ndarray:
        """Cast a batch ``(N, *shape)``; ``owned=True`` lets the kernel overwrite ``m``."""
        if not self.fast:
            t = self.out
            return cast_raw(m, self.f_in, t.k, t.i, t.f, self.round, self.overflow)
        # one fresh array, then in-place steps: fewer passes and page faults on big batches
        if self.any_bias:
            m = np.add(m, self.bias, out=m if owned else None)
        elif not owned:
            m = m.copy()
        if self.any_down:
            np.right_shift(m, self.down, out=m)
        if self.any_up:
            np.left_shift(m, self.up, out=m)
        if self.overflow == "WRAP":
            np.add(m, self.off, out=m)
            np.bitwise_and(m, self.mask, out=m)
            return np.subtract(m, self.off, out=m)
        np.maximum(m, self.lo, out=m)
        return np.minimum(m, self.hi, out=m)


class InputQuantizer:
    """Exact ``ap_fixed`` quantization of float64 inputs to raw codes of ``t``."""

    def __init__(self, t: TensorType, round: str, overflow: str) -> None:
        self.t = t
        self.overflow = check_overflow(overflow)
        self.scale = np.ldexp(1.0, t.f + 1)                 # exact powers of two
        w = t.width
        self.span = np.ldexp(1.0, w + 1)                    # 2^W codes at f, in f+1 units
        self.beyond = np.ldexp(1.0, w + 3)                  # safely outside the range, f+1 units
        # guard/sticky codes at f+2 are at most W+3 bits wide
        self.cast = CastKernel(t.f + 2, w + 3, t, round, overflow)
        self.may_underflow = bool(np.any(self.scale < 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.cast(self.guarded_codes(x)[0], owned=True)

    def outside(self, x: np.ndarray) -> np.ndarray:
        """Which values of ``x`` lie outside the type's range after rounding (so the overflow mode
        acts on them); pruned elements never count."""
        m, big = self.guarded_codes(x)
        t = self.t
        out = out_of_range(m, t.f + 2, t.k, t.i, t.f, self.cast.round)
        return out if big is None else out | (big & t.live)

    def guarded_codes(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes at ``f + 2`` fractional bits that round like ``x`` (see the module docstring), and
        which elements were range-reduced for being far beyond the type (None: none were)."""
        with np.errstate(over="ignore"):
            v = x * self.scale
        batch_axes = tuple(range(x.ndim - self.t.k.ndim))
        # |v| >= 2^60 (or inf) needs range reduction; decide per element position cheaply first
        with np.errstate(over="ignore"):
            extreme = np.maximum(np.abs(x.max(axis=batch_axes)), np.abs(x.min(axis=batch_axes))) \
                * self.scale if x.size else np.zeros(1)
        if np.any(extreme >= 2.0 ** 60):
            big = ~(np.abs(v) < 2.0 ** 60)
            if self.overflow == "WRAP":
                # such v are integers; reducing mod 2^(W+1) keeps the wrapped code
                finite = np.where(np.isinf(v), 0.0, v)
                red = np.fmod(finite, self.span)
            else:
                red = np.copysign(self.beyond, v)
            v = np.where(big, red, v)
        else:
            big = None
        fl = np.floor(v)
        sticky = v != fl
        m = fl.astype(np.int64)
        np.left_shift(m, 1, out=m)
        np.add(m, sticky, out=m, casting="unsafe")
        if self.may_underflow:
            # x * 2^(f+1) can underflow to 0 only for a scale below 1; such an x lies strictly
            # inside (-1, 1) codes, never on a tie, so a stand-in of ±1/4 code rounds the same
            tiny = (v == 0) & (x != 0)
            if big is not None:
                tiny &= ~big
            if tiny.any():
                m = np.where(tiny, np.where(x < 0, -1, 1), m)
        return m, big

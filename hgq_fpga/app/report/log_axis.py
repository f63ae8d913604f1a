"""Log-scale axes whose tick labels stay readable.

Over one to three decades matplotlib labels every minor tick of a log axis (2, 3, ... 9 × 10^k), and
neighbours such as 3×10^4 and 4×10^4 print over each other. A plot of EBOPs or LUTs usually spans
that range, so every log axis of the package and of the benchmarks goes through :func:`log_scale`.
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.ticker import Formatter, LogFormatterSciNotation

#: the minor ticks that keep a label: 2 and 5 × 10^k
LABELLED_MANTISSAS = (2, 5)
#: from this many decades on, minor ticks carry no label (the decades alone are enough)
MAX_LABELLED_DECADES = 3.0


class SparseMinorFormatter(Formatter):
    """Minor-tick labels of a log axis: 2 and 5 × 10^k only, and none on a wide axis.

    Args:
        base: formats the ticks that keep a label (default: ``a×10^k`` as matplotlib writes it).
    """

    def __init__(self, base: Formatter | None = None) -> None:
        self.base = base or LogFormatterSciNotation(labelOnlyBase=False)

    def set_axis(self, axis: Axis | None) -> None:
        super().set_axis(axis)
        self.base.set_axis(axis)

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not x > 0 or not math.isfinite(x):
            return ""
        if self.axis is not None:
            lo, hi = sorted(self.axis.get_view_interval())
            if lo > 0 and math.log10(hi / lo) >= MAX_LABELLED_DECADES:
                return ""
        mantissa = x / 10 ** math.floor(math.log10(x) + 1e-9)
        if not any(abs(mantissa - m) < 1e-6 for m in LABELLED_MANTISSAS):
            return ""
        return self.base(x, pos)


def log_scale(ax: Axes, which: str = "x", base: Formatter | None = None) -> None:
    """Make ``ax``'s ``which`` axis (``"x"`` or ``"y"``) logarithmic with non-overlapping minor labels.

    ``base`` formats the labelled minor ticks; pass the major formatter to keep one style.
    """
    if which not in ("x", "y"):
        raise ValueError(f"which must be 'x' or 'y', got {which!r}")
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    (ax.xaxis if which == "x" else ax.yaxis).set_minor_formatter(SparseMinorFormatter(base))

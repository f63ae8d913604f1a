"""Log axes of the package's and the benchmarks' plots: minor labels at 2 and 5 x 10^k only."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from hgq_fpga.app.report.log_axis import log_scale  # noqa: E402
from hgq_fpga.app.report.plots import THOUSANDS  # noqa: E402


def _minor_labels(lo: float, hi: float, **kw) -> list[str]:
    fig, ax = plt.subplots()
    ax.plot([lo, hi], [0, 1])
    log_scale(ax, **kw)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels(minor=True) if t.get_text()]
    plt.close(fig)
    return labels


def test_two_decades_label_only_two_and_five():
    # the seeded-study plot's range, where matplotlib's default printed 3x10^4 over 4x10^4
    labels = _minor_labels(1.5e4, 6e5)
    assert labels == [r"$\mathdefault{2\times10^{4}}$", r"$\mathdefault{5\times10^{4}}$",
                      r"$\mathdefault{2\times10^{5}}$", r"$\mathdefault{5\times10^{5}}$"]


def test_wide_axis_has_no_minor_labels():
    assert _minor_labels(10.0, 1e6) == []


def test_base_formatter_keeps_the_major_style():
    assert _minor_labels(1.5e4, 6e5, base=THOUSANDS) == ["20,000", "50,000", "200,000", "500,000"]


def test_y_axis_and_bad_axis_name():
    fig, ax = plt.subplots()
    log_scale(ax, "y")
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    with pytest.raises(ValueError, match="'z'"):
        log_scale(ax, "z")
    plt.close(fig)

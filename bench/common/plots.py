"""Figure helpers: pyplot without a display, and a PNG written atomically (a reader never sees half
a file). Every figure is drawn from a study's record, never from live objects."""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType

from hgq_fpga.app.report.log_axis import log_scale  # noqa: F401 - the log axis of every bench figure


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend (files only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def finished(fig):
    """``fig`` laid out tight at matplotlib's 100 dpi and set to be saved at 120 (every bench figure)."""
    fig.tight_layout()
    fig.dpi = 120
    return fig


def save(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` (a PNG, at the figure's dpi as it is now) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    fig.savefig(tmp, dpi=fig.dpi)
    pyplot().close(fig)
    os.replace(tmp, path)
    return path

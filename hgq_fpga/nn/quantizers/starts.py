"""Where HGQ training starts: the starting bit widths of the quantizers, by name.

Training moves every width from where it starts, and on a budget of epochs the start decides much
of the front (``docs/training.md``, "Where training starts"). A start names the options of the
two kinds of quantizer a layer builds when it is given none:

* ``weight``: kernels and biases (``init_bits``: about this many significant bits per weight, its
  fractional bits from its own value, ``f_init`` then the biases'; or ``init_bits=None`` and
  ``f_init``: the same fractional bits for every weight) and how weights round to the grid
  (``round_mode``: free in the firmware, where weights are constants rounded once; with few
  fractional bits ``"TRN"`` would start every small weight at 0 or at minus one step, and a small
  MLP started so never trained);
* ``activation``: outputs, the input quantizer ``HQuantize`` included (``f_init`` fractional bits).

:data:`DEFAULT_START` is what every layer uses; the others stay reachable by name, to reproduce
earlier results::

    with quantizer_start("hgq_fpga-0.1"):   # the layers built here start as in hgq_fpga 0.1
        model = build_model()

Options a layer is given explicitly (``kernel_quantizer={"init_bits": 4}``) win over the start.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field
from typing import Iterator


@dataclass(frozen=True)
class Start:
    """The starting options of weight and activation quantizers, and where they come from."""

    weight: dict = field(hash=False)
    activation: dict = field(hash=False)
    note: str = ""


#: every named start
STARTS: dict[str, Start] = {
    "hgq_fpga-0.1": Start({"init_bits": 6, "f_init": 6.0, "round_mode": "TRN"}, {"f_init": 6.0},
                          "the defaults of hgq_fpga 0.1: 6 significant bits per weight, 6 fractional bits per activation"),
    "bench-0.1": Start({"init_bits": 4, "f_init": 6.0, "round_mode": "RND"}, {"f_init": 4.0},
                       "the benchmark studies' start before issue 34: 4 significant bits per weight, 4 fractional bits "
                       "per activation"),
    "hgq2-0.2": Start({"init_bits": None, "f_init": 6.0, "round_mode": "RND"}, {"f_init": 6.0},
                      "the widths of HGQ2 0.2.0's start: 6 fractional bits for every weight and every activation"),
    "hgq_fpga-0.2": Start({"init_bits": None, "f_init": 3.0, "round_mode": "RND"}, {"f_init": 6.0},
                          "3 fractional bits for every weight, rounded to nearest, 6 for every activation: chosen by "
                          "issue 34's study of the MLP on validation data (BENCHMARKS.md, \"The training defaults\"); "
                          "the MLP/CNN bench recipe"),
    "hgq_fpga-0.3": Start({"init_bits": None, "f_init": 6.0, "round_mode": "RND"}, {"f_init": 6.0},
                          "6 fractional bits for every weight, rounded to nearest, and for every activation: the start "
                          "that trained all four particle architectures (their validation data), where 3 fractional "
                          "bits per weight left the interaction network near chance"),
}
#: the start of every layer built outside :func:`quantizer_start`
DEFAULT_START = "hgq_fpga-0.3"

_ACTIVE: contextvars.ContextVar[str | None] = contextvars.ContextVar("hgq_fpga_quantizer_start", default=None)


def get_start(name: str) -> Start:
    """The start called ``name``; a clear error naming the known ones otherwise."""
    try:
        return STARTS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown quantizer start {name!r}; known: {', '.join(STARTS)}") from None


def start_options(kind: str, name: str | None = None) -> dict:
    """The starting options of a ``kind`` (``"weight"`` or ``"activation"``) quantizer under the
    start ``name`` (default: the one :func:`quantizer_start` put in force, else :data:`DEFAULT_START`)."""
    start = get_start(name or _ACTIVE.get() or DEFAULT_START)
    if kind not in ("weight", "activation"):
        raise ValueError(f"kind must be 'weight' or 'activation', got {kind!r}")
    return dict(start.weight if kind == "weight" else start.activation)


@contextlib.contextmanager
def quantizer_start(name: str) -> Iterator[Start]:
    """Build layers inside this block with the start ``name`` (see the module docstring)."""
    start = get_start(name)
    token = _ACTIVE.set(name)
    try:
        yield start
    finally:
        _ACTIVE.reset(token)

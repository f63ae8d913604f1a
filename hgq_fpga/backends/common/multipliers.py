"""How a backend builds the products of two variables (attention scores, pair products, HMultiply):
one list of choices and one check for every backend and the CLI's ``--multipliers``."""

from __future__ import annotations

#: the tool's choice, DSP blocks, or LUTs (fabric)
MULTIPLIERS = ("auto", "dsp", "lut")


def check_multipliers(multipliers: str) -> str:
    """``multipliers`` if it is one of :data:`MULTIPLIERS`; a ValueError naming it otherwise."""
    if multipliers not in MULTIPLIERS:
        raise ValueError(f"multipliers must be one of {', '.join(MULTIPLIERS)}, got {multipliers!r}")
    return multipliers

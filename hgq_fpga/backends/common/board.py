"""FPGA boards: the part, clock and resource counts that projects and reports need.

Boards live as one YAML file each in the ``hgq_fpga.boards`` package data (``boards/`` in the
source tree). A user may also pass the path of their own YAML file with the same fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from hgq_fpga.fixed import plain

REQUIRED_FIELDS = ("part", "family", "clock_period_ns", "clock_uncertainty", "resources")
RESOURCE_KINDS = ("LUT", "FF", "DSP", "BRAM_18K")


class UnknownBoardError(ValueError):
    """Raised for a board name that is neither built in nor a readable YAML file."""


@dataclass(frozen=True)
class Board:
    """One target board: the FPGA part, default timing and available resources."""

    name: str
    part: str
    family: str
    clock_period_ns: float
    clock_uncertainty: str
    resources: dict[str, int]
    description: str = ""
    aliases: tuple[str, ...] = field(default=())
    #: Yosys ``synth_xilinx -family`` of the part (``xcup``, ``xcu``, ``xc7``); "" if not given
    yosys_family: str = ""

    def utilisation(self, used: dict[str, float]) -> dict[str, float]:
        """Fraction of each available resource that ``used`` takes (only kinds the board lists)."""
        return {kind: used[kind] / self.resources[kind]
                for kind in used if kind in self.resources and self.resources[kind]}


def _builtin_files() -> dict[str, Path]:
    folder = resources.files("hgq_fpga.boards")
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


def _parse(path: Path, fallback_name: str) -> Board:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise UnknownBoardError(f"board file {path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise UnknownBoardError(f"board file {path} must hold a mapping of fields")
    missing = [key for key in REQUIRED_FIELDS if key not in data]
    if missing:
        raise UnknownBoardError(f"board file {path} lacks field(s): {', '.join(missing)}")
    res = data["resources"]
    if not isinstance(res, dict) or any(kind not in res for kind in RESOURCE_KINDS):
        raise UnknownBoardError(f"board file {path}: 'resources' must give {', '.join(RESOURCE_KINDS)}")
    return Board(
        name=str(data.get("name", fallback_name)),
        part=str(data["part"]),
        family=str(data["family"]),
        clock_period_ns=float(data["clock_period_ns"]),
        clock_uncertainty=str(data["clock_uncertainty"]),
        resources={str(k): int(v) for k, v in res.items()},
        description=str(data.get("description", "")),
        aliases=tuple(str(a) for a in data.get("aliases", ()) or ()),
        yosys_family=str(data.get("yosys_family", "")),
    )


def known_boards() -> dict[str, Board]:
    """Every built-in board, by canonical name."""
    return {name: _parse(path, name) for name, path in sorted(_builtin_files().items())}


def load_board(name_or_path: str | Path) -> Board:
    """Return a built-in board by name or alias (case-insensitive), or a user's YAML file.

    Raises :class:`UnknownBoardError` listing the known boards when nothing matches.
    """
    text = str(name_or_path)
    candidate = Path(text).expanduser()
    if text.endswith((".yaml", ".yml")) or candidate.is_file():
        if not candidate.is_file():
            raise UnknownBoardError(f"board file {candidate} does not exist")
        return _parse(candidate, candidate.stem)
    wanted = text.strip().lower()
    for name, board in known_boards().items():
        if wanted == name or wanted in (a.lower() for a in board.aliases) or wanted == board.part.lower():
            return board
    listing = ", ".join(known_boards())
    raise UnknownBoardError(f"unknown board {text!r}; known boards: {listing} "
                            "(or give the path of a YAML file with the same fields)")


def check_clock_period(period, option: str = "clock period") -> float:
    """``period`` as a float number of ns; a clear error unless it is positive and finite.
    ``option`` is how the caller's user spells it (``--clock``, ``clock_period``)."""
    try:
        value = float(period)
    except (TypeError, ValueError):
        raise ValueError(f"{option} must be a clock period in ns, got {plain(period)!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{option} must be a positive, finite clock period in ns, got {value!r}")
    return value


def clock_period(board: Board, period: float | None = None, option: str = "clock_period") -> float:
    """The clock period in ns: ``period`` if given, else the board's (checked as :func:`check_clock_period`)."""
    return check_clock_period(board.clock_period_ns if period is None else period, option)

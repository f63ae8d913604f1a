"""Read input samples from a user's file (``.npy``, ``.npz`` or ``.csv``) with clear errors.

The command line takes calibration and verification data as files. Whatever is wrong with such a
file (missing, wrong array name, text in a numeric column, NaN, the wrong number of features) is
reported as one :class:`DataError` sentence that names the file and the problem, because the user
has to fix the file, not the program.
"""

from __future__ import annotations

import csv
import math
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from hgq_fpga.fixed import exact_float64

SUFFIXES = (".npy", ".npz", ".csv")


class DataError(ValueError):
    """The data file is missing, unreadable or does not fit the model; the message says which."""


def npz_arrays(path: str | Path) -> list[str]:
    """The array names of an ``.npz`` file, in order; empty for anything else."""
    if Path(path).suffix.lower() != ".npz":
        return []
    try:
        with np.load(path, allow_pickle=False) as z:
            return list(z.files)
    except (zipfile.BadZipFile, OSError, ValueError, TypeError):
        return []


def _from_npz(path: Path, array: str | None, option: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as z:
            names = list(z.files)
            if not names:
                raise DataError(f"{path} holds no arrays")
            if array is None:
                if len(names) > 1:
                    raise DataError(f"{path} holds {len(names)} arrays ({', '.join(names)}); choose one "
                                    f"with {option} NAME")
                array = names[0]
            if array not in names:
                raise DataError(f"{path} has no array {array!r}; available: {', '.join(names)}")
            return z[array]
    except DataError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise DataError(f"{path} is not a readable .npz file of numeric arrays ({err})") from None


def _from_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise DataError(f"{path} is not a readable .npy array of numbers ({err})") from None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _inexact_integer(text: str) -> bool:
    """Whether ``text`` is an integer that float64 does not hold exactly (beyond 2**53), as the
    ``.npy`` reader refuses such integers too."""
    try:
        n = int(text)
    except ValueError:
        return False
    try:
        return float(n) != n
    except OverflowError:
        return True


def _from_csv(path: Path) -> np.ndarray:
    """The numbers of a CSV file; a first line with no number in it is a header, anything else that
    does not parse is an error naming the line and column (never a silently dropped row)."""
    with path.open(newline="") as handle:
        rows = [(n, row) for n, row in enumerate(csv.reader(handle), start=1)
                if row and any(cell.strip() for cell in row)]
    if rows and all(_number(cell) is None for cell in rows[0][1]):
        rows = rows[1:]  # a header line
    if not rows:
        raise DataError(f"{path} holds no data rows")
    width = len(rows[0][1])
    values = []
    for line, row in rows:
        if len(row) != width:
            raise DataError(f"{path} line {line} has {len(row)} values, the first data line has {width}")
        numbers = [_number(cell) for cell in row]
        for column, (cell, number) in enumerate(zip(row, numbers), start=1):
            if number is None:
                raise DataError(f"{path} line {line}, column {column}: {cell.strip()!r} is not a number")
            if _inexact_integer(cell):
                raise DataError(f"{path} line {line}, column {column}: the integer {cell.strip()} is beyond "
                                "float64's exact range (2**53); inputs are read as float64")
        values.append(numbers)
    return np.asarray(values, dtype=np.float64)


def _as_float64(raw: np.ndarray, path: Path) -> np.ndarray:
    """``raw`` as float64, refusing every dtype whose values float64 would not hold exactly."""
    try:
        return exact_float64(raw, str(path))
    except ValueError as err:
        raise DataError(str(err)) from None


def load_array(path: str | Path, array: str | None = None, option: str = "--array") -> np.ndarray:
    """The samples in ``path`` as a float64 array; ``array`` picks one array of an ``.npz`` file.

    Raises :class:`DataError` for a missing file, an unknown format, a wrong or missing array name
    (listing the available ones), non-numeric values, NaN or infinite values, or an empty array.
    ``option`` is how the user picks an array (``--check-array``), for the messages.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    if not path.is_file():
        raise DataError(f"data file {path} is a folder, not a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(f"data file {path}: unsupported format {suffix or '(no suffix)'!r}; use "
                        f"{', '.join(SUFFIXES)}")
    if array is not None and suffix != ".npz":
        raise DataError(f"{option} {array} only applies to .npz files, and {path} is a {suffix} file")
    raw = {".npy": _from_npy, ".csv": _from_csv}.get(suffix, lambda p: _from_npz(p, array, option))(path)
    data = _as_float64(raw, path)
    if data.ndim == 0 or data.size == 0:
        raise DataError(f"{path} holds no samples (array shape {data.shape})")
    for bad, what in ((np.isnan(data), "NaN"), (np.isinf(data), "infinite")):
        if bad.any():
            first = np.unravel_index(int(np.argmax(bad)), data.shape)
            raise DataError(f"{path} contains {int(bad.sum())} {what} value(s), the first at sample "
                            f"{first[0]}; remove or replace them")
    return data


def fit_to_input(data: np.ndarray, shape: Sequence[int], source: str | Path) -> np.ndarray:
    """``data`` as ``(samples, *shape)`` for a model input of per-sample ``shape``.

    Flat rows (as in a CSV file) are reshaped when their length is the input's size; anything else
    raises :class:`DataError` naming the expected and the found feature counts.
    """
    shape = tuple(int(s) for s in shape)
    size = math.prod(shape)
    if data.shape[1:] == shape:
        return data
    if data.ndim == 1:
        raise DataError(f"{source} is one-dimensional (shape {data.shape}); the model expects "
                        f"samples of shape {shape}, i.e. an array (samples, {', '.join(map(str, shape))})")
    if data.ndim == 2 and data.shape[1] == size:
        return data.reshape((len(data), *shape))
    got = math.prod(data.shape[1:])
    if len(shape) == 1 and data.ndim == 2:
        raise DataError(f"{source} has {got} features per sample, the model expects {size}")
    raise DataError(f"{source} has samples of shape {data.shape[1:]} ({got} values), the model expects "
                    f"shape {shape} ({size} values)")

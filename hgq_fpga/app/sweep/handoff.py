"""From a trained checkpoint to firmware: the path and the ``hgq-fpga convert`` command to print.

A sweep or a training run ends with a chosen checkpoint; what a user does next is convert it. The
command is printed so that it works when pasted into the shell the user ran the training from:
paths relative to the working folder where they lie below it (else absolute), every word
shell-quoted, calibrated on the spec's training inputs and checked, with labels, on its test split
when the data file has one.
"""

from __future__ import annotations

import os
from pathlib import Path
from shlex import join

#: the arrays of a spec's data file that the convert command reads
CALIBRATION_ARRAY = "x_train"
TEST_ARRAYS = ("x_test", "y_test")


def shown_path(path: str | Path) -> str:
    """``path`` as a user types it from the working folder: relative below it, absolute elsewhere."""
    path = Path(path)
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        return os.path.normpath(absolute.relative_to(Path.cwd()))
    except ValueError:
        return os.path.normpath(absolute)


def has_test_split(data: Path) -> bool:
    """Whether the spec's ``.npz`` data file holds a labelled test split (``x_test``, ``y_test``)."""
    import numpy as np

    try:
        with np.load(data, allow_pickle=False) as z:
            return all(name in z.files for name in TEST_ARRAYS)
    except (OSError, ValueError):
        return False


def firmware_folder(out: str | Path) -> Path:
    """Where the suggested design folder goes: beside ``out`` (``build/sweep`` -> ``build/sweep-firmware``)."""
    out = Path(os.path.normpath(out))
    return out.with_name(f"{out.name}-firmware") if out.name not in ("", ".", "..") else Path("firmware")


def convert_command(checkpoint: str | Path, data: str | Path, out: str | Path,
                    ii: int | dict | None = None) -> str:
    """The ``hgq-fpga convert`` command for ``checkpoint``, calibrated on ``data``'s training inputs
    (and verified on its test split, with labels, where it has one), written to ``out``; at the II
    the model was trained for (the spec's ``ii``) where that is one number above 1."""
    words = ["hgq-fpga", "convert", shown_path(checkpoint), "--calib", shown_path(data), "--array", CALIBRATION_ARRAY]
    if has_test_split(Path(data)):
        words += ["--check", shown_path(data), "--check-array", TEST_ARRAYS[0], "--check-labels", TEST_ARRAYS[1]]
    if isinstance(ii, int) and ii > 1:
        words += ["--ii", str(ii)]
    return join(words + ["--out", shown_path(out)])


def next_steps(checkpoint: str | Path, run, out: str | Path) -> list[str]:
    """What to print after a training or a sweep chose ``checkpoint`` of ``run`` (a
    :class:`~hgq_fpga.app.sweep.spec.RunSpec`) in ``out``: the convert command, at the II the run
    was trained for, and, for an II per layer, which the command line cannot give, how to build it."""
    ii = run.settings.get("ii")
    lines = ["next: " + convert_command(checkpoint, run.path("data"), firmware_folder(out), ii)]
    if isinstance(ii, dict):
        lines.append(f"trained for an II per layer ({', '.join(f'{k}: {v}' for k, v in ii.items())}): the "
                     "command line builds one II for every layer; write_project(fw, folder, ii={...}) builds these")
    return lines

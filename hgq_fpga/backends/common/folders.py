"""Put a freshly written output folder into place in one step, so no reader ever sees half of it.

Writers build into a hidden sibling folder (same file system) and call :func:`move_into_place`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def move_into_place(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``; an existing ``out`` is swapped out first and then deleted.

    If the final rename fails, the earlier ``out`` is put back, so a failure never loses it.
    """
    retired = None
    if out.exists():
        retired = out.with_name(f".{out.name}.replaced-{os.getpid()}")
        os.replace(out, retired)
    try:
        os.replace(staging, out)
    except OSError:
        if retired is not None:
            os.replace(retired, out)  # put the earlier result back
        raise
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)

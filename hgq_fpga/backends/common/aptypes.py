"""Bundle the ``ap_types`` headers that generated C++ includes, with their licence.

Every project that compiles ``ap_fixed`` code (the HLS project, the exported emulator library)
carries this copy, so that it builds with nothing but a C++ compiler.

The headers (``ap_fixed.h`` and what it includes; Copyright Xilinx, Apache-2.0) ship in the
``hls4ml`` package, which :func:`hgq_fpga.backends.common.toolchain.find_ap_types_include` locates.  Only the
include closure of ``ap_fixed.h`` is copied: every header reached through ``#include`` lines that
exists in that folder (system headers, and optional ones the folder lacks such as ``hls_half.h``,
are left to the compiler).  Each copied header must state the Apache-2.0 licence, and the licence
text is taken from hls4ml's distribution metadata after checking that it is Apache-2.0; anything
else raises :class:`LicenceError` rather than bundle code under unknown terms.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path

from hgq_fpga.backends.common.toolchain import find_ap_types_include

#: The headers the generated C++ includes directly.
ROOTS = ("ap_fixed.h",)

#: The licence statement every bundled header must carry.
HEADER_LICENCE = "Licensed under the Apache License, Version 2.0"

_INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.MULTILINE)


class LicenceError(RuntimeError):
    """A header or the licence file is not what the bundle may redistribute."""


def include_closure(folder: Path, roots: tuple[str, ...] = ROOTS) -> list[str]:
    """Relative paths (sorted) of ``roots`` and every header of ``folder`` they include."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        rel = todo.pop()
        if rel in seen or not (folder / rel).is_file():
            continue
        seen.add(rel)
        todo += _INCLUDE.findall((folder / rel).read_text(errors="replace"))
    missing = [r for r in roots if r not in seen]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not found in {folder}")
    return sorted(seen)


def apache_licence_text() -> str:
    """The Apache-2.0 licence text shipped with hls4ml (checked to be Apache-2.0)."""
    try:
        files = metadata.distribution("hls4ml").files or []
    except metadata.PackageNotFoundError:
        raise LicenceError("hls4ml is not installed; its ap_types headers and licence are needed "
                           "(`pip install hls4ml==1.3.0`)") from None
    for f in files:
        if f.name.upper().startswith("LICENSE"):
            text = Path(f.locate()).read_text(errors="replace")
            if "Apache License" in text[:200] and "Version 2.0" in text[:300]:
                return text
            raise LicenceError(f"hls4ml's licence file {f} is not the Apache License 2.0; "
                               "refusing to bundle the ap_types headers under unknown terms")
    raise LicenceError("hls4ml's distribution has no LICENSE file; refusing to bundle the "
                       "ap_types headers without their licence")


def copy_ap_types(dest: Path) -> list[str]:
    """Copy the needed headers into ``dest`` (plus ``LICENSE``); returns their relative paths."""
    src = find_ap_types_include()
    headers = include_closure(src)
    for rel in headers:
        text = (src / rel).read_text(errors="replace")
        if HEADER_LICENCE not in text[:2000]:
            raise LicenceError(f"{src / rel} does not state the Apache-2.0 licence; refusing to "
                               "bundle it")
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    (dest / "LICENSE").write_text(apache_licence_text())
    (dest / "ORIGIN.txt").write_text(
        f"Copied unmodified from the hls4ml {metadata.version('hls4ml')} package "
        "(hls4ml/templates/vivado/ap_types): the headers ap_fixed.h includes.\n"
        "Copyright Xilinx, Inc.; Apache License 2.0, see LICENSE.\n")
    return headers

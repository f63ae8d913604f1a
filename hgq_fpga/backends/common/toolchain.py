"""Locate the C++ toolchain that the bit-exactness checks and the C simulation need.

Two things are needed to compile ``ap_fixed`` code: a C++ compiler and the ``ap_types`` headers.
The headers ship inside the ``hls4ml`` pip package (Apache-2.0); they are found there at run time and
never copied into this repository. :func:`hgq_fpga.backends.common.aptypes.copy_ap_types` puts a
copy, with its licence, into a generated project, so that it compiles on a machine without Python. ``hls4ml`` is *not* imported, because importing it is slow and
pulls in heavy dependencies; only its install location is looked up.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

__all__ = ["ToolchainError", "find_ap_types_include", "find_compiler"]

#: Where the headers sit inside the hls4ml package.
_AP_TYPES_SUBDIR = Path("templates") / "vivado" / "ap_types"
_HLS4ML_HINT = "`pip install hls4ml==1.3.0`"


class ToolchainError(RuntimeError):
    """A compiler or header needed for C++ work is missing; the message says what to install."""


def find_ap_types_include() -> Path:
    """Return the ``ap_types`` folder (the one holding ``ap_fixed.h``) of the installed hls4ml.

    Use it as ``-I<path>`` when compiling. Raises :class:`ToolchainError` if hls4ml is not
    installed or its copy has no ``ap_fixed.h``.
    """
    try:
        spec = importlib.util.find_spec("hls4ml")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ToolchainError(f"ap_fixed.h not found: hls4ml is not installed; {_HLS4ML_HINT}")
    searched = []
    for location in spec.submodule_search_locations:
        candidate = Path(location) / _AP_TYPES_SUBDIR
        searched.append(str(candidate))
        if (candidate / "ap_fixed.h").is_file():
            return candidate
    raise ToolchainError(f"ap_fixed.h not found in {', '.join(searched)}: reinstall with "
                         f"{_HLS4ML_HINT}")


def find_compiler() -> str:
    """Return the path of the C++ compiler: ``$CXX`` if set, else ``g++`` from ``PATH``.

    Raises :class:`ToolchainError` if ``$CXX`` names no executable or ``g++`` is absent.
    """
    cxx = os.environ.get("CXX", "").strip()
    if cxx:
        found = shutil.which(cxx)
        if found is None:
            raise ToolchainError(f"CXX={cxx!r} is not an executable on PATH: fix CXX, or unset it "
                                 "and install g++ with `apt-get install g++`")
        return found
    found = shutil.which("g++")
    if found is None:
        raise ToolchainError("g++ not found on PATH: install it with `apt-get install g++` or set CXX")
    return found


def _main(argv: list[str]) -> int:
    """``python -m hgq_fpga.backends.common.toolchain ap-types|compiler``: print a path (used by generated
    Makefiles), or the problem and its fix on stderr."""
    import sys
    what = {"ap-types": find_ap_types_include, "compiler": find_compiler}
    if len(argv) != 1 or argv[0] not in what:
        print(f"usage: python -m hgq_fpga.backends.common.toolchain {{{'|'.join(what)}}}", file=sys.stderr)
        return 2
    try:
        print(what[argv[0]]())
    except ToolchainError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(_main(sys.argv[1:]))

"""Locate the C++ toolchain that the bit-exactness checks and the C simulation need.

Two things are needed to compile ``ap_fixed`` code: a C++ compiler and the ``ap_types`` headers.
The headers ship inside the ``hls4ml`` pip package (Apache-2.0); they are found there at run time and
never copied into this repository. :func:`copy_ap_types` puts a copy, with its licence, into a
generated project, so that the project compiles on a machine without Python. ``hls4ml`` is *not* imported, because importing it is slow and
pulls in heavy dependencies; only its install location is looked up.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

__all__ = ["ToolchainError", "copy_ap_types", "find_ap_types_include", "find_compiler"]

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


#: what a project's ``ap_types/`` copy holds: every header ``ap_fixed.h`` and ``ap_int.h`` include
AP_TYPES_FILES = ("ap_common.h", "ap_decl.h", "ap_fixed.h", "ap_fixed_base.h", "ap_fixed_ref.h",
                  "ap_fixed_special.h", "ap_int.h", "ap_int_base.h", "ap_int_ref.h", "ap_int_special.h",
                  "etc/ap_private.h")


def _hls4ml_licence() -> str:
    from importlib import metadata

    dist = metadata.distribution("hls4ml")
    for f in dist.files or ():
        if str(f).endswith("dist-info/licenses/LICENSE") or str(f).endswith("dist-info/LICENSE"):
            return Path(dist.locate_file(f)).read_text()
    raise ToolchainError(f"the installed hls4ml carries no LICENSE file; reinstall with {_HLS4ML_HINT}")


def copy_ap_types(dest: str | Path) -> Path:
    """Copy the ``ap_types`` headers that ``ap_fixed.h`` needs, and their licence, into ``dest``.

    A generated project carries this copy so that ``make csim`` runs with nothing but g++
    (``-Iap_types``). The headers are Xilinx's, Apache-2.0, as distributed with hls4ml;
    ``dest/LICENSE`` is that licence and ``dest/README.md`` says where the copy came from.
    """
    source = find_ap_types_include()
    dest = Path(dest)
    for rel in AP_TYPES_FILES:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target)
    (dest / "LICENSE").write_text(_hls4ml_licence())
    from importlib import metadata

    (dest / "README.md").write_text(
        "# ap_types\n\nThe arbitrary-precision `ap_fixed` / `ap_int` C++ headers (Copyright Xilinx, Inc., "
        "Apache License 2.0, see `LICENSE`), copied unchanged from the hls4ml "
        f"{metadata.version('hls4ml')} package so that `make csim` needs only a C++ compiler. "
        "Vitis HLS uses its own copy of these headers, not this one.\n")
    return dest


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

"""The argument parser of the ``python -m ...`` entry points, in the ``hgq-fpga`` command's style.

click (the ``hgq-fpga`` command) prints a usage error as ``Error: ...``; :mod:`argparse` prints
``PROG: error: ...``. :class:`ArgumentParser` prints the usage and then ``Error: ...``, so that every
command of the package (the demo, the synthesis drivers, the benchmarks, the examples) speaks in
one style; :func:`error_line` formats the one line a failed run prints.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn


def error_line(message: object) -> str:
    """``Error: <message>``: the line a command prints on standard error when it fails."""
    return f"Error: {message}"


class ArgumentParser(argparse.ArgumentParser):
    """:class:`argparse.ArgumentParser` whose usage errors read ``Error: ...`` as click's do."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, error_line(message) + "\n")

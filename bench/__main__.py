"""``python -m bench [--quick] [--out DIR]``: run every benchmark and write BENCHMARKS.md.

By default the record goes to ``bench/results.json``, the plots to ``bench/*.png`` and the document
to ``BENCHMARKS.md`` at the repository root; ``--out DIR`` puts all three in ``DIR`` instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hgq_fpga.argparsing import ArgumentParser, error_line

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m bench", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="MLP only, training subset, fewer epochs/widths/models: under 10 minutes on 2 cores")
    parser.add_argument("--out", type=Path, default=None,
                        help="write results.json, the plots and BENCHMARKS.md here instead")
    args = parser.parse_args(argv)

    from .config import preset
    from .data import DatasetMissingError
    from .report import DEFAULT_MARKDOWN, DEFAULT_RESULTS
    from .suite import run_suite

    if args.out is not None:
        results_path, markdown, plot_dir = args.out / "results.json", args.out / "BENCHMARKS.md", args.out
    else:
        results_path, markdown, plot_dir = DEFAULT_RESULTS, DEFAULT_MARKDOWN, DEFAULT_RESULTS.parent
    command = "python -m bench" + (" --quick" if args.quick else "")
    try:
        run_suite(preset("quick" if args.quick else "full"), results_path, markdown, plot_dir, command)
    except DatasetMissingError as exc:
        print(error_line(exc), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

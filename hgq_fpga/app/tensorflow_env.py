"""TensorFlow's start-up lines kept off the terminal, with its numerics unchanged.

Importing TensorFlow 2.21 prints, before any command output::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 ... port.cc:153] oneDNN custom operations are on. You may see slightly different ...

and prints them **twice**: two of TensorFlow's shared libraries (the core, loaded by
``tensorflow.python.platform``, and the profiler plugin, ``_pywrap_profiler_plugin.so``, loaded later
in ``import tensorflow``) each carry their own copy of the logging library, and each copy logs the
oneDNN notice from a static initializer before anything could configure it. Such early lines ignore
``TF_CPP_MIN_LOG_LEVEL`` (which still hides TensorFlow's later INFO and WARNING lines, such as the
CPU-feature notice, and is set here). The only switch that stops the notice is
``TF_ENABLE_ONEDNN_OPTS=0``, and it also turns oneDNN's kernels off, which changes float32 training
results in the last bits (the notice says so itself): a model trained by ``hgq-fpga train`` would no
longer match the same script run in the user's own Python. So oneDNN stays as TensorFlow sets it, and
:func:`prepare` instead filters these known lines out of what the import writes to standard error;
every other line (a real error or warning) is passed on unchanged, after the import.

The entry points (:mod:`hgq_fpga.app.cli`, :mod:`hgq_fpga.app.demo`) call :func:`prepare` once,
before anything imports TensorFlow; TensorFlow itself is still imported only by the commands that
need it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

#: start-up lines of TensorFlow's C++ side that say nothing a user can act on
NOISE = (re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
         re.compile(r"^I\d{4} [\d:.]+ +\d+ port\.cc:\d+\] oneDNN custom operations are on\."),
         re.compile(r"^I\d{4} [\d:.]+ +\d+ cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized"),
         re.compile(r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$"))


def is_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's start-up notices (:data:`NOISE`)."""
    return any(pattern.search(line) for pattern in NOISE)


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of ``tensorflow`` with file descriptor 2 captured, then writes back every
    line but the notices."""

    def __init__(self, loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self.loader.exec_module(module)
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                captured.seek(0)
                kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                        if not is_noise(line.rstrip("\n"))]
                if kept:
                    sys.stderr.write("".join(kept))
                    sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the other finders do, with its loader wrapped in :class:`_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)          # once: the real finders answer from here on
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def prepare() -> None:
    """Set ``TF_CPP_MIN_LOG_LEVEL=2`` (unless the user set it) and filter TensorFlow's start-up
    notices out of its import; oneDNN and every numeric setting stay as TensorFlow has them. Call it
    before TensorFlow is imported; a second call does nothing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietTensorFlow())

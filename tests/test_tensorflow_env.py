"""TensorFlow's start-up notices stay off the terminal of every entry point, oneDNN untouched (issue 35).

Importing TensorFlow 2.21 printed the absl pre-initialisation warning and the oneDNN notice twice
before every command (two shared libraries, each with its own copy of the logging library).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

NOTICES = ["WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
           "I0000 00:00:1796423874.482497    6893 port.cc:153] oneDNN custom operations are on. You may see "
           "slightly different numerical results due to floating-point round-off errors.",
           "I0000 00:00:1796423874.779948    6893 cpu_feature_guard.cc:227] This TensorFlow binary is optimized "
           "to use available CPU instructions in performance-critical operations.",
           "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
           "appropriate compiler flags."]


def _run(code: str, pythonpath: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**(env or os.environ), "PYTHONPATH": pythonpath})


@pytest.mark.parametrize("entry", ["hgq_fpga.app.cli", "hgq_fpga.app.demo"])
def test_notices_are_filtered_and_other_lines_kept(tmp_path, entry):
    """A stand-in ``tensorflow`` writes the notices and a real line to file descriptor 2 (as the C++
    side does): after the entry point is imported, only the real line reaches standard error."""
    fake = tmp_path / "tensorflow"
    fake.mkdir()
    lines = "".join(f"{line}\\n" for line in [*NOTICES, "E0000 a real error line", *NOTICES[:2]])
    (fake / "__init__.py").write_text(textwrap.dedent(f"""
        import os
        os.write(2, {lines!r}.encode().decode("unicode_escape").encode())
        LOADED = True
    """))
    code = f"import {entry}, tensorflow, sys; print(tensorflow.LOADED, file=sys.stderr)"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = _run(code, f"{tmp_path}{os.pathsep}{REPO}", env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["E0000 a real error line", "True"]


def test_real_tensorflow_starts_silently_with_onednn_as_it_was():
    code = ("import os, sys, hgq_fpga.app.cli; import keras, tensorflow as tf; "
            "print('onednn env:', os.environ.get('TF_ENABLE_ONEDNN_OPTS'), "
            "'log level:', os.environ.get('TF_CPP_MIN_LOG_LEVEL'))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    proc = _run(code, str(REPO), env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "onednn env: None log level: 2"
    assert "oneDNN" not in proc.stderr and "absl::InitializeLog" not in proc.stderr, proc.stderr

"""hgq_fpga on each Keras backend: TensorFlow and JAX train, calibrate, freeze and stay bit-exact
(``tests/backend_user_path.py``); any other backend is refused when ``hgq_fpga.nn`` is imported.

The backend is fixed when Keras is imported, so JAX and the refused backend run in a subprocess.
JAX is the optional extra ``.[jax]``, which ``make test`` installs.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

HERE = Path(__file__).resolve().parent


def _run(backend: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_ENABLE_X64", "KERAS_BACKEND")}
    env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(HERE.parent))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=HERE)


@pytest.mark.slow   # the same TensorFlow paths are checked by test_user_paths.py and test_convert.py
def test_tensorflow_user_path_is_exact(capsys):
    assert keras.backend.backend() == "tensorflow"
    sys.path.insert(0, str(HERE))
    try:
        import backend_user_path
    finally:
        sys.path.remove(str(HERE))
    backend_user_path.main()
    assert capsys.readouterr().out.startswith("ok tensorflow: fit, calibrate")


def test_jax_user_path_is_exact():
    """Train an epoch under JAX, calibrate, freeze, Keras == emulator on x, 4x, ties and denormals
    (eager, predict, jit-compiled predict, after saving and loading); 64-bit types on."""
    assert importlib.util.find_spec("jax") is not None, \
        "JAX is missing: the tests need the extra, pip install -e '.[dev,jax]' (make test does)"
    result = _run("jax", str(HERE / "backend_user_path.py"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1].startswith("ok jax: fit, calibrate"), result.stdout


def test_another_backend_is_refused_at_import_in_one_line():
    result = _run("numpy", "-c", "import hgq_fpga.nn")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == ("ImportError: hgq_fpga.nn runs on KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax; "
                    "Keras is running on 'numpy' (set KERAS_BACKEND before Python starts)")

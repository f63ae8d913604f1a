"""The benchmark-only venvs (bench/common/side_venv.py): several workers asking at once create one venv once."""

from __future__ import annotations

import threading
import time

from bench.common import side_venv


def test_concurrent_callers_create_the_venv_once(tmp_path, monkeypatch):
    made = []

    def ready(python, probe):
        return bool(made)

    def create(path, python, packages, probe, base_python):
        time.sleep(0.3)                      # long enough for the other callers to queue up
        made.append(path)

    monkeypatch.setattr(side_venv, "venv_ready", ready)
    monkeypatch.setattr(side_venv, "_create", create)
    got = []
    threads = [threading.Thread(target=lambda: got.append(side_venv.ensure_venv(tmp_path / "v", ["x"], "p")))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [tmp_path / "v"]
    assert got == [tmp_path / "v" / "bin" / "python"] * 4

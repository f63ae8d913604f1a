"""The one backend interface: ``get_backend`` names hls, rtl and cpp; a fourth backend registered from
outside (a toy one here) goes through ``convert``, the design folder, ``verify`` and ``report`` with
no edit in ``app/``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.backends.registry import (Backend, Project, UnknownBackendError, backend_names, get_backend,
                                        register_backend, unregister_backend)
from hgq_fpga.ir.model import load_firmware
from test_cli import error_line, files, run  # noqa: F401  (files is a fixture)


class ToyProject:
    """A 'firmware' that is a text file of the IR's outputs for inputs it reads back: the emulator,
    run from the project folder's own copy of the IR (with an optional deliberate error)."""

    name = "Toy"

    def __init__(self, fw, path: Path) -> None:
        self.fw, self.path = fw, Path(path)
        self.info = json.loads((self.path / "toy.json").read_text())
        self.compiled = False

    def compile(self):
        self.compiled = True
        return self.path

    def predict(self, x):
        assert self.compiled, "predict before compile"
        y = np.array(load_firmware(self.path / "ir").predict(x))
        y[0].flat[0] += self.info["offset"]
        return y

    def synth(self, board=None):
        raise NotImplementedError("toys are not synthesized")

    def report(self):
        return None


class ToyBackend:
    name = "toy"
    description = "a toy backend for the registry test"
    synth_in_design = False

    def write_project(self, fw, out_dir, *, board="vu9p", name="myproject", clock_period=None, test_data=None,
                      replace=False, offset=0.0):
        out = Path(out_dir)
        fw.save(out / "ir")
        (out / "toy.json").write_text(json.dumps({"top": name, "board": str(board), "offset": offset}))
        return ToyProject(fw, out)

    def open_project(self, fw, path):
        return ToyProject(fw, path)

    def require_tools(self, synth=False):
        return None


@pytest.fixture
def toy():
    backend = register_backend(ToyBackend())
    yield backend
    unregister_backend("toy")


def test_builtin_backends_follow_the_protocol():
    assert backend_names()[:3] == ["hls", "rtl", "cpp"]
    for name in ("hls", "rtl", "cpp"):
        backend = get_backend(name)
        assert isinstance(backend, Backend) and backend.name == name
    with pytest.raises(UnknownBackendError, match="unknown backend 'vhdl'; choose from hls, rtl, cpp"):
        get_backend("vhdl")


def test_register_refuses_duplicates_and_non_backends(toy):
    with pytest.raises(ValueError, match="registered already"):
        register_backend(ToyBackend())
    with pytest.raises(ValueError, match="registered already"):
        register_backend(type("Fake", (ToyBackend,), {"name": "hls"})())
    with pytest.raises(TypeError, match="is not a backend"):
        register_backend(object())
    assert "toy" in backend_names()


def test_a_registered_backend_goes_through_convert_verify_and_report(toy, files):  # noqa: F811
    out = files / "toy_design"
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out,
                 "--backend", "hls,toy", "--name", "tiny")
    assert result.exit_code == 0, result.output
    assert "Keras = emulator = C++ = Toy on 200 samples" in result.output
    manifest = json.loads((out / "hgq_fpga.json").read_text())
    assert manifest["backends"]["toy"] == {"path": "toy", "top": "tiny", "board": "vu9p", "offset": 0.0}
    assert manifest["verification"]["emulator_vs"] == {"C++": 0, "Toy": 0}
    assert isinstance(get_backend("toy").open_project(load_firmware(out / "ir"), out / "toy"), Project)
    result = run("verify", out, "--data", files / "test.npz", "--array", "x")
    assert result.exit_code == 0 and "Keras = emulator = C++ = Toy (0 mismatches)" in result.output
    result = run("report", out, "--out", files / "toy_report")
    assert result.exit_code == 0, result.output
    # a project that differs is caught through the same path
    (out / "toy" / "toy.json").write_text(json.dumps({"top": "tiny", "board": "vu9p", "offset": 1.0}))
    result = run("verify", out, "--data", files / "test.npz", "--array", "x")
    assert "verification failed: 1 mismatching values" in error_line(result)


def test_unknown_backend_is_one_line(files):  # noqa: F811
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", files / "nope",
                 "--backend", "vhdl")
    assert "unknown backend vhdl; choose from hls, rtl, cpp, both" in result.output
    assert not (files / "nope").exists()

"""C simulation of generated HLS firmware equals the IR emulator bit for bit (zero tolerance)."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from hgq_fpga.fixed import OVERFLOW_MODES, ROUNDING_MODES
from hgq_fpga.hls.writer import write_project
from hgq_fpga.ir import FirmwareBuilder


def _mlp(rng, rnd, ovf, n_in=6):
    b = FirmwareBuilder()
    x = b.input("x", (n_in,), k=1, i=rng.integers(0, 3, n_in), f=rng.integers(0, 4, n_in))
    w = rng.integers(-20, 20, (n_in, 5))
    w[rng.random(w.shape) < 0.3] = 0
    h = b.dense(x, w, rng.integers(0, 5, (n_in, 5)), rng.integers(-9, 9, 5), 2)
    h = b.cast(h, 1, rng.integers(0, 3, 5), rng.integers(0, 4, 5), rnd, ovf)
    r = b.relu(h)
    h2 = b.dense(r, rng.integers(-9, 9, (5, 5)), 3)
    h2 = b.cast(h2, rng.integers(0, 2, 5), 2, 2, rnd, ovf)
    s = b.add(h2, b.cast(r, 1, 1, 3, rnd, ovf))
    s = b.reshape(s, (5,))
    out = b.cast(b.dense(s, rng.integers(-9, 9, (5, 3)), 2), 1, 3, 3, rnd, ovf)
    return b.build([out])


def _data(fw, rng):
    shape = fw.inputs[0].shape
    t = fw.inputs[0].type
    normal = rng.normal(0, 1.5, (200, *shape))
    over = normal * 4
    ties = (rng.integers(-64, 64, (200, *shape)) + 0.5) * 2.0 ** -t.f
    return [normal, over, ties]


@pytest.mark.parametrize("ovf", sorted(OVERFLOW_MODES))
def test_csim_equals_emulator(tmp_path, ovf):
    rng = np.random.default_rng(len(ovf))
    for n, rnd in enumerate(sorted(ROUNDING_MODES)):
        fw = _mlp(rng, rnd, ovf)
        prj = write_project(fw, tmp_path / f"p{n}", cache_dir=tmp_path / "cache")
        prj.compile()
        for x in _data(fw, rng):
            want = fw.run_raw(x, keep_all=False)[fw.outputs[0]]
            assert np.array_equal(prj.predict_raw(x), want)
            assert np.array_equal(prj.predict(x), fw.predict(x))


def test_project_files_and_make_csim(tmp_path):
    fw = _mlp(np.random.default_rng(1), "RND", "SAT")
    prj = write_project(fw, tmp_path / "prj", board="vu9p")
    tcl = (prj.path / "build_prj.tcl").read_text()
    assert "xcvu9p-flga2104-2L-e" in tcl
    for f in ("firmware/myproject.cpp", "firmware/myproject.h", "tb/myproject_test.cpp",
              "Makefile", "README.md", "tb/tb_data/tb_input.txt"):
        assert (prj.path / f).exists()
    cpp = (prj.path / "firmware/myproject.cpp").read_text()
    assert "PIPELINE II=1" in cpp and "ARRAY_PARTITION" in cpp
    r = subprocess.run(["make", "csim"], cwd=prj.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 mismatching" in r.stdout


def test_existing_dir_refused(tmp_path):
    fw = _mlp(np.random.default_rng(2), "TRN", "WRAP")
    d = tmp_path / "x"
    d.mkdir()
    (d / "keep").write_text("1")
    with pytest.raises(FileExistsError):
        write_project(fw, d)
    assert os.listdir(d) == ["keep"]


def test_failure_leaves_nothing(tmp_path, monkeypatch):
    fw = _mlp(np.random.default_rng(3), "TRN", "WRAP")
    import hgq_fpga.hls.writer as W

    def boom(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr(W, "render", boom)
    with pytest.raises(RuntimeError):
        write_project(fw, tmp_path / "p")
    assert list(tmp_path.iterdir()) == []


def test_missing_compiler(tmp_path, monkeypatch):
    from hgq_fpga.toolchain import ToolchainError
    fw = _mlp(np.random.default_rng(4), "TRN", "WRAP")
    prj = write_project(fw, tmp_path / "p", cache_dir=tmp_path / "c")
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setenv("CXX", "g++-does-not-exist")
    with pytest.raises(ToolchainError, match="g\\+\\+|compiler"):
        prj.compile()


def _conv_models(rng):
    out = []
    for rank, pad in ((1, "valid"), (1, "same"), (2, "valid"), (2, "same")):
        b = FirmwareBuilder()
        shape = (7,) * rank + (2,)
        x = b.input("x", shape, k=1, i=rng.integers(0, 3, shape), f=rng.integers(0, 4, shape))
        ks = (3,) * rank + (2, 3)
        h = b.conv(x, rng.integers(-20, 20, ks), rng.integers(0, 5, ks), rng.integers(-9, 9, 3), 2,
                   strides=2 if pad == "same" else 1, padding=pad)
        h = b.relu(b.cast(h, 1, rng.integers(1, 3, 3), rng.integers(1, 4, 3), "RND_CONV", "SAT"))
        h = b.maxpool(h, 2, padding=pad)
        h = b.dense(h, rng.integers(-9, 9, (3, 2)), 3)  # rank > 1 dense: per-position
        h = b.flatten(h)
        h = b.dense(h, rng.integers(-9, 9, (b.types[h].shape[0], 4)), 2)
        h = b.cast(h, 1, 3, 3, "RND", "WRAP")
        out.append(b.build([h]))
    return out


def test_conv_csim_equals_emulator(tmp_path):
    rng = np.random.default_rng(7)
    for n, fw in enumerate(_conv_models(rng)):
        prj = write_project(fw, tmp_path / f"c{n}", cache_dir=tmp_path / "cache")
        for x in _data(fw, rng):
            assert np.array_equal(prj.predict_raw(x), fw.run_raw(x, keep_all=False)[fw.outputs[0]])


def test_concatenate_csim_equals_emulator(tmp_path):
    rng = np.random.default_rng(11)
    for n, axis in enumerate((-1, 0)):
        b = FirmwareBuilder()
        x = b.input("x", (4, 3), k=1, i=rng.integers(0, 3, (4, 3)), f=rng.integers(0, 4, (4, 3)))
        a = b.cast(x, 1, 1, 2, "RND", "SAT")
        c = b.relu(x)
        h = b.flatten(b.concatenate([a, c], axis=axis))
        h = b.cast(b.dense(h, rng.integers(-9, 9, (24, 3)), 2), 1, 3, 3, "RND", "WRAP")
        fw = b.build([h])
        prj = write_project(fw, tmp_path / f"k{n}", cache_dir=tmp_path / "cache")
        for x in _data(fw, rng):
            assert np.array_equal(prj.predict_raw(x), fw.run_raw(x, keep_all=False)[fw.outputs[0]])


def test_table_csim_equals_emulator(tmp_path):
    rng = np.random.default_rng(13)
    b = FirmwareBuilder()
    x = b.input("x", (6,), k=1, i=rng.integers(0, 3, 6), f=rng.integers(0, 4, 6))
    h = b.cast(b.dense(x, rng.integers(-9, 9, (6, 5)), 2), 1, 2, rng.integers(1, 4, 5), "RND", "SAT")
    h = b.table(h, np.tanh, 1, 0, 5, "RND", "SAT")
    h = b.cast(b.dense(h, rng.integers(-9, 9, (5, 3)), 2), 1, 3, 3, "RND", "WRAP")
    fw = b.build([h])
    prj = write_project(fw, tmp_path / "t", cache_dir=tmp_path / "cache")
    for x in _data(fw, rng):
        assert np.array_equal(prj.predict_raw(x), fw.run_raw(x, keep_all=False)[fw.outputs[0]])

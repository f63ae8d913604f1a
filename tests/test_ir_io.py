"""IR persistence, reports, the TensorFlow-free guarantee, and input validation."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.ir import FirmwareBuilder, FormatError, load_firmware

REPO = Path(__file__).resolve().parents[1]


def small_model(seed=0):
    rng = np.random.default_rng(seed)
    b = FirmwareBuilder()
    x = b.input("x", (6, 2), k=1, i=rng.integers(0, 3, (6, 2)), f=rng.integers(1, 5, (6, 2)),
                round="RND", overflow="SAT")
    h = b.conv(x, rng.integers(-20, 20, (3, 2, 4)), rng.integers(0, 5, (3, 2, 4)),
               rng.integers(-9, 9, 4), 3, strides=1, padding="same")
    h = b.cast(h, 1, 2, 4, "RND_CONV", "WRAP")
    h = b.table(h, np.tanh, 1, 0, 5, "RND", "SAT", label="tanh")
    h = b.maxpool(h, 2)
    g = b.avgpool(b.relu(h), 2, strides=1, padding="same", k=0, i=1, f=6)
    g = b.maxpool(g, 2)
    h = b.concatenate([b.flatten(h), b.flatten(g)])
    h = b.dense(h, rng.integers(-30, 30, (b.types[h].shape[0], 3)), 5, [1, -2, 3], 2)
    h = b.cast(h, 1, 3, 3, "TRN", "SAT")
    return b.build([h]), rng


def test_save_load_round_trip(tmp_path):
    fw, rng = small_model()
    x = rng.normal(scale=3, size=(200, 6, 2))
    fw.save(tmp_path / "fw")
    fw2 = load_firmware(tmp_path / "fw")
    a, b = fw.predict(x, trace=True), fw2.predict(x, trace=True)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    for op1, op2 in zip(fw.ops, fw2.ops):
        assert type(op1) is type(op2) and op1.out.same_as(op2.out)
    # saving again over an existing directory replaces it atomically
    fw2.save(tmp_path / "fw")
    assert sorted(p.name for p in (tmp_path / "fw").iterdir()) == [".hgq_fpga-files.json", "arrays.npz", "model.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_unknown_version_is_clear(tmp_path):
    fw, _ = small_model()
    fw.save(tmp_path / "fw")
    j = tmp_path / "fw" / "model.json"
    doc = json.loads(j.read_text())
    doc["version"] = 999
    j.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match="version 999"):
        load_firmware(tmp_path / "fw")
    with pytest.raises(FormatError, match="model.json"):
        load_firmware(tmp_path / "nothing")
    doc["version"] = 1
    j.write_text(json.dumps(doc))
    (tmp_path / "fw" / "arrays.npz").unlink()
    with pytest.raises(FormatError, match="arrays.npz is missing"):
        load_firmware(tmp_path / "fw")


def test_predict_in_process_without_tensorflow(tmp_path):
    fw, rng = small_model()
    x = rng.normal(scale=3, size=(50, 6, 2))
    fw.save(tmp_path / "fw")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", fw.predict(x))
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from hgq_fpga.ir import load_firmware
        fw = load_firmware({str(tmp_path / 'fw')!r})
        y = fw.predict(np.load({str(tmp_path / 'x.npy')!r}))
        assert np.array_equal(y, np.load({str(tmp_path / 'y.npy')!r})), "mismatch"
        bad = [m for m in ("tensorflow", "keras") if m in sys.modules]
        assert not bad, bad
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_bad_inputs_are_clear():
    fw, _ = small_model()
    with pytest.raises(ValueError, match=r"expected shape \(batch, 6, 2\)"):
        fw.predict(np.zeros((3, 6, 3)))
    with pytest.raises(ValueError, match="without a batch axis"):
        fw.predict(np.zeros((6, 2)))
    x = np.zeros((3, 6, 2))
    x[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fw.predict(x)


def test_reports():
    fw, _ = small_model()
    wb = fw.weight_bits()
    assert set(wb) == {op.name for op in fw.ops if op.kind in ("dense", "conv")}
    for op in fw.ops:
        if op.name in wb:
            want = np.vectorize(lambda v: abs(int(v)).bit_length())(op.w_raw)
            assert np.array_equal(wb[op.name], want)
    ab = fw.activation_bits()
    assert np.array_equal(ab["x"], fw.inputs[0].type.width)
    r = fw.resources()
    dense = [o for o in r.ops if o.kind == "dense"][0]
    op = [o for o in fw.ops if o.kind == "dense"][0]
    xw = fw.types[op.inputs[0]].width
    assert dense.ebops == int((xw[:, None] * wb[op.name]).sum())
    assert dense.nonzero_weights == int(np.count_nonzero(op.w_raw))
    assert r.ebops == sum(o.ebops for o in r.ops)
    assert r.latency >= max(o.adder_levels for o in r.ops)
    assert "total" in str(r)


def test_graph_validation():
    b = FirmwareBuilder()
    x = b.input("x", (3,), 1, 2, 2)
    with pytest.raises(ValueError, match="unknown tensor"):
        b.relu("nope")
    with pytest.raises(ValueError, match="already used"):
        b.relu(x, name="x")
    with pytest.raises(ValueError, match="do not fit"):
        b.dense(x, np.ones((4, 2), np.int64), 0)
    with pytest.raises(ValueError, match="integer codes"):
        b.dense(x, np.ones((3, 2)) * 0.5, 0)


def test_more_bad_inputs_are_clear():
    fw, _ = small_model()
    x = np.zeros((4, 6, 2))
    x[2, 5, 1] = np.nan
    with pytest.raises(ValueError, match=r"'x' contains NaN \(first at sample 2\)"):
        fw.predict(x)
    x[2, 5, 1] = np.inf
    with pytest.raises(ValueError, match=r"contains inf \(first at sample 2\)"):
        fw.predict(x)
    b = FirmwareBuilder()
    s = b.add(b.input("a", (2,), 1, 2, 2), b.input("b", (2,), 1, 2, 2))
    two = b.build([s])
    with pytest.raises(ValueError, match=r"different numbers of samples: \{'a': 3, 'b': 2\}"):
        two.predict({"a": np.zeros((3, 2)), "b": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"inputs by name: missing b; the inputs are a, b$"):
        two.predict({"a": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"inputs by name: no input named 'B'; missing b; the inputs are a, b$"):
        two.predict({"a": np.zeros((3, 2)), "B": np.zeros((3, 2))})
    crossed = FirmwareBuilder()                   # quantizer 'a' reads model input 'b', and the other way round
    s = crossed.add(crossed.input("a", (2,), 1, 2, 2), crossed.input("b", (2,), 1, 2, 2))
    crossed = crossed.build([s])
    crossed.inputs = [dataclasses.replace(spec, source=src) for spec, src in zip(crossed.inputs, "ba")]
    with pytest.raises(ValueError, match=r"'a' names two inputs .* pass a list in the model's input order"):
        crossed.predict({"a": np.zeros((3, 2)), "b": np.ones((3, 2))})


def test_values_wider_than_float64_are_refused_not_rounded():
    b = FirmwareBuilder()
    x = b.input("x", (2,), 1, 30, 0)
    h = b.dense(x, np.full((2, 1), 2 ** 26), 0, name="wide")
    fw = b.build([h])
    assert int(fw.types["wide"].width.max()) > 53
    xs = np.array([[2.0 ** 30 - 1, 2.0 ** 30 - 1]])
    assert fw.run_raw(xs)["wide"].tolist() == [[2 * (2 ** 30 - 1) * 2 ** 26]]
    with pytest.raises(ValueError, match="'wide' is up to 58 bits wide.*run_raw"):
        fw.predict(xs)


def test_resources_table():
    fw, _ = small_model()
    r = fw.resources()
    lines = str(r).splitlines()
    assert lines[0].split() == ["op", "kind", "EBOPs", "nonzero", "weights", "accumulator", "bits",
                                "adder", "levels"]
    assert len(lines) == len(fw.ops) + 4          # header, rule, one row per op, rule, total
    dense = next(o for o in r.ops if o.kind == "dense")
    row = next(line for line in lines if line.startswith(dense.name + " "))
    assert row.split() == [dense.name, "dense", str(dense.ebops), str(dense.nonzero_weights),
                           str(dense.accumulator_width), str(dense.adder_levels)]
    assert lines[-1].split()[:5] == ["total", str(r.ebops), str(r.nonzero_weights),
                                     str(r.accumulator_width), str(r.latency)]
    # columns line up: every row as long as the header
    assert len({len(line) for line in lines[:-1]}) == 1

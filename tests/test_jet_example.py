"""examples/jet_tagging.py: the loader on files in the data set's layout, and the whole path."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def jets():
    spec = importlib.util.spec_from_file_location("jet_tagging", REPO / "examples" / "jet_tagging.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_jets(path: Path, n: int, seed: int = 0, labels=None, columns=None) -> tuple[np.ndarray, np.ndarray]:
    """A CSV like the OpenML export: 16 feature columns, then 'class' with labels g q w z t.

    The class is set by which of the first five features is largest, so a network can learn it.
    """
    from_module = ("zlogz", "c1_b0_mmdt", "c1_b1_mmdt", "c1_b2_mmdt", "c2_b1_mmdt", "c2_b2_mmdt",
                   "d2_b1_mmdt", "d2_b2_mmdt", "d2_a1_b1_mmdt", "d2_a1_b2_mmdt", "m2_b1_mmdt",
                   "m2_b2_mmdt", "n2_b1_mmdt", "n2_b2_mmdt", "mass_mmdt", "multiplicity")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    x[:, 14] = 50 + 40 * x[:, 14]          # a jet mass in GeV
    x[:, 15] = np.round(30 + 10 * np.abs(x[:, 15]))  # a particle multiplicity
    y = np.argmax(x[:, :5], axis=1)
    names = labels or ["g", "q", "w", "z", "t"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns or (*from_module, "class")))
        for row, label in zip(x, y):
            writer.writerow([f"{v:.6g}" for v in row] + [names[label]])
    return x, y


def test_loader_reads_the_layout(jets, tmp_path):
    x, y = write_jets(tmp_path / "jets.csv", 50)
    fx, fy = jets.load_jets(tmp_path / "jets.csv")
    assert fx.shape == (50, 16) and fx.dtype == np.float32
    assert np.allclose(fx, x, rtol=1e-5)
    assert np.array_equal(fy, y)
    # labels written as Python bytes reprs or in capitals are the same classes
    write_jets(tmp_path / "bytes.csv", 50, labels=["b'g'", "b'q'", "W", " z ", "'t'"])
    assert np.array_equal(jets.load_jets(tmp_path / "bytes.csv")[1], y)


def test_loader_errors(jets, tmp_path):
    with pytest.raises(jets.JetDataError, match="does not exist"):
        jets.load_jets(tmp_path / "absent.csv")
    cols = [f"f{n}" for n in range(16)] + ["label"]
    write_jets(tmp_path / "nolabel.csv", 5, columns=cols)
    with pytest.raises(jets.JetDataError, match="no 'class' column; its columns are f0, f1"):
        jets.load_jets(tmp_path / "nolabel.csv")
    path = tmp_path / "narrow.csv"
    path.write_text("a,b,class\n1,2,g\n")
    with pytest.raises(jets.JetDataError, match="has 2 feature columns besides 'class', the data set has 16"):
        jets.load_jets(path)
    write_jets(tmp_path / "odd.csv", 50, labels=["g", "q", "x", "z", "t"])
    with pytest.raises(jets.JetDataError, match="unknown class 'x'; expected one of g, q, w, z, t"):
        jets.load_jets(tmp_path / "odd.csv")
    write_jets(tmp_path / "text.csv", 3)
    rows = (tmp_path / "text.csv").read_text().splitlines()
    rows[2] = "oops" + rows[2][rows[2].index(","):]  # line 3 = the second jet
    (tmp_path / "text.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(jets.JetDataError, match="line 3: a feature value is not a number"):
        jets.load_jets(tmp_path / "text.csv")


def test_parquet_without_pandas_says_what_to_do(jets, tmp_path, monkeypatch):
    # whether or not they are installed here, the user's machine may lack them
    monkeypatch.setitem(sys.modules, "pandas", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    path = tmp_path / "jets.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(jets.JetDataError, match="pip install (pandas )?pyarrow.*export the data set to CSV"):
        jets.load_jets(path)


def test_standardise_uses_training_statistics(jets):
    rng = np.random.default_rng(1)
    x = rng.normal(5, 3, size=(100, 16)).astype(np.float32)
    x[:, 3] = 7.0  # a constant feature must not divide by zero
    splits = jets.split_and_standardise(x, np.zeros(100, int))
    assert [len(splits[k][0]) for k in ("train", "val", "test")] == [60, 20, 20]
    train = splits["train"][0]
    assert np.allclose(train.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(np.delete(train.std(axis=0), 3), 1, atol=1e-4)
    assert np.all(train[:, 3] == 0)


def test_full_path_on_a_tiny_file(jets, tmp_path, monkeypatch):
    monkeypatch.setenv("HGQ_FPGA_CACHE", str(tmp_path / "cache"))
    write_jets(tmp_path / "jets.csv", 400)
    out = tmp_path / "build" / "jets"
    screen = io.StringIO()
    status = jets.main(tmp_path / "jets.csv", epochs=3, out=out, batch_size=64,
                       console=Console(file=screen, width=120))
    assert status == 0, screen.getvalue()
    run = json.loads((out / "hgq_fpga.json").read_text())
    assert run["name"] == "jet_tagger" and run["board"]["part"] == "xcvu9p-flga2104-2L-e"
    assert run["verification"] == {**run["verification"], "samples": 80, "mismatches": 0, "ok": True}
    assert (out / "hls" / "firmware" / "jet_tagger.cpp").is_file()
    assert run["classification"]["classes"] == ["g", "q", "w", "z", "t"]       # the report names the classes
    report = json.loads((out / "report" / "report.json").read_text())
    assert [layer["name"] for layer in report["design"]["layers"]] == ["inputs", "dense1", "dense2", "dense3",
                                                                      "logits"]
    assert [layer["weights"] for layer in report["design"]["layers"]] == [0, 16 * 64, 64 * 32, 32 * 32, 32 * 5]
    assert "Keras = emulator = C++ on 80 samples" in screen.getvalue()

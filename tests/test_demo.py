"""``make demo``'s Python entry point, end to end with very few epochs."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from hgq_fpga.app import demo
from hgq_fpga.checks.design_folder import MANIFEST


def _tiny_model():
    """A 64-4-10 network in place of the demo's, so that Yosys on its early epochs takes seconds."""
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inputs = keras.Input((64,), name="pixels")
    x = HQuantize(output_quantizer={"overflow_mode": "SAT"}, name="inputs")(inputs)
    x = HDense(4, activation="relu", name="dense1")(x)
    return keras.Model(inputs, HDense(10, name="logits")(x), name="tiny_digits")


def test_demo_end_to_end(tmp_path, monkeypatch):
    """The demo's whole path (HLS and RTL, Yosys synthesis) on a smaller network."""
    monkeypatch.setenv("HGQ_FPGA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(demo, "build_model", _tiny_model)
    out = tmp_path / "build" / "demo"
    # an earlier demo output is replaced as a whole
    out.mkdir(parents=True)
    (out / MANIFEST).write_text("{}")
    (out / "stale.txt").write_text("from an earlier run")
    (out / ".hgq_fpga-files.json").write_text(json.dumps([MANIFEST, "stale.txt"]))   # both hgq_fpga's
    screen = io.StringIO()
    status = demo.main(epochs=3, out=out, console=Console(file=screen, width=120))
    text = screen.getvalue()
    assert status == 0, text
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["demo"]  # no staging or checkpoint leftovers

    run = json.loads((out / MANIFEST).read_text())
    assert run["board"]["name"] == "vu9p"
    assert run["verification"]["samples"] == 450  # the whole test set
    assert run["verification"]["mismatches"] == 0
    accuracy = run["metrics"]["test accuracy"]
    assert 0.1 < accuracy <= 1.0
    training = run["training"]
    assert len(training["epochs"]) == 3
    chosen = training["chosen"]
    best = max(p["metric"] for p in training["front"])
    assert chosen["metric"] >= best - 0.01
    assert all((out / p["path"]).is_file() for p in training["front"])

    report = json.loads((out / "report" / "report.json").read_text())
    assert report["metrics"]["test accuracy"] == accuracy
    assert "pareto.png" in report["figures"].values()
    # labelled test split: per-class table and trigger efficiencies (45 events per class: too few for
    # a ROC curve, said instead); the 8×8 input drawn per first-layer unit; profiles; the RTL's timing
    assert {"first_layer_units.png", "profile.png", "outputs.png", "timing.png"} <= set(report["figures"].values())
    assert "roc.png" not in report["figures"].values() and "signal efficiency (firmware) at fixed" in text
    classes = run["classification"]
    assert classes["samples"] == 450 and len(classes["per_class"]) == 10
    assert classes["accuracy"]["firmware"] == accuracy
    for name in report["figures"].values():
        assert (out / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the screen summary shows the run's own numbers and the next step
    assert f"{report['design']['ebops']:,}" in text
    assert f"{100 * accuracy:.2f} %" in text
    assert "Keras = emulator = C++ = RTL on 450 samples" in text
    # the RTL was simulated (verification above) and synthesized: LUTs, FFs, share of vu9p, latency
    synth = json.loads((out / "rtl" / "reports" / "report.json").read_text())
    lut, ff = synth["resources"]["LUT"], synth["resources"]["FF"]
    assert lut > 0 and ff > 0 and synth["board"] == "vu9p"
    assert f"{lut:,} = {100 * lut / 1182240:.3f} % of vu9p" in text
    assert f"{ff:,} = {100 * ff / 2364480:.3f} % of vu9p" in text
    cycles = synth["latency_cycles"]
    assert f"{cycles} clock cycles = {cycles * 5:g} ns at 5 ns, II = 1" in text
    assert report["synthesis"]["rtl"]["figures"]["resources"] == synth["resources"]
    assert f"cd {out / 'rtl'} && make synth BOARD=vu9p" in text   # the RTL: no vendor tool needed
    assert (out / "hls" / "Makefile").is_file() and (out / "hls" / "firmware" / "myproject.cpp").is_file()
    # the held-out split is saved (pixels already divided by 16), and the command that uses it printed
    import numpy as np

    saved = np.load(out / "data" / "test.npz")
    assert saved["x"].shape == (450, 64) and saved["y"].shape == (450,) and 0 <= saved["x"].min() <= saved["x"].max() <= 1
    assert f"hgq-fpga verify {out} --data {out / 'data' / 'test.npz'} --array x" in text
    # the screen is not a terminal: plain lines per epoch, no cut-off bar; latency in cycles and ns
    assert "training epoch 3/3" in text
    assert "clock cycles" in text and "ns at 5 ns" in text


def test_demo_refuses_a_foreign_folder(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    screen = io.StringIO()
    assert demo.main(epochs=1, out=out, console=Console(file=screen, width=120)) == 2
    assert "not a design folder written by hgq_fpga" in screen.getvalue()
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_demo_default_run_learns_and_prunes(tmp_path, monkeypatch):
    """The full ``make demo`` run: a useful model, small, bit-exact."""
    monkeypatch.setenv("HGQ_FPGA_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "demo"
    assert demo.main(out=out, console=Console(file=io.StringIO(), width=120)) == 0
    report = json.loads((out / "report" / "report.json").read_text())
    assert report["metrics"]["test accuracy"] >= 0.95
    assert report["verification"]["mismatches"] == 0
    assert report["design"]["pruned"] > 0
    # HGQ learned different widths: the chosen model is far below the largest cost of its training
    # (not the first epoch's: the default start, 3 fractional bits per weight, begins cheap and
    # training first gives bits back; measured 2026-12-05: 13,441 EBOPs against a peak of 21,878)
    peak_ebops = max(epoch[0] for epoch in report["training"]["epochs"])
    assert report["design"]["ebops"] < 0.7 * peak_ebops

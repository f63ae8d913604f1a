"""The report's profiles, output scatter and timing estimate (issue 35), read back from the figures.

No Keras: a hand-built firmware, a stand-in model that only has the float kernel, and hand-written
project records. Every figure is checked on what it draws (bar heights, box medians, band extents,
scatter offsets, lines), not on its file size.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hgq_fpga.app.report import plots
from hgq_fpga.app.report.classification import LabelledData, classification_record
from hgq_fpga.app.report.markdown import render_markdown
from hgq_fpga.app.report.profile import QUANTILES, profile_record
from hgq_fpga.app.report.stats import summarize
from hgq_fpga.app.report.timing import DELAY_MODELS, timing_record
from hgq_fpga.ir import FirmwareBuilder

W = np.array([[1, 2], [3, 0], [0, -1]])                 # codes, f = 1: 0.5, 1, 1.5, 0, -0.5
FLOAT_KERNEL = np.array([[0.4, 1.1], [1.6, 0.01], [-0.02, -0.45]])


def firmware():
    b = FirmwareBuilder()
    x = b.input("x", (3,), k=1, i=1, f=2, overflow="SAT")   # holds -2 .. 1.75
    acc = b.dense(x, W, 1, name="d_acc")
    return b.build([b.cast(acc, 1, 1, 1, "RND", "SAT", name="d")])   # holds -2 .. 1.5


class _Layer:
    kernel = FLOAT_KERNEL


class _Model:
    """What the profile reads from a Keras model: ``get_layer(name).kernel``."""

    def get_layer(self, name):
        if name != "d":
            raise ValueError(name)
        return _Layer()


def data():
    return np.random.default_rng(0).uniform(-3, 3, size=(500, 3))


def test_profile_record_by_hand():
    fw, x = firmware(), data()
    profile = profile_record(_Model(), fw, x, "held-out data")
    assert (profile["data"], profile["samples"], profile["quantiles"]) == ("held-out data", 500, list(QUANTILES))
    rows = {row["layer"]: row for row in profile["layers"]}
    assert list(rows) == ["x", "d"]
    # the input: the raw data before the input quantizer, against ap_fixed<4,2> (-2 .. 1.75)
    inputs = rows["x"]["activations"]
    assert inputs["quantiles"] == pytest.approx(np.quantile(np.abs(x), QUANTILES).tolist(), abs=0)
    assert inputs["range"] == [0.25, 2.0] and inputs["outside"] == int(np.sum((x > 1.75) | (x < -2)))
    # the dense layer: its exact accumulator before the cast to (1, 1, 1)
    acc = fw.predict(x, trace=True)["d_acc"]
    d = rows["d"]["activations"]
    assert d["count"] == acc.size and d["zeros"] == int(np.sum(acc == 0))
    assert d["quantiles"] == np.quantile(np.abs(acc[acc != 0]), QUANTILES).tolist()
    assert d["range"] == [0.5, 2.0] and d["outside"] == int(np.sum((acc > 1.5) | (acc < -2)))
    # its float weights against the weight codes' types: finest step 2^-1, largest 2^(2-1)
    w = rows["d"]["weights"]
    assert w["quantiles"] == np.quantile(np.abs(FLOAT_KERNEL), QUANTILES).tolist() and w["range"] == [0.5, 2.0]
    assert rows["x"]["weights"] is None and w["on_grid"] is False
    json.dumps(profile)


def test_a_quantized_kernel_is_not_called_float(monkeypatch):
    """Post-training quantization keeps only the quantized kernel: the profile says so."""
    monkeypatch.setattr(_Layer, "kernel", np.ldexp(W.astype(float), -1))
    profile = profile_record(_Model(), firmware(), data(), "calibration data")
    assert profile["layers"][1]["weights"]["on_grid"] is True
    assert plots.profile_figure(profile).axes[0].get_title() == "weights, already quantized (the model keeps no float copy)"


def test_profile_figure_draws_the_recorded_boxes_over_the_type_ranges():
    profile = profile_record(_Model(), firmware(), data(), "held-out data")
    fig = plots.profile_figure(profile)
    weights_ax, activations_ax = fig.axes[:2]
    for ax, part in ((weights_ax, "weights"), (activations_ax, "activations")):
        assert ax.get_xscale() == "log"
        medians = {line.get_gid(): line for line in ax.get_lines() if (line.get_gid() or "").startswith("median:")}
        bands = {p.get_gid(): p for p in ax.patches if (p.get_gid() or "").startswith("range:")}
        for row in profile["layers"]:
            record = row[part]
            if record is None:
                assert f"median:{row['layer']}" not in medians
                continue
            assert set(medians[f"median:{row['layer']}"].get_xdata()) == {record["quantiles"][3]}
            band = bands[f"range:{row['layer']}"]
            assert (band.get_x(), band.get_x() + band.get_width()) == tuple(record["range"])
    assert [t.get_text() for t in weights_ax.get_yticklabels()] == ["x", "d"]
    assert any("outside" in t.get_text() for t in activations_ax.texts)
    assert plots.profile_figure({"layers": []}) is None


def test_profile_in_the_report_markdown():
    profile = profile_record(_Model(), firmware(), data(), "held-out data")
    text = render_markdown({"design": summarize(firmware()).to_dict(), "profile": profile})
    d = next(row for row in profile["layers"] if row["layer"] == "d")
    q = d["weights"]["quantiles"]
    assert "## Profile" in text
    assert (f"| d | {q[1]:.3g} – {q[5]:.3g} | 0.5 – 2 | {d['activations']['quantiles'][1]:.3g} – "
            f"{d['activations']['quantiles'][5]:.3g} | 0.5 – 2 | {d['activations']['outside']:,} |") in text


def test_firmware_outputs_beside_the_reference():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 400)
    reference = rng.normal(size=(400, 3))
    firmware_scores = np.round(reference * 4) / 4            # the firmware: a coarser copy
    record = classification_record(LabelledData(None, labels, "test", reference="the float model"),
                                   firmware_scores, reference)
    outputs = record["outputs"]
    assert outputs["samples"] == 400 and len(outputs["reference"]) == 100
    assert outputs["max_abs_diff"] == np.max(np.abs(reference - firmware_scores))
    assert outputs["same_class"] == np.mean(reference.argmax(1) == firmware_scores.argmax(1))
    fig = plots.outputs_figure(record)
    ax = fig.axes[0]
    by_gid = {c.get_gid(): c for c in ax.collections}
    for c in range(3):
        points = by_gid[f"output:{c}"].get_offsets()
        assert np.array_equal(points[:, 0], np.array(outputs["reference"])[:, c])
        assert np.array_equal(points[:, 1], np.array(outputs["firmware"])[:, c])
    assert "the float model" in ax.get_xlabel() and f"{outputs['max_abs_diff']:.3g}" in ax.get_title()
    assert plots.outputs_figure(classification_record(LabelledData(None, labels), firmware_scores)) is None


PROJECT = {"board": "vu9p", "boards": {"vu9p": {"yosys_family": "xcup"}}, "clock_period_ns": 5.0,
           "levels_per_stage": 4, "latency_cycles": 5, "stage_levels": [4, 3, 4, 1]}


def test_timing_estimate_from_the_stage_levels():
    record = timing_record(PROJECT)
    model = DELAY_MODELS["xcup"]
    path = 4 * model.ns_per_level + model.ns_per_stage
    assert (record["critical_stage"], record["critical_levels"]) == (0, 4)
    assert record["path_ns"] == pytest.approx(path) and record["fmax_mhz"] == round(1000 / path, 1)
    assert record["slack_ns"] == pytest.approx(5.0 - path) and "vivado" not in record
    with_vivado = timing_record(PROJECT, {"tool": "vivado", "wns_ns": -0.25})
    assert with_vivado["vivado"] == {"wns_ns": -0.25, "fmax_mhz": round(1000 / 5.25, 1)}
    assert "vivado" not in timing_record(PROJECT, {"tool": "yosys", "wns_ns": None})
    assert timing_record({**PROJECT, "stage_levels": None}) is None and timing_record(None) is None
    text = render_markdown({"design": summarize(firmware()).to_dict(), "timing": with_vivado})
    assert "## Timing (estimate, without Vivado)" in text and "stages (budget 4 per stage): 4, 3, 4, 1." in text
    assert f"≈ {record['fmax_mhz']:g} MHz estimated" in text and "Vivado: WNS -0.25 ns" in text
    bare = render_markdown({"design": summarize(firmware()).to_dict()})
    assert "no timing estimate: build it with `--backend rtl`" in bare


def test_timing_figure_draws_the_levels_and_is_labelled_an_estimate():
    record = timing_record(PROJECT, {"tool": "vivado", "wns_ns": -0.25})
    fig = plots.timing_figure(record)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if (p.get_gid() or "").startswith("stage:")]
    assert [b.get_height() for b in bars] == PROJECT["stage_levels"]
    lines = {line.get_gid(): line for line in ax.get_lines()}
    assert set(lines["budget"].get_ydata()) == {4}
    model = DELAY_MODELS["xcup"]
    assert set(lines["clock"].get_ydata()) == {(5.0 - model.ns_per_stage) / model.ns_per_level}
    assert ax.get_title().startswith("ESTIMATE: Fmax ≈") and "Vivado: WNS -0.25 ns" in ax.get_title()


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_rtl_project_records_the_levels_of_each_stage(tmp_path, levels):
    """project.json keeps the schedule's levels per stage, which the timing estimate reads."""
    from hgq_fpga.backends.rtl import write_project

    b = FirmwareBuilder()
    x = b.input("x", (8,), k=1, i=2, f=3)
    w = np.arange(-20, 20).reshape(8, 5) % 7 - 3
    h = b.cast(b.relu(b.dense(x, w, 2)), 0, 3, 2, "RND", "SAT", name="h")
    fw = b.build([b.cast(b.dense(h, w[:5, :3] + 1, 1), 1, 4, 1, "RND", "SAT", name="out")])
    info = json.loads((write_project(fw, tmp_path / "rtl", levels=levels).path / "project.json").read_text())
    stages = info["stage_levels"]
    assert info["levels_per_stage"] == levels and max(stages) == levels and min(stages) >= 0
    assert len(stages) == info["latency_cycles"] - int(info["register_inputs"]) - int(info["register_outputs"]) + 1
    record = timing_record(info)
    assert record["critical_levels"] == levels and record["model"]["family"] == "UltraScale+"

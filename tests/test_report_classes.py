"""The report's per-class accuracy table and ROC figure, and the figures' layout rules (issue 20).

No Keras: the records are built from hand-made scores, the figures are inspected through their
matplotlib objects (bar positions, hatching, axis limits) as well as written as PNGs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from hgq_fpga.app.report import summarize
from hgq_fpga.app.report import plots
from hgq_fpga.app.report.classification import LabelledData, NotAClassifier, classification_record
from hgq_fpga.app.report.markdown import render_markdown
from hgq_fpga.ir import FirmwareBuilder
from hgq_fpga.pareto import ParetoPoint

PNG = b"\x89PNG\r\n\x1a\n"


def scores_and_labels(n: int = 300, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    scores = rng.normal(size=(n, classes))
    scores[np.arange(n), labels] += 1.5          # a useful, imperfect classifier
    return scores, labels


def test_per_class_accuracy_and_auc_by_hand():
    labels = np.array([0, 0, 1, 1, 1, 2])
    firmware = np.array([[2, 0, 0], [0, 1, 0], [0, 3, 0], [0, 3, 0], [5, 0, 0], [0, 0, 1]], float)
    keras = firmware.copy()
    keras[1] = [1, 0, 0]                           # Keras gets sample 1 right, the firmware does not
    record = classification_record(LabelledData(None, labels, "six samples", ["a", "b", "c"]), firmware, keras)
    rows = {r["class"]: r for r in record["per_class"]}
    assert [rows[c]["samples"] for c in "abc"] == [2, 3, 1]
    assert rows["a"]["firmware_accuracy"] == 0.5 and rows["a"]["keras_accuracy"] == 1.0
    assert rows["b"]["firmware_accuracy"] == pytest.approx(2 / 3) and rows["c"]["firmware_accuracy"] == 1.0
    assert record["accuracy"] == {"firmware": pytest.approx(4 / 6), "keras": pytest.approx(5 / 6)}
    json.dumps(record)                             # the run record must hold it as JSON


def test_roc_auc_matches_sklearn_and_curves_are_thinned():
    scores, labels = scores_and_labels(n=3000)
    record = classification_record(LabelledData(None, labels), scores, max_points=50)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities = e / e.sum(axis=1, keepdims=True)
    for c, curve in enumerate(record["roc"]["firmware"]):
        assert curve["auc"] == pytest.approx(roc_auc_score(labels == c, probabilities[:, c]), abs=1e-12)
        assert len(curve["fpr"]) <= 50 and curve["fpr"][0] == 0 and curve["tpr"][-1] == 1
        assert np.all(np.diff(curve["fpr"]) >= 0)
    assert "keras" not in record["roc"] and record["keras"] is None


@pytest.mark.parametrize("scores, labels, message", [
    (np.zeros((4, 1)), np.zeros(4, int), "at least 2 classes"),
    (np.zeros((4, 3)), np.zeros(3, int), "one integer label per sample"),
    (np.zeros((4, 3)), np.array([0, 1, 2, 3]), "the model has 3 classes"),
    (np.zeros((4, 3)), np.array([0, 1, 0.5, 2]), "integer class numbers"),
])
def test_not_a_classifier_is_refused_with_the_reason(scores, labels, message):
    with pytest.raises(NotAClassifier, match=message):
        classification_record(LabelledData(None, labels), scores)


def tiny_stats():
    b = FirmwareBuilder()
    x = b.input("x", (16,), k=1, i=1, f=2)
    w = np.arange(-24, 24).reshape(16, 3) % 5 - 2            # some zeros: pruned weights
    fw = b.build([b.cast(b.dense(x, w, 1, name="d_acc"), 1, 3, 1, "RND", "SAT", name="d")])
    return summarize(fw)


def test_markdown_table_and_no_labels_note(tmp_path):
    scores, labels = scores_and_labels()
    record = classification_record(LabelledData(None, labels, "whole test set"), scores, scores + 0.01)
    data = {"design": summarize_dict(), "classification": record}
    text = render_markdown(data)
    assert "## Per-class accuracy" in text and "| class | samples | firmware | Keras | ROC AUC (firmware) |" in text
    assert f"| 0 | {int(np.sum(labels == 0))} |" in text and "| all | 300 |" in text
    bare = render_markdown({"design": summarize_dict()})
    assert "No labelled data in this design" in bare and "--check-labels" in bare


def summarize_dict():
    return tiny_stats().to_dict()


def test_roc_figure_draws_both_models_per_class(tmp_path):
    scores, labels = scores_and_labels(n=600)           # over 100 events per class: every curve is drawn
    record = classification_record(LabelledData(None, labels, "test"), scores, scores * 1.1)
    path = plots.plot_roc(record, tmp_path / "roc.png")
    assert path.read_bytes()[:8] == PNG
    rises = [c["tpr"][int(np.argmax(np.array(c["fpr"]) > 0))] for c in record["roc"]["firmware"]]
    start = plots._roc_x_start(record["roc"]["firmware"])          # just before the first curve rises
    assert min(rises) - 0.1 < start <= min(rises) - 0.05 and round(start / 0.05, 9) % 1 == 0
    perfect = classification_record(LabelledData(None, labels, "test"), np.eye(3)[labels] + 0.0, None)
    assert plots._roc_x_start(perfect["roc"]["firmware"]) == pytest.approx(0.95)  # rises only at 100 %


def test_grouped_bars_have_no_gaps_and_sit_on_their_ticks():
    fig = Figure()
    ax = fig.subplots()
    series = [("a", np.array([0, 0, 1, 3])), ("b", np.array([1, 1, 2, 3])), ("c", np.array([3, 3]))]
    plots._grouped_fractions(ax, series, "weights")
    bars = [(p.get_x() + p.get_width() / 2, p.get_height(), p.get_width()) for p in ax.patches]
    assert all(height > 0 for _, height, _ in bars)                 # no empty bar holds a place
    for width, expected in ((0, 1), (1, 2), (2, 1), (3, 3)):
        centres = [x for x, _, _ in bars if abs(x - width) < 0.5]
        assert len(centres) == expected and np.mean(centres) == pytest.approx(width)
        ordered = sorted(centres)
        assert np.allclose(np.diff(ordered), bars[0][2])             # touching: no gap inside a group


def test_pruned_weights_are_hatched_and_units_drawn_as_images(tmp_path):
    stats = tiny_stats()
    assert stats.pruned > 0
    path = plots.plot_weight_heatmaps(stats, tmp_path / "heat.png")
    assert path.read_bytes()[:8] == PNG
    fig = Figure()
    ax = fig.subplots()
    plots._pruned_background(ax)
    assert ax.patches[0].get_hatch() == plots.PRUNED_HATCH
    units = plots.plot_unit_images(stats, (4, 4), tmp_path / "units.png")
    assert units is not None and units.read_bytes()[:8] == PNG
    assert plots.plot_unit_images(stats, (3, 5), tmp_path / "no.png") is None   # 15 != 16 inputs
    assert not (tmp_path / "no.png").exists()


def test_pareto_axis_zooms_on_the_front_and_counts_the_warm_up(tmp_path):
    front = [ParetoPoint(0.90, 1000, epoch=8), ParetoPoint(0.95, 3000, epoch=5), ParetoPoint(0.96, 6000, epoch=4)]
    epochs = [(20000, 0.30), (15000, 0.60), (9000, 0.93), (6000, 0.96), (3000, 0.95), (2000, 0.92),
              (1500, 0.91), (1000, 0.90)]
    low, high = plots._front_limits(np.array([90.0, 95.0, 96.0]), [95.0, 95.5])
    assert 87 < low < 90 and 96 < high < 99 and low > 60   # the warm-up epochs (30 %, 60 %) stay below
    one_point = plots._front_limits(np.array([96.7]), [96.7, 96.4])
    assert one_point[0] < 94.5 and one_point[1] > 98.5          # a one-point front still shows its neighbours
    path = plots.plot_pareto(front, tmp_path / "pareto.png", chosen=front[1], epochs=epochs,
                             deployed=(3100, 0.955))
    assert path.read_bytes()[:8] == PNG


def two_class_trigger():
    """100 background events (class 0) with class-1 scores 0..99 and 50 signal events (class 1) with
    scores 60..109: at 10 % background the cut keeps scores >= 90, 20 of the 50 signal events."""
    labels = np.array([0] * 100 + [1] * 50)
    scores = np.zeros((150, 2))
    scores[:, 1] = np.r_[np.arange(100), np.arange(60, 110)] / 10.0
    return scores, labels


def test_signal_efficiency_at_fixed_background_by_hand():
    from hgq_fpga.app.report.classification import efficiency_at_background

    scores, labels = two_class_trigger()
    record = classification_record(LabelledData(None, labels, "test"), scores, scores)
    trigger = record["trigger"]
    assert trigger["rates"] == [0.01, 0.1] and trigger["min_background_passing"] == 10
    background, signal = trigger["per_class"]
    assert (signal["signal"], signal["background"]) == (50, 100)
    # 1 % of 100 background events is 1 event (< 10): no number; 10 %: 10 events pass, 20 of 50 signal
    assert signal["firmware"] == [None, 0.4] == signal["keras"]
    assert background["firmware"] == [None, None]          # 10 % of 50 background events: 5 < 10
    from hgq_fpga.app.report.markdown import efficiency_cell

    assert efficiency_cell(1.0, 429, 0.1, 10) == "100.0 % (all 429)"           # ± 0 would claim too much
    assert efficiency_cell(0.0, 40, 0.1, 10) == "0.0 % (none of 40)"
    assert efficiency_at_background(labels == 1, scores[:, 1], 0.02) == 0.24  # 2 background pass (9.8, 9.9): 12 signal


def test_trigger_table_in_the_report_and_the_summary():
    from hgq_fpga.app.report.console import summary_text

    scores, labels = two_class_trigger()
    record = classification_record(LabelledData(None, labels, "test"), scores, scores)
    text = render_markdown({"design": summarize_dict(), "classification": record})
    assert "## Trigger efficiency" in text
    assert "| class | events | background | at 1 % background | at 10 % background |" in text
    assert "| 1 | 50 | 100 | too few events (needs 1,000 background) | 40.0 ± 6.9 % (40.0 %) |" in text
    assert "No ROC curve is drawn for classes 0, 1: 50 to 100 events, fewer than the 100 a curve needs." not in text
    assert "none is drawn for class 1: 50 events, fewer than the 100 a curve needs." in text
    summary = summary_text({"design": summarize_dict(), "classification": record})
    assert "signal efficiency (firmware) at fixed background rates" in summary and "on test; ± binomial" in summary
    row = next(line for line in summary.splitlines() if line.split()[:2] == ["1", "50"])
    assert row.split()[2:] == ["too", "few", "events", "(needs", "1,000", "background)", "40.0", "±", "6.9", "%"]


def test_roc_is_drawn_as_rejection_for_classes_with_enough_events():
    scores, labels = two_class_trigger()
    record = classification_record(LabelledData(None, labels, "test"), scores, scores * 1.5)
    fig = plots.roc_figure(record)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"firmware:0", "keras:0"} <= set(lines) and not any(name.endswith(":1") for name in lines)
    curve = record["roc"]["firmware"][0]
    fpr, tpr = np.array(curve["fpr"]), np.array(curve["tpr"])
    assert np.array_equal(lines["firmware:0"].get_xdata(), tpr[fpr > 0])
    assert np.array_equal(lines["firmware:0"].get_ydata(), 1 / fpr[fpr > 0])      # rejection, not efficiency
    assert ax.get_yscale() == "log" and "background rejection" in ax.get_ylabel()
    assert sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == ":") == [10, 100]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "not drawn (< 100 events): 1" in legend
    few = classification_record(LabelledData(None, labels[1:140], "test"), scores[1:140])   # 99 and 40 events
    assert plots.roc_figure(few) is None
    text = render_markdown({"design": summarize_dict(), "classification": few})
    assert "No ROC curve is drawn for classes 0, 1: 40 to 99 events, fewer than the 100 a curve needs." in text

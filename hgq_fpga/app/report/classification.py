"""Per-class accuracy and ROC curves of a classifier: the trained Keras model beside its firmware.

:func:`classification_record` turns integer labels and the scores of the two models on the same
labelled inputs into the JSON record that the design folder keeps (``hgq_fpga.json`` under
``"classification"``), so that ``hgq-fpga report DIR`` redraws the table and the ROC figure from
the folder alone, without Keras.

*Keras* is the model as it was converted, before calibration (an HGQ model in its training-time quantization, the model the validation accuracy of
training was measured on); *firmware* is the emulator of the deployed IR, which equals the C++
bit for bit. The difference between the two curves is what calibration (the integer bits fixed on
the calibration data) and deployment did to the classifier.

A ROC curve is one class against all others (one-vs-rest) on the softmax of the outputs (its
logarithm, which orders the samples the same way without rounding large differences to 1), drawn as
the trigger physicist reads it: background rejection (1 / false-positive rate, log scale) against
signal efficiency (true-positive rate). Curves are thinned to at most ``MAX_POINTS`` points for the
JSON; the AUC is computed on the whole curve.

**Working points.** The trigger table gives each class's signal efficiency at fixed background rates
(:data:`BACKGROUND_RATES`: 1 % and 10 % of the other classes' events pass), from the whole curve:
the highest efficiency whose background rate is at most the one asked for.

**Too few events.** Both numbers are counts, and a handful of events makes them noise:

* a working point is given only where at least :data:`MIN_BACKGROUND_PASSING` (10) background events
  pass at that rate, i.e. ``rate × background events ≥ 10`` (1,000 background events for 1 %): with
  fewer, the rate itself is uncertain by more than a third (Poisson, 1/√10 ≈ 32 %), and the
  table says "too few events" instead;
* a class's ROC curve is drawn only with at least :data:`MIN_CURVE_EVENTS` (100) events of the
  class: an efficiency then moves in steps of at most 1 percentage point and its statistical
  uncertainty is at most ±5 points (binomial, √(0.5·0.5/100)); classes with fewer are named in the
  figure, and without any such class no figure is drawn. The table gives each efficiency with its
  binomial uncertainty √(ε(1 − ε)/n).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

#: most points kept per ROC curve in the record
MAX_POINTS = 200
#: the background rates of the trigger table (fractions of the other classes' events that pass)
BACKGROUND_RATES = (0.01, 0.1)
#: background events that must pass at a working point for its efficiency to be given
MIN_BACKGROUND_PASSING = 10
#: events of a class needed to draw its ROC curve
MIN_CURVE_EVENTS = 100
#: samples whose outputs (reference and firmware) the record keeps for the scatter figure
SCATTER_SAMPLES = 100


class NotAClassifier(ValueError):
    """The outputs or labels do not describe a multi-class classifier; the message says why."""


@dataclass(frozen=True)
class LabelledData:
    """Held-out inputs ``x`` of a classifier and their integer class labels ``y``.

    ``label`` says what they are in the report ("whole test set"); ``class_names`` names the
    classes (default ``0``, ``1``, ...). The firmware is set beside a reference: by default the Keras
    model before calibration; ``reference_scores`` (the outputs of another model on ``x``, e.g. the
    float model before post-training quantization) and ``reference`` (what it is) replace it.
    """

    x: Any
    y: np.ndarray
    label: str = "test data"
    class_names: Sequence[str] | None = None
    reference_scores: np.ndarray | None = None
    reference: str = "the Keras model before calibration (as trained)"

    @staticmethod
    def of(value) -> "LabelledData | None":
        """``value`` as labelled data: a :class:`LabelledData`, a pair ``(x, y)``, or ``None``."""
        if value is None or isinstance(value, LabelledData):
            return value
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return LabelledData(value[0], value[1])
        raise TypeError(f"labelled must be (x, y) or a LabelledData, got {type(value).__name__}")


def model_scores(model, data: LabelledData) -> np.ndarray:
    """The reference outputs on the labelled inputs (``data.reference_scores``, else the model's),
    checked to be a classifier's (one score per class)."""
    scores = data.reference_scores
    if scores is None:
        scores = np.asarray(model.predict(data.x, verbose=0, batch_size=1024))
    check_classifier(scores, data.y)
    return scores


def _log_softmax(scores: np.ndarray) -> np.ndarray:
    """The logarithm of the softmax: the same order as the softmax, without its rounding to 1."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def check_classifier(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scores as (n, classes) float64, labels as int64)``; :class:`NotAClassifier` otherwise."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 2 or scores.shape[1] < 2:
        raise NotAClassifier(f"the output has shape {scores.shape[1:]}; per-class tables need one score "
                             "per class, (samples, classes) with at least 2 classes")
    if labels.ndim != 1 or len(labels) != len(scores):
        raise NotAClassifier(f"labels have shape {labels.shape}; expected one integer label per sample "
                             f"({len(scores)})")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(labels == np.round(labels)):
            raise NotAClassifier(f"labels must be integer class numbers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= scores.shape[1]:
        raise NotAClassifier(f"labels run from {labels.min()} to {labels.max()}; the model has "
                             f"{scores.shape[1]} classes (0 to {scores.shape[1] - 1})")
    return scores, labels


def _thin(fpr: np.ndarray, tpr: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if len(fpr) <= limit:
        return fpr, tpr
    keep = np.unique(np.linspace(0, len(fpr) - 1, limit).round().astype(int))
    return fpr[keep], tpr[keep]


def roc_curves(scores: np.ndarray, labels: np.ndarray, max_points: int = MAX_POINTS) -> list[dict]:
    """One-vs-rest ROC curve and AUC of every class (``None`` for a class absent from ``labels``)."""
    from sklearn.metrics import auc, roc_curve

    probabilities = _log_softmax(scores)
    curves = []
    for c in range(scores.shape[1]):
        positive = labels == c
        if positive.all() or not positive.any():
            curves.append(None)
            continue
        fpr, tpr, _ = roc_curve(positive, probabilities[:, c])
        area = float(auc(fpr, tpr))
        fpr, tpr = _thin(fpr, tpr, max_points)
        curves.append({"fpr": [round(float(v), 6) for v in fpr], "tpr": [round(float(v), 6) for v in tpr],
                       "auc": area})
    return curves


def efficiency_at_background(positive: np.ndarray, score: np.ndarray, rate: float) -> float:
    """The highest fraction of ``positive`` samples that a cut ``score >= t`` keeps while at most
    ``rate`` of the other samples pass it."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(positive, score, drop_intermediate=False)
    return float(tpr[np.searchsorted(fpr, rate, side="right") - 1])


def working_points(scores: np.ndarray, labels: np.ndarray, rates=BACKGROUND_RATES) -> list[dict]:
    """Per class: its events, the background events and the signal efficiency at each background
    ``rate`` (``None`` where fewer than :data:`MIN_BACKGROUND_PASSING` background events pass)."""
    scores = _log_softmax(scores)
    rows = []
    for c in range(scores.shape[1]):
        positive = labels == c
        signal, background = int(positive.sum()), int((~positive).sum())
        measurable = [signal > 0 and rate * background >= MIN_BACKGROUND_PASSING for rate in rates]
        rows.append({"signal": signal, "background": background,
                     "efficiency": [efficiency_at_background(positive, scores[:, c], rate) if ok else None
                                    for rate, ok in zip(rates, measurable)]})
    return rows


def trigger_record(models: dict[str, np.ndarray], labels: np.ndarray, names: list[str]) -> dict:
    """The trigger table: each class's efficiency at :data:`BACKGROUND_RATES` for every model."""
    rows = {m: working_points(s, labels) for m, s in models.items()}
    per_class = [{"class": name, "signal": rows["firmware"][c]["signal"],
                  "background": rows["firmware"][c]["background"],
                  **{m: rows[m][c]["efficiency"] for m in models}} for c, name in enumerate(names)]
    return {"rates": list(BACKGROUND_RATES), "min_background_passing": MIN_BACKGROUND_PASSING,
            "min_curve_events": MIN_CURVE_EVENTS, "per_class": per_class}


def curve_classes(record: dict) -> tuple[list[int], list[int]]:
    """The classes whose ROC curve is drawn (at least :data:`MIN_CURVE_EVENTS` events and a curve),
    and those with a curve but too few events for it, by index."""
    minimum = (record.get("trigger") or {}).get("min_curve_events", 0)
    present = [c for c, curve in enumerate(record["roc"]["firmware"]) if curve is not None]
    drawn = [c for c in present if record["per_class"][c]["samples"] >= minimum]
    return drawn, [c for c in present if c not in drawn]


def binomial_error(efficiency: float, events: int) -> float:
    """The statistical uncertainty of an efficiency measured on ``events`` events, √(ε(1 − ε)/n)."""
    return float(np.sqrt(efficiency * (1 - efficiency) / events)) if events else float("nan")


def output_agreement(reference: np.ndarray, firmware: np.ndarray, samples: int = SCATTER_SAMPLES) -> dict:
    """The firmware's outputs beside the reference model's on the same inputs: ``samples`` evenly
    spaced samples of both (6 significant digits) for the scatter figure, and over all samples the
    largest difference, the correlation and how often both pick the same class."""
    n = len(firmware)
    keep = np.unique(np.linspace(0, n - 1, min(n, samples)).round().astype(int))
    short = lambda a: [[float(f"{v:.6g}") for v in row] for row in a[keep]]  # noqa: E731
    same = reference.ravel().std() > 0 and firmware.ravel().std() > 0
    return {"samples": int(n), "reference": short(reference), "firmware": short(firmware),
            "max_abs_diff": float(np.max(np.abs(reference - firmware))),
            "correlation": float(np.corrcoef(reference.ravel(), firmware.ravel())[0, 1]) if same else None,
            "same_class": float(np.mean(reference.argmax(axis=1) == firmware.argmax(axis=1)))}


def per_class_accuracy(scores: np.ndarray, labels: np.ndarray) -> list[float | None]:
    """Fraction of each class's samples whose highest score is that class (``None``: no samples)."""
    predicted = scores.argmax(axis=1)
    return [float(np.mean(predicted[labels == c] == c)) if np.any(labels == c) else None
            for c in range(scores.shape[1])]


def classification_record(data: LabelledData, firmware_scores: np.ndarray,
                          keras_scores: np.ndarray | None = None, max_points: int = MAX_POINTS) -> dict:
    """The per-class accuracies and ROC curves of the firmware (and of Keras) on labelled ``data``.

    Args:
        data: the labelled inputs (their labels, what they are and the class names are used here).
        firmware_scores: the firmware's outputs ``(samples, classes)`` (``fw.predict``).
        keras_scores: the Keras model's outputs on the same inputs, or ``None``.

    Raises:
        NotAClassifier: the outputs are not one score per class, or the labels do not fit them.
    """
    fw_scores, labels = check_classifier(firmware_scores, data.y)
    models = {"firmware": fw_scores}
    if keras_scores is not None:
        k_scores, _ = check_classifier(keras_scores, labels)
        if k_scores.shape != fw_scores.shape:
            raise NotAClassifier(f"Keras outputs {k_scores.shape} and firmware outputs {fw_scores.shape} differ in shape")
        models["keras"] = k_scores
    classes = fw_scores.shape[1]
    names = [str(c) for c in range(classes)] if data.class_names is None else [str(n) for n in data.class_names]
    if len(names) != classes:
        raise NotAClassifier(f"{len(names)} class names for {classes} classes")
    counts = np.bincount(labels, minlength=classes)
    accuracy = {m: per_class_accuracy(s, labels) for m, s in models.items()}
    return {
        "data": data.label, "samples": int(len(labels)), "classes": names,
        "keras": data.reference if "keras" in models else None,
        "accuracy": {m: float(np.mean(s.argmax(axis=1) == labels)) for m, s in models.items()},
        "per_class": [{"class": names[c], "samples": int(counts[c]),
                       **{f"{m}_accuracy": accuracy[m][c] for m in models}} for c in range(classes)],
        "roc": {m: roc_curves(s, labels, max_points) for m, s in models.items()},
        "trigger": trigger_record(models, labels, names),
        **({"outputs": output_agreement(models["keras"], fw_scores)} if "keras" in models else {}),
    }


def no_labels_text() -> str:
    """What the report says where the design holds no labelled data."""
    return ("No labelled data in this design, so no per-class accuracy and no ROC curves: give held-out "
            "inputs with their integer labels (`hgq-fpga convert ... --check DATA.npz --check-array x "
            "--check-labels y`, or `build_design(..., labelled=(x_test, y_test))` in Python).")

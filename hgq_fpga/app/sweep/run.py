"""One run of a sweep (one Dask task): train, keep the Pareto checkpoints, calibrate, score, publish.

The run works in a hidden staging folder beside its final one (``runs/.NAME.tmp-XXXX``), writes
``result.json``, then the ``DONE`` marker last, and renames the staging folder to ``runs/NAME`` in
one step. So ``runs/NAME/DONE`` exists only for a complete run, a run killed at any point leaves
no ``runs/NAME`` at all, and a finished run is never rewritten: when two attempts of the same run
both finish (Dask may start a second one if it believed the first worker lost), the second one
sees the first one's ``DONE`` and discards its own copy.

Scores are those of the calibrated models, i.e. of the firmware (docs/method.md):
every checkpoint on the training-time front is calibrated on the training inputs, which gives its
exact EBOPs, then scored on the validation set (the front and the choice use only these) and on
the test set when the data file has one (reported, never used to select).
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from hgq_fpga.folders import default_mode, move_into_place
from hgq_fpga.pareto import pareto_indices

from hgq_fpga.app.stages import QUIET
from hgq_fpga.app.sweep.progress import emit
from hgq_fpga.app.sweep.spec import RunSpec

RUNS = "runs"
RESULT = "result.json"
DONE = "DONE"
CHECKPOINTS = "checkpoints"


def run_folder(out_dir: str | Path, name: str) -> Path:
    """The final folder of run ``name`` in the sweep folder ``out_dir``."""
    return Path(out_dir) / RUNS / name


def is_done(folder: Path) -> bool:
    """True when ``folder`` holds a complete run (its ``DONE`` marker is written last)."""
    return (Path(folder) / DONE).is_file()


def read_result(folder: Path) -> dict:
    """The ``result.json`` of a finished run folder."""
    return json.loads((Path(folder) / RESULT).read_text())


def resolve_entry_point(text: str, base_dir: str) -> Callable[..., Any]:
    """``"module:function"`` -> the function; the spec's folder is searched first for the module."""
    module_name, _, attr = text.partition(":")
    if base_dir and base_dir not in sys.path:
        sys.path.insert(0, base_dir)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"entry point {text!r}: cannot import {module_name!r} ({exc}); put it beside the "
                          "spec or on PYTHONPATH (on every worker)") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise AttributeError(f"entry point {text!r}: module {module_name!r} has no {attr!r}") from None


def _epoch_reporter(topic: str | None, run: str, epochs: int):
    import keras

    class EpochReporter(keras.callbacks.Callback):
        """Emit ``{"run", "epoch", "epochs", "val_accuracy", "ebops"}`` after every epoch."""

        def on_epoch_end(self, epoch: int, logs=None) -> None:
            logs = logs or {}
            msg = {"run": run, "epoch": epoch + 1, "epochs": epochs}
            msg.update({k: float(logs[k]) for k in ("val_accuracy", "ebops") if k in logs})
            emit(topic, msg)

    return EpochReporter()


def build_model(run: RunSpec):
    """A fresh model for ``run``: the entry point called with ``model_args``, or the saved
    ``.keras`` model's architecture with new weights (drawn from the run's seed)."""
    import keras

    from hgq_fpga.nn.model_files import load_keras_model

    arch = run.settings["architecture"]
    if arch.endswith(".keras"):
        saved = load_keras_model(run.path("architecture"))
        model = keras.models.clone_model(saved)
    else:
        model = resolve_entry_point(arch, run.base_dir)(**run.settings["model_args"])
    if not isinstance(model, keras.Model):
        raise TypeError(f"architecture {arch!r} gave a {type(model).__name__}, not a keras.Model")
    return model


def _accuracy(model, x, y, batch_size: int = 1024) -> float:
    import numpy as np

    from hgq_fpga.nn.recipe import accuracy

    return accuracy(np.concatenate([np.asarray(model(x[s:s + batch_size], training=False))
                                    for s in range(0, len(x), batch_size)]), y)


def train_and_score(run: RunSpec, folder: Path, topic: str | None = None, callbacks: Sequence = (),
                    stages=None) -> dict:
    """Train ``run`` writing its checkpoints into ``folder``; return its result record.

    ``callbacks``: more Keras callbacks (a progress bar, say), run after the spec's; ``stages``: an
    :class:`~hgq_fpga.app.stages.Stages` that reports the calibration of the checkpoints (default:
    silent, as on a Dask worker).
    """
    import numpy as np

    from hgq_fpga.nn.recipe import train_pareto
    from hgq_fpga.nn.seeding import seeded

    from .widths import set_initial_widths

    s = run.settings
    t0 = time.perf_counter()
    with np.load(run.path("data"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    validation = (arrays["x_val"], arrays["y_val"])
    with seeded(int(s["seed"])):  # not the process-wide RNG, which the worker's event loop draws from
        model = build_model(run)
        widths = s["init_widths"]
        if widths:
            set_initial_widths(model, widths.get("weight_bits"), widths.get("activation_f"), widths.get("weight_f"))
        extra = [resolve_entry_point(c, run.base_dir)() for c in s["callbacks"]]
        extra += [_epoch_reporter(topic, run.name, s["epochs"]), *callbacks]
        outcome = train_pareto(model, x_train, y_train, validation_data=validation, epochs=s["epochs"],
                               checkpoint_dir=folder / CHECKPOINTS, beta=tuple(s["beta"]),
                               learning_rate=s["learning_rate"], batch_size=s["batch_size"],
                               tolerance=s["tolerance"], callbacks=extra, ii=s.get("ii"))
    emit(topic, {"run": run.name, "stage": "calibrating"})
    with (stages or QUIET).stage(f"calibrating and scoring the {len(outcome.front)} checkpoints of the front"):
        points = _calibrated_points(outcome.front, x_train if s["n_calibration"] is None
                                    else x_train[:s["n_calibration"]], validation, arrays)
    front = [points[i] for i in pareto_indices([p["val_accuracy"] for p in points],
                                                [p["ebops"] for p in points])]
    return {"name": run.name, "settings": s, "fingerprint": run.fingerprint(), "points": points,
            "front": [points.index(p) for p in front], "history": outcome.history,
            "training_seconds": round(outcome.seconds, 2), "seconds": round(time.perf_counter() - t0, 2),
            "worker": {"host": socket.gethostname(), "pid": os.getpid()}}


def _calibrated_points(front, x_calib, validation, arrays: dict) -> list[dict]:
    """Every checkpoint of the training-time front, calibrated: exact EBOPs, validation (and test)
    accuracy of the firmware."""
    from hgq_fpga.nn.calibration import calibrate
    from hgq_fpga.nn.model_files import load_keras_model

    points = []
    for p in front:
        deployed = load_keras_model(p.path)
        point = {"epoch": p.epoch, "checkpoint": f"{CHECKPOINTS}/{Path(p.path).name}",
                 "training_val_accuracy": p.metric, "training_ebops": p.ebops,
                 "ebops": int(calibrate(deployed, x_calib)),
                 "val_accuracy": _accuracy(deployed, *validation)}
        if "x_test" in arrays and "y_test" in arrays:
            point["test_accuracy"] = _accuracy(deployed, arrays["x_test"], arrays["y_test"])
        points.append(point)
    return points


def _write_json(path: Path, data: Any) -> None:
    with open(path, "w") as fh:  # a new file in a fresh staging folder: the umask applies
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())


def publish(staging: Path, final: Path) -> bool:
    """Put the complete ``staging`` folder at ``final`` in one step; False if a finished run got
    there first (then ``staging`` is left for the caller to delete). An unfinished run folder (a
    ``result.json`` without ``DONE``) is replaced; anything else at ``final`` is never touched."""
    if is_done(final):
        return False
    try:
        move_into_place(staging, final,
                        ours=lambda folder: (folder / RESULT).is_file() and not is_done(folder))
    except FileExistsError:
        if is_done(final):  # another attempt finished first
            return False
        raise
    return True


def produce(final: Path, work: Callable[[Path], dict]) -> tuple[dict, bool]:
    """Build a result folder atomically: ``work(staging)`` fills a hidden staging folder beside
    ``final`` and returns the record; ``result.json`` and then ``DONE`` are written, and the folder
    is renamed to ``final``. Returns ``(record, published)``; an already finished ``final`` is
    returned as it is (``published`` False) and never rewritten."""
    final = Path(final)
    if is_done(final):
        return read_result(final), False
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    os.chmod(staging, default_mode(folder=True))
    try:
        record = work(staging)
        _write_json(staging / RESULT, record)
        (staging / DONE).write_text("")  # last: the folder is complete
        published = publish(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return (record if published else read_result(final)), published


def execute(run: RunSpec, out_dir: str, topic: str | None = None) -> dict:
    """The Dask task: run ``run`` unless it is finished; return ``{"name", "skipped", "seconds"}``."""
    from hgq_fpga.app.tensorflow_env import prepare

    prepare()   # a worker's TensorFlow start-up notices stay off the terminal too
    record, published = produce(run_folder(out_dir, run.name), lambda staging: train_and_score(run, staging, topic))
    return {"name": run.name, "skipped": not published, "seconds": record["seconds"]}

"""Training time of the 784-64-32-32-10 HGQ MLP against the same plain Keras (float) Dense MLP
and against the same MLP in HGQ2 (PyPI ``hgq2==0.2.0``), the reference implementation, on each
Keras backend hgq_fpga supports: TensorFlow in graph mode (``tf.function``), TensorFlow with XLA
(``jit_compile=True``) and JAX (``jit``, Keras's default there).

Whole ``fit`` epochs of real data (Fashion-MNIST when installed, else the synthetic stand-in), at
batch 64 and at batch 1024. Keras fixes its backend when it is imported, so each mode runs in a
process of its own (``python -m bench.studies.training_time.run MODE SETTINGS``, :func:`mode_worker`),
one mode after the other: ours and plain Keras run in that process; HGQ2 runs in a worker process
inside its own venv on the same backend (``bench/contenders/hgq2_env.py``, ``hgq2_worker.py``:
HGQ2 must never share a venv with hgq_fpga), driven through a proxy with the same "one epoch,
return its seconds" interface. After one untimed warm-up epoch each (tracing, compiling), the
contenders are timed **interleaved**, one epoch each per round, the order rotated every round
(A B C, B C A, C A B, ...; three contenders are never timed twice in a row, see :func:`interleaved`);
each gets ``rounds`` >= 5 timed epochs, and each ratio is the **median over rounds** of that round's
ratio, beside its quartiles (:func:`batch_summary`). Absolute times on a shared
CPU are not the machine's; the ratios within one mode are the result. The HGQ models pay for the
fake quantization of every weight and activation, the range tracking and the EBOPs term.

Targets (issue 19, 34): HGQ / plain <= 1.5 at batch 64 and <= 1.2 at batch 1024, and ours faster
than HGQ2 at both batches, in every mode.

    python -m bench run training_time [--quick] [--rounds 6] [--n-train N] [--modes graph,xla,jax]
                                      [--no-hgq2] [--hgq2-venv /work/venvs/hgq2] [--out DIR]

runs the modes and stores the record; ``run(quick)`` (this process's backend, graph mode) is also
the suite's training benchmark (:mod:`bench.studies.speed.run`).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Protocol

import click
import keras
import numpy as np

from bench.cli import out_option
from bench.contenders.hgq2_env import worker_command, worker_env

#: batch size -> the largest acceptable HGQ / plain epoch-time ratio
TARGETS = {64: 1.5, 1024: 1.2}
#: mode -> (KERAS_BACKEND, jit_compile)
MODES = {"graph": ("tensorflow", False), "xla": ("tensorflow", True), "jax": ("jax", True)}
MIN_ROUNDS = 5
#: the contenders in their order of the first round
ORDER = ("plain", "hgq", "hgq2")


def plain_mlp() -> keras.Model:
    inp = keras.Input((784,))
    x = keras.layers.Dense(64, activation="relu")(inp)
    x = keras.layers.Dense(32, activation="relu")(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inp, keras.layers.Dense(10)(x))


def hgq_mlp() -> keras.Model:
    from hgq_fpga.nn.layers import HDense, HQuantize

    inp = keras.Input((784,))
    x = HQuantize()(inp)
    x = HDense(64, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    x = HDense(32, activation="relu", beta=1e-6)(x)
    return keras.Model(inp, HDense(10, beta=1e-6)(x))


class Contender(Protocol):
    """Something the benchmark can time: one whole training epoch per call."""

    def epoch(self) -> float:
        """Run one epoch; return its wall seconds."""
        ...


class KerasContender:
    """A Keras model of this process, compiled like every contender (Adam(1e-3), sparse categorical
    cross-entropy from logits; ``jit``: XLA), one ``fit`` epoch of ``(x, y)`` at ``batch`` per call."""

    def __init__(self, model: keras.Model, x: np.ndarray, y: np.ndarray, batch: int, jit: bool = False) -> None:
        self.model, self.x, self.y, self.batch = model, x, y, batch
        model.compile(keras.optimizers.Adam(1e-3),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit)

    def epoch(self) -> float:
        t0 = time.perf_counter()
        self.model.fit(self.x, self.y, batch_size=self.batch, epochs=1, verbose=0)
        return time.perf_counter() - t0


class WorkerContender:
    """Proxy of a model trained in a worker process (``hgq2_worker.py``'s line protocol):
    ``epoch()`` asks for one epoch at ``batch`` and returns the seconds the worker measured around
    its own ``fit``, so the pipe's latency is not counted."""

    def __init__(self, worker, batch: int, timeout: float = 600.0) -> None:
        self.worker, self.batch, self.timeout = worker, int(batch), timeout

    def epoch(self) -> float:
        answer = self.worker.request(f"epoch {self.batch}", self.timeout)
        seconds = answer.get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"{self.worker.name}: expected {{'seconds': s >= 0}}, got {answer}")
        return float(seconds)


def interleaved(contenders: dict[str, Contender], rounds: int) -> dict[str, list[float]]:
    """Epoch times of each contender: one untimed warm-up epoch each (in order), then ``rounds``
    rounds of one timed epoch each, the order rotated by one every round (A B C, B C A, C A B, ...).

    Rotated, not reversed: an epoch that directly follows the same model's previous epoch runs
    faster (measured on 2 cores: the same plain MLP 1.26x faster at the two ends of a reversed order,
    A B C C B A, than in the middle). Rotating three or more contenders never times one twice in a
    row (two alternate, A B B A, each twice in a row equally often), and each takes every position
    equally often, so a drift of the machine's speed falls on all alike.
    """
    names = list(contenders)
    for name in names:
        contenders[name].epoch()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(contenders[name].epoch())
    return times


def hgq2_command(python: Path, x_path: Path, y_path: Path, jit: bool = False, seed: int = 0) -> list[str]:
    """The command line of the HGQ2 worker's timing mode (run by the HGQ2 venv's ``python``)."""
    return worker_command(python, "timing", {"x": str(x_path), "y": str(y_path), "jit": jit, "seed": seed})


def describe(model: keras.Model) -> dict:
    """Layer structure and parameter counts of a Keras model (the same fields as the HGQ2 worker's)."""
    model(np.zeros((2, *model.input_shape[1:]), np.float32), training=False)  # build every quantizer
    layers = [{"class": type(layer).__name__, "units": getattr(layer, "units", None),
               "activation": (a if isinstance(a := getattr(layer, "activation", None), str) or a is None
                              else getattr(a, "__name__", str(a))),
               "kernel": list(layer.kernel.shape) if hasattr(layer, "kernel") else None,
               "params": int(layer.count_params())} for layer in model.layers[1:]]
    float_weights = sum(int(np.prod(v.shape)) for layer in model.layers[1:]
                        for v in (getattr(layer, "kernel", None), getattr(layer, "bias", None)) if v is not None)
    return {"layers": layers, "params": int(model.count_params()),
            "trainable_params": sum(int(np.prod(v.shape)) for v in model.trainable_variables),
            "float_weights": float_weights}


def batch_summary(times: dict[str, list[float]], target: float | None) -> dict:
    """Medians and ratios of one batch size's epoch times (``times``: contender -> seconds, one
    entry per round, in round order).

    ``ratio`` is ours / plain (the issue's first target, ``meets_target``); with an ``"hgq2"`` entry
    also ``hgq2_ratio`` = HGQ2 / ours and ``meets_hgq2_target`` = ours strictly faster than HGQ2.
    A ratio is the median over rounds of that round's ratio: the epochs of one round run minutes
    apart at most, so a slow spell of the shared machine (it comes and goes: one record's plain
    epochs at batch 1024 took 0.37-0.42 s in seven rounds and 0.68-1.17 s in eight) slows both
    sides of a round's ratio, where it would shift one median against the other. The medians of the
    times themselves are kept for the table.
    """
    p, h = statistics.median(times["plain"]), statistics.median(times["hgq"])
    rounds = _round_ratios(times["hgq"], times["plain"])
    ratio = statistics.median(rounds)
    q1, _, q3 = statistics.quantiles(rounds, n=4)   # how far one round's reading strays on the shared machine
    out = {"plain_s": times["plain"], "hgq_s": times["hgq"], "plain_median_s": p, "hgq_median_s": h,
           "ratio": ratio, "ratio_quartiles": [q1, q3], "target": target,
           "meets_target": None if target is None else ratio <= target}
    if "hgq2" in times:
        q = statistics.median(_round_ratios(times["hgq2"], times["hgq"]))
        out.update(hgq2_s=times["hgq2"], hgq2_median_s=statistics.median(times["hgq2"]), hgq2_ratio=q,
                   meets_hgq2_target=q > 1.0)
    return out


def _round_ratios(top: list[float], bottom: list[float]) -> list[float]:
    """``top[r] / bottom[r]`` of every round ``r``."""
    if len(top) != len(bottom):
        raise ValueError(f"need one time per round on both sides, got {len(top)} and {len(bottom)}")
    return [a / b for a, b in zip(top, bottom)]


def _real_data(n_train: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    from bench.common import data

    try:
        split = data.fashion_mnist(n_train=n_train, n_val=5000)
    except data.DatasetMissingError:
        split = data.synthetic()
    x = split.x_train.reshape(len(split.x_train), -1).astype(np.float32)
    if x.shape[1] != 784:  # the synthetic stand-in has smaller images: pad to the MLP's input
        x = np.pad(x, ((0, 0), (0, 784 - x.shape[1])))
    return x, split.y_train, split.name


def run(quick: bool = False, rounds: int | None = None, n_train: int | None = None,
        batches: tuple[int, ...] = tuple(TARGETS), load: Callable | None = None, jit: bool = False,
        hgq2: bool = False, hgq2_venv: Path | None = None, hgq2_python: Path | None = None) -> dict:
    """Time the contenders at each batch size; return the measurements.

    Args:
        quick: 10,000 training images instead of all (the ratio is per epoch either way).
        rounds: timed epochs per model and batch (default 6; at least 5).
        load: ``n_train -> (x, y, name)`` (default: Fashion-MNIST, or the synthetic set).
        jit: compile every model with XLA (``jit_compile=True``; Keras' default on CPU is off).
        hgq2: also time HGQ2 (off by default so that library callers and CI need no network; the
            command line turns it on). Its venv is created on first use (``hgq2_env.py``).
        hgq2_venv: where that venv lives (default ``/work/venvs/hgq2``).
        hgq2_python: a ready interpreter to run the worker with instead (skips the venv check).

    Returns:
        ``{"data", "n_train", "rounds", "hgq2_requested", "models": {name: describe(...)},
        "per_batch": {batch: batch_summary(...)}, "ratio" (batch 1024's), "target_ratio",
        "meets_target" (ours / plain, every batch), "meets_hgq2_target" (ours faster than HGQ2 at
        every batch; only with hgq2)}``.
    """
    rounds = rounds or 6
    if rounds < MIN_ROUNDS:
        raise ValueError(f"need at least {MIN_ROUNDS} timed epochs per model, got rounds={rounds}")
    x, y, name = (load or _real_data)(10000 if quick and n_train is None else n_train)
    x, y = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(y)
    python = None
    if hgq2:
        from bench.contenders.hgq2_env import DEFAULT_VENV, ensure_hgq2_venv

        python = hgq2_python or ensure_hgq2_venv(hgq2_venv or DEFAULT_VENV)
    per_batch, models = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp, ExitStack() as stack:
        if python is not None:
            x_path, y_path = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
            np.save(x_path, x)
            np.save(y_path, y)
        for batch in batches:
            keras.utils.set_random_seed(0)
            plain, ours = plain_mlp(), hgq_mlp()
            if not models:
                models = {"plain": describe(plain), "hgq": describe(ours)}
            contenders: dict[str, Contender] = {"plain": KerasContender(plain, x, y, batch, jit),
                                                "hgq": KerasContender(ours, x, y, batch, jit)}
            if python is not None:
                from bench.common.line_worker import LineWorker

                worker = LineWorker(hgq2_command(python, x_path, y_path, jit), name="HGQ2 worker",
                                    env=worker_env(keras.backend.backend()))
                stack.callback(worker.close)
                models.setdefault("hgq2", {**worker.hello["model"], "hgq2": worker.hello.get("hgq2"),
                                           "keras": worker.hello.get("keras")})
                contenders["hgq2"] = WorkerContender(worker, batch)
            per_batch[str(batch)] = batch_summary(interleaved(contenders, rounds), TARGETS.get(batch))
            if python is not None:
                worker.close()
    last = per_batch[str(max(batches))]
    verdicts = [b["meets_target"] for b in per_batch.values() if b["meets_target"] is not None]
    out = {"data": name, "n_train": len(x), "rounds": rounds, "order": "interleaved, rotated", "xla": jit,
           "backend": keras.backend.backend(),
           "hgq2_requested": bool(hgq2), "models": models, "per_batch": per_batch, "batch": max(batches),
           "ratio": last["ratio"], "target_ratio": last["target"], "meets_target": all(verdicts) if verdicts else None}
    if python is not None:
        out["meets_hgq2_target"] = all(b["meets_hgq2_target"] for b in per_batch.values())
    return out


def mode_worker(mode: str, settings: dict) -> dict:
    """Run :func:`run` in this process for ``mode`` (whose backend this process was started on)."""
    backend, jit = MODES[mode]
    if keras.backend.backend() != backend:
        raise RuntimeError(f"mode {mode} needs KERAS_BACKEND={backend}, this process runs {keras.backend.backend()}")
    hgq2_venv = settings.pop("hgq2_venv", None)
    return run(jit=jit, **settings, hgq2_venv=Path(hgq2_venv) if hgq2_venv else None)


def run_mode(mode: str, **settings) -> dict:
    """:func:`run` for ``mode`` in a process of its own (its Keras backend); its record."""
    backend, _ = MODES[mode]
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items()}
    proc = subprocess.run([sys.executable, "-m", "bench.studies.training_time.run", mode, json.dumps(settings)],
                          env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} timing process failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def record(modes: tuple[str, ...] = tuple(MODES), **kwargs) -> dict:
    """Run every mode (``kwargs`` go to :func:`run`): the study's record, with the machine's load
    average before and after, since the ratio is measured on a shared machine."""
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    measured = {mode: run_mode(mode, **kwargs) for mode in modes}
    return {"modes": measured, "load_before": list(load_before), "load_after": list(os.getloadavg()),
            "cores": os.cpu_count(), "seconds": round(time.perf_counter() - t0, 1),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "targets": {str(b): t for b, t in TARGETS.items()}, "gpu": None}


@click.command()
@click.option("--quick", is_flag=True, help="10,000 training images")
@click.option("--rounds", type=int, default=None, help="timed epochs per model and batch (>= 5)")
@click.option("--n-train", type=int, default=None, help="training images per epoch")
@click.option("--modes", default=",".join(MODES), show_default=True,
              help="comma list of the modes to time: graph (TensorFlow), xla (TensorFlow, jit_compile), jax")
@click.option("--no-hgq2", is_flag=True, help="leave HGQ2 out (ours against plain Keras only)")
@click.option("--hgq2-venv", type=click.Path(path_type=Path), default=None,
              help="the HGQ2 venv, created when missing (default /work/venvs/hgq2)")
@out_option
def main(quick: bool, rounds: int | None, n_train: int | None, modes: str, no_hgq2: bool, hgq2_venv: Path | None,
         out) -> None:
    """Training time of HGQ against plain Keras and HGQ2: TensorFlow graph, XLA and JAX."""
    if rounds is not None and rounds < MIN_ROUNDS:
        raise click.BadParameter(f"need at least {MIN_ROUNDS} timed epochs per model, got {rounds}",
                                 param_hint="--rounds")
    chosen = tuple(m.strip() for m in modes.split(",") if m.strip())
    unknown = [m for m in chosen if m not in MODES]
    if unknown or not chosen:
        raise click.BadParameter(f"unknown mode {', '.join(unknown) or '(none)'}; expected a comma list of "
                                 f"{', '.join(MODES)}", param_hint="--modes")
    out.store("training_time", record(chosen, quick=quick, rounds=rounds, n_train=n_train, hgq2=not no_hgq2,
                                      hgq2_venv=hgq2_venv))


if __name__ == "__main__":     # one mode's process (run_mode): MODE and a JSON object of run()'s settings
    print(json.dumps(mode_worker(sys.argv[1], json.loads(sys.argv[2]))))

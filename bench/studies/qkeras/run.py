"""QKeras import benchmark (not run in CI): the hls4ml tutorial's jet tagger imported from QKeras,
beside an HGQ model of the same shape trained on the same data.

    python -m bench run qkeras [--work build/bench_qkeras] [--epochs 10] [--hgq-epochs 30] [--out DIR]

The hls4ml_lhc_jets_hlf data set cannot be downloaded here, so the data are **synthetic**:
:func:`synthetic_jets` draws 16 features of 5 classes from class-dependent Gaussians in a
6-dimensional latent space, mixed linearly and quadratically into 16 correlated features, with
noise, standardised on the training set and put on the ``ap_fixed<16,6>`` input grid. The numbers
compare the two flows on the same data; they are not jet-tagging accuracies.

Steps, each timed (wall clock, on a machine shared with other jobs):

1. QKeras 16-64-32-32-5 (``quantized_bits(6,0,alpha=1)``, ``quantized_relu(6)``, softmax) trained
   in the legacy environment (``bench/contenders/qkeras_legacy.py``);
2. ``import_qkeras(..., input_type="ap_fixed<16,6>", drop_softmax=True)`` and ``to_firmware``;
   the import's logits are compared with QKeras's own float32 logits on validation and test
   (mismatch count);
3. an HGQ model of the same shape trained with the recipe (β log-ramp, Pareto checkpoints) and
   the checkpoint chosen **on validation**: the fewest EBOPs with validation accuracy at least the
   QKeras model's minus ``--tolerance``;
4. both firmwares: EBOPs, test accuracy, and the RTL backend's Yosys 0.23 LUTs/FFs and latency.

and stores the record.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import click
import numpy as np

from bench.cli import out_option

LEGACY = Path(__file__).resolve().parents[2] / "contenders" / "qkeras_legacy.py"
INPUT_TYPE = "ap_fixed<16,6>"
INPUT_F = 10


def synthetic_jets(n: int, seed: int, stats: tuple[np.ndarray, np.ndarray] | None = None):
    """``(x, y, (mean, std))``: 16 features of 5 classes (see the module docstring), on the input grid."""
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(1234)                      # the same "physics" for every split
    centres = mix.normal(0, 1.0, (5, 6))
    linear = mix.normal(0, 1, (6, 16))
    quad = mix.normal(0, 0.3, (6, 16))
    y = rng.integers(0, 5, n)
    z = centres[y] + rng.normal(0, 1.0, (n, 6))
    x = z @ linear + (z ** 2) @ quad + rng.normal(0, 0.5, (n, 16))
    if stats is None:
        stats = (x.mean(0), x.std(0))
    x = np.clip((x - stats[0]) / stats[1], -31, 31)
    x = (np.round(x * 2.0 ** INPUT_F) / 2.0 ** INPUT_F).astype(np.float32)
    return x, y.astype(np.int64), stats


def make_data(n_train: int, n_val: int, n_test: int, seed: int) -> dict[str, np.ndarray]:
    x_train, y_train, stats = synthetic_jets(n_train, seed)
    x_val, y_val, _ = synthetic_jets(n_val, seed + 1, stats)
    x_test, y_test, _ = synthetic_jets(n_test, seed + 2, stats)
    return dict(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def rtl(fw, folder: Path) -> dict:
    """Yosys figures of our RTL for ``fw`` and the simulated mismatches against the emulator."""
    from hgq_fpga.backends.rtl import write_project

    start = time.perf_counter()
    prj = write_project(fw, folder, replace=True)
    rep = prj.synth(tool="yosys", timeout=3600)
    return {"LUT": rep["resources"].get("LUT"), "FF": rep["resources"].get("FF"),
            "CARRY": rep["resources"].get("CARRY"), "latency_cycles": rep["latency_cycles"],
            "latency_ns": rep["latency_ns"], "clock_period_ns": rep["clock_period_ns"],
            "synth_s": time.perf_counter() - start}


def train_qkeras(folder: Path, epochs: int, seed: int) -> float:
    from hgq_fpga.nn.importers.qkeras.runner import legacy_env

    subprocess.run([sys.executable, str(LEGACY), str(folder), str(epochs), str(seed)], env=legacy_env(),
                   check=True, timeout=3600)
    return float((folder / "train_s.txt").read_text())


def import_qkeras_model(folder: Path, data: dict) -> tuple[dict, object]:
    import hgq_fpga
    from hgq_fpga.ir.resources import resources
    from hgq_fpga.nn.importers.qkeras.builder import import_qkeras

    start = time.perf_counter()
    result = import_qkeras(folder / "jet.h5", input_type=INPUT_TYPE, drop_softmax=True)
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    fw = hgq_fpga.to_firmware(result.model)
    convert_s = time.perf_counter() - start
    mismatches = {}
    for part in ("val", "test"):
        ref = np.load(folder / f"qkeras_logits_{part}.npy").astype(np.float64)
        ours = np.asarray(result.model.predict(data[f"x_{part}"], batch_size=1024, verbose=0), np.float64)
        emu = fw.predict(data[f"x_{part}"])
        mismatches[part] = int((ours != ref).sum()) + int((emu != ref).sum())
    ref_test = np.load(folder / "qkeras_logits_test.npy")
    ref_val = np.load(folder / "qkeras_logits_val.npy")
    row = {"import_s": import_s, "to_firmware_s": convert_s, "mismatches": mismatches,
           "ebops": int(resources(fw).ebops), "val_accuracy": accuracy(ref_val, data["y_val"]),
           "test_accuracy": accuracy(ref_test, data["y_test"])}
    return row, fw


def build_hgq():
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inputs = keras.Input((16,), name="x")
    x = HQuantize(output_quantizer={"overflow_mode": "SAT"}, name="inputs")(inputs)
    for n, units in enumerate((64, 32, 32), start=1):
        x = HDense(units, activation="relu", name=f"fc{n}")(x)
    return keras.Model(inputs, HDense(5, name="output")(x), name="jet_hgq")


def train_hgq(folder: Path, data: dict, epochs: int, beta: tuple[float, float], target_val: float,
              tolerance: float) -> tuple[dict, object]:
    import keras

    import hgq_fpga
    from hgq_fpga.ir.resources import resources
    from hgq_fpga.nn.quantizers.starts import DEFAULT_START
    from hgq_fpga.nn.recipe import train_pareto

    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    outcome = train_pareto(build_hgq(), data["x_train"], data["y_train"],
                           validation_data=(data["x_val"], data["y_val"]), epochs=epochs,
                           checkpoint_dir=folder / "hgq_checkpoints", beta=beta, batch_size=256,
                           learning_rate=3e-3)
    train_s = time.perf_counter() - start
    # on validation only: the fewest EBOPs that reach the QKeras model's accuracy (minus tolerance)
    front = sorted(outcome.front, key=lambda p: p.ebops)
    good = [p for p in front if p.metric >= target_val - tolerance]
    chosen = good[0] if good else max(front, key=lambda p: p.metric)
    model = keras.models.load_model(chosen.path, compile=False)
    hgq_fpga.calibrate(model, data["x_train"])
    fw = hgq_fpga.to_firmware(model)
    row = {"train_s": train_s, "epochs": epochs, "beta": list(beta), "tolerance": tolerance, "start": DEFAULT_START,
           "reached_target": bool(good), "chosen_val_accuracy": float(chosen.metric),
           "front": [{"ebops": float(p.ebops), "val_accuracy": float(p.metric)} for p in front],
           "ebops": int(resources(fw).ebops),
           "val_accuracy": accuracy(fw.predict(data["x_val"]), data["y_val"]),
           "test_accuracy": accuracy(fw.predict(data["x_test"]), data["y_test"])}
    return row, fw


@click.command()
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_qkeras"),
              show_default=True, help="working folder (data, models, RTL projects)")
@click.option("--epochs", type=int, default=10, show_default=True, help="QKeras training epochs")
@click.option("--hgq-epochs", type=int, default=30, show_default=True)
@click.option("--beta", type=(float, float), default=(1e-7, 3e-5), show_default=True)
@click.option("--tolerance", type=float, default=0.005, show_default=True,
              help="validation accuracy the HGQ pick may give up")
@click.option("--n-train", type=int, default=20000, show_default=True)
@click.option("--n-val", type=int, default=5000, show_default=True)
@click.option("--n-test", type=int, default=10000, show_default=True)
@click.option("--no-rtl", is_flag=True, help="skip the Yosys synthesis")
@out_option
def main(work: Path, epochs: int, hgq_epochs: int, beta: tuple[float, float], tolerance: float, n_train: int,
         n_val: int, n_test: int, no_rtl: bool, out) -> None:
    """The hls4ml tutorial's QKeras jet tagger imported, beside HGQ on the same (synthetic) data."""
    work.mkdir(parents=True, exist_ok=True)
    data = make_data(n_train, n_val, n_test, seed=16)
    np.savez(work / "data.npz", **data)
    record = {"data": {"kind": "synthetic 16-feature 5-class (bench.studies.qkeras.run.synthetic_jets)",
                       "n_train": n_train, "n_val": n_val, "n_test": n_test, "input_type": INPUT_TYPE},
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "note": "wall clock on a machine shared with other jobs"}}
    qk = {"train_s": train_qkeras(work, epochs, seed=16), "epochs": epochs}
    row, fw_q = import_qkeras_model(work, data)
    qk.update(row)
    hgq, fw_h = train_hgq(work, data, hgq_epochs, beta, qk["val_accuracy"], tolerance)
    if not no_rtl:
        qk["rtl"] = rtl(fw_q, work / "rtl_qkeras")
        hgq["rtl"] = rtl(fw_h, work / "rtl_hgq")
    record.update(qkeras=qk, hgq=hgq)
    click.echo(json.dumps({k: record[k] for k in ("qkeras", "hgq")}, indent=1))
    out.store("qkeras", record)

"""Training for II (issue 33): what the EBOPs-per-II cost (:mod:`hgq_fpga.nn.ii_cost`) changes in
the RTL built at II = 4.

    python -m bench run ii_training [--epochs 60] [--floors 3] [--work build/bench_ii_training]

A 64-32-10 HGQ MLP (the size of the RTL study's II-curve MLP) on scikit-learn's bundled digits, with
the demo's splits (1,078 training, 270 validation, 449 test images), is trained three times from
the same seed, so from the same initial weights and batch order: arm ``ebops`` with today's cost;
arm ``ii4`` with ``set_ii(model, 4)`` and the same β ramp; arm ``ii4_beta_x4`` with ``set_ii(model,
4)`` and the ramp times 4 (EBOPs per II are about EBOPs / 4, so the same β pulls about 4 times less;
this arm pulls about as hard as ``ebops``). Every epoch's model is calibrated on the training
images and frozen; its validation accuracy (the firmware emulator, exact), its exact EBOPs and
EBOPs per II at 4, and its test accuracy (reported, never used to choose) are recorded.

The choice uses validation data only. Each arm's front is that of (validation accuracy, EBOPs per
II at 4), the same yardstick for every arm. The accuracy floors are the lowest of the arms' best
validation accuracies and ``--floors - 1`` more, :data:`STEP` apart below it; at each floor each arm
gives its cheapest front model that reaches it. Those models' RTL is written at II = 4 and at II = 1
and synthesized by the RTL study's Yosys script (:func:`bench.studies.rtl.run.yosys`): LUT, FF and
latency. The RTL is not simulated here (its exactness at II > 1 is the RTL tests' business).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from bench.cli import out_option
from bench.common.machine import describe
from bench.studies.rtl.run import CLOCK_NS, _cpu, yosys

#: the II the ``ii4`` arm trains for, and the II values each chosen model is synthesized at
II = 4
SYNTH_II = (II, 1)
#: the arms: name -> (the ``ii`` of ``set_ii``, None: EBOPs; the factor on the β ramp)
ARMS = {"ebops": (None, 1.0), f"ii{II}": (II, 1.0), f"ii{II}_beta_x{II}": (II, float(II))}
#: distance between the accuracy floors (validation accuracy, absolute)
STEP = 0.02
#: the β ramp (of arm ``ebops``), Adam's learning rate, batch size and seed of every arm
BETA = (3e-7, 3e-4)
LEARNING_RATE, BATCH, SEED = 3e-3, 64, 0


def build(hidden: int):
    """The MLP: an input quantizer, HDense(hidden, relu), HDense(10)."""
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize
    inputs = keras.Input((64,), name="pixels")
    x = HQuantize(name="inputs")(inputs)
    x = HDense(hidden, activation="relu", name="dense1")(x)
    return keras.Model(inputs, HDense(10, name="logits")(x), name=f"digits_64_{hidden}_10")


def train_arm(ii: int | None, scale: float, splits: dict, hidden: int, epochs: int, folder: Path) -> float:
    """Train one arm, saving every epoch's model as ``folder/eNNN.keras``; the training seconds."""
    import keras

    from hgq_fpga.nn.callbacks import BetaScheduler
    from hgq_fpga.nn.ii_cost import set_ii
    keras.utils.set_random_seed(SEED)
    model = build(hidden)
    set_ii(model, ii)
    model.compile(keras.optimizers.Adam(LEARNING_RATE),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    folder.mkdir(parents=True, exist_ok=True)
    save = keras.callbacks.ModelCheckpoint(str(folder / "e{epoch:03d}.keras"), save_freq="epoch")
    t = time.perf_counter()
    model.fit(*splits["train"], epochs=epochs, batch_size=BATCH, verbose=0,
              callbacks=[BetaScheduler.log_ramp(BETA[0] * scale, BETA[1] * scale, epochs), save])
    return time.perf_counter() - t


def evaluate(path: Path, splits: dict):
    """One checkpoint calibrated on the training images and frozen: its numbers, and its firmware."""
    import hgq_fpga
    from hgq_fpga.nn.ebops import ebops
    from hgq_fpga.nn.model_files import load_keras_model
    from hgq_fpga.nn.recipe import accuracy
    model = load_keras_model(path)
    hgq_fpga.calibrate(model, splits["train"][0])
    fw = hgq_fpga.to_firmware(model)
    x_val, y_val = splits["val"]
    x_test, y_test = splits["test"]
    return {"epoch": int(path.stem[1:]), "val_accuracy": accuracy(fw.predict(x_val), y_val),
            "test_accuracy": accuracy(fw.predict(x_test), y_test), "ebops": int(fw.resources().ebops),
            "ebops_per_ii": float(ebops(model, ii=II))}, fw


def front(points: list[dict]) -> list[int]:
    """Epochs of the (validation accuracy, EBOPs per II) front, cheapest first."""
    from hgq_fpga.pareto import pareto_indices
    keep = pareto_indices([p["val_accuracy"] for p in points], [p["ebops_per_ii"] for p in points])
    return [points[i]["epoch"] for i in keep]


def floors(arms: dict, count: int) -> list[float]:
    """The common accuracy floors: the lowest of the arms' best validation accuracies, then STEP lower each.
    Not rounded: a floor rounded up above that best accuracy would leave its arm no point to reach it."""
    top = min(max(p["val_accuracy"] for p in arm["checkpoints"]) for arm in arms.values())
    return [top - i * STEP for i in range(count)]


def cheapest(arm: dict, floor: float) -> dict:
    """The arm's cheapest front point (EBOPs per II) whose validation accuracy reaches ``floor``."""
    by_epoch = {p["epoch"]: p for p in arm["checkpoints"]}
    return min((by_epoch[e] for e in arm["front"] if by_epoch[e]["val_accuracy"] >= floor),
               key=lambda p: p["ebops_per_ii"])


def synthesize(fw, folder: Path) -> dict:
    """Our RTL of ``fw`` at each of :data:`SYNTH_II`, synthesized: {str(ii): Yosys row}."""
    from hgq_fpga.backends.rtl import write_project
    rows = {}
    for ii in SYNTH_II:
        d = folder / f"ii{ii}"
        t = time.perf_counter()
        prj = write_project(fw, d, clock_period=CLOCK_NS, replace=True, ii=ii)
        write_s = time.perf_counter() - t
        row = yosys(" ".join(str(p) for p in prj.sources()), prj.top, d)
        row.update(latency_cycles=prj.latency, folding=prj.info.get("folding", {}),
                   lut_estimate=prj.info.get("lut_estimate"), write_s=round(write_s, 2))
        rows[str(ii)] = row
    return rows


def measure(work: Path, epochs: int, hidden: int, count: int, log=print) -> dict:
    """Train both arms, evaluate every checkpoint, choose at the floors and synthesize the choices."""
    from hgq_fpga.app.demo import digits_splits
    splits = digits_splits(SEED)
    arms, firmware = {}, {}
    for name, (ii, scale) in ARMS.items():
        log(f"[{name}] training {epochs} epochs")
        seconds = train_arm(ii, scale, splits, hidden, epochs, work / name)
        points = []
        for path in sorted((work / name).glob("e*.keras")):
            point, fw = evaluate(path, splits)
            points.append(point)
            firmware[name, point["epoch"]] = fw
        arms[name] = {"ii": ii, "beta_scale": scale, "train_s": round(seconds, 1), "checkpoints": points,
                      "front": front(points)}
        log(f"[{name}] front: {len(arms[name]['front'])} of {len(points)} checkpoints")
    levels = floors(arms, count)
    chosen, synthesized = [], {}
    for floor in levels:
        for name, arm in arms.items():
            point = cheapest(arm, floor)
            key = (name, point["epoch"])
            if key not in synthesized:
                log(f"[{name}] epoch {point['epoch']}: Yosys at II {', '.join(map(str, SYNTH_II))}")
                synthesized[key] = synthesize(firmware[key], work / name / f"rtl_e{point['epoch']:03d}")
            chosen.append({"floor": floor, "arm": name, **point, "rtl": synthesized[key]})
    return {"arms": arms, "floors": levels, "chosen": chosen}


@click.command()
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_ii_training"),
              show_default=True, help="checkpoints and RTL")
@click.option("--epochs", type=click.IntRange(min=1), default=60, show_default=True)
@click.option("--hidden", type=click.IntRange(min=1), default=32, show_default=True, help="hidden units")
@click.option("--floors", "count", type=click.IntRange(min=1), default=3, show_default=True,
              help="accuracy floors, STEP apart")
@out_option
def main(work: Path, epochs: int, hidden: int, count: int, out) -> None:
    """Digits MLP trained for EBOPs and for EBOPs per II at 4: Yosys LUT/FF at II 4 and 1."""
    from hgq_fpga.nn.quantizers.starts import DEFAULT_START

    machine = describe()
    t, c = time.perf_counter(), _cpu()
    work.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine,
              "settings": {"model": f"64-{hidden}-10", "data": "the demo's splits", "ii": II,
                           "epochs": epochs, "beta": list(BETA), "learning_rate": LEARNING_RATE,
                           "batch_size": BATCH, "seed": SEED, "step": STEP, "clock_ns": CLOCK_NS,
                           "start": DEFAULT_START},
              **measure(work, epochs, hidden, count)}
    record.update(wall_s=round(time.perf_counter() - t, 1), cpu_s=round(_cpu() - c, 1))
    print(json.dumps(record["chosen"], indent=1), flush=True)
    out.store("ii_training", record)

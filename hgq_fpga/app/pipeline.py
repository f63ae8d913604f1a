"""The whole job of ``make demo`` and the examples: train with the recipe, build the design folder
of the chosen checkpoint, print the summary."""

from __future__ import annotations

import tempfile
from shlex import quote
from pathlib import Path
from typing import Any

import keras
import numpy as np
from rich.console import Console

from hgq_fpga.app.design import backend_list, build_design, check_destination, next_command
from hgq_fpga.app.report.classification import LabelledData
from hgq_fpga.app.report.console import print_summary
from hgq_fpga.app.report.progress import RichProgress
from hgq_fpga.app.stages import Stages
from hgq_fpga.nn.recipe import accuracy, train_pareto

#: where the design folder keeps the held-out test split (inputs ``x``, labels ``y``)
TEST_DATA = "data/test.npz"


def verify_command(out: str | Path) -> str:
    """The command that verifies design ``out`` on its saved test split, as it runs from a fresh shell."""
    return f".venv/bin/hgq-fpga verify {quote(str(out))} --data {quote(str(Path(out) / TEST_DATA))} --array x"


def train_and_deploy(model: keras.Model, splits: dict[str, tuple[np.ndarray, np.ndarray]], *,
                     epochs: int, out: str | Path, board: str = "vu9p", name: str = "myproject",
                     console=None, backend: str = "hls", synth: bool = False,
                     input_image: tuple[int, ...] | None = None,
                     class_names: list[str] | None = None,
                     **training_options: Any) -> int:
    """Train ``model`` with the recipe, deploy the chosen checkpoint to ``out`` and print the summary.

    ``splits`` holds ``"train"``, ``"val"`` and ``"test"`` pairs ``(x, integer labels)``. The
    chosen model is calibrated on the training inputs, verified (Keras = emulator = C++) on the whole
    test set, and its test accuracy is measured on the firmware emulator. The test split is saved in
    ``out/data/test.npz`` (arrays ``x`` and ``y``) so that ``hgq-fpga verify`` can be run on it
    again; the summary prints that command. The report gets the per-class accuracy and ROC curves
    on the test split (classes named by ``class_names``); ``input_image`` (e.g. ``(8, 8)``) draws
    the first layer's units as images of the input. An earlier design folder at ``out`` is
    replaced. ``backend`` and ``synth`` go to :func:`~hgq_fpga.app.design.build_design` (``"both"``
    and ``True``: also the RTL, simulated and synthesized with Yosys, whose LUTs and latency the
    summary shows). ``training_options`` go to :func:`train_pareto` (``beta``, ``batch_size``, ...).

    Returns:
        The exit status: 0 when all implementations agree on every test output, else 1.
    """
    console = console or Console()
    out = Path(out)
    check_destination(out, replace=True)
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out.name}-checkpoints-", dir=out.parent) as checkpoints:
        outcome = train_pareto(model, x_train, y_train, validation_data=splits["val"], epochs=epochs,
                               checkpoint_dir=checkpoints, callbacks=[RichProgress(epochs, console)],
                               **training_options)
        chosen = outcome.chosen
        n = len(outcome.front)
        console.print(f"Pareto front: {n} checkpoint{'' if n == 1 else 's'}; chosen epoch {chosen.epoch}: "
                      f"validation accuracy {100 * chosen.metric:.2f} %, {chosen.ebops:,.0f} EBOPs "
                      "(training estimate)")
        training = outcome.record()

        def evaluate(fw) -> dict:
            test_accuracy = accuracy(fw.predict(x_test), y_test)
            training["deployed"] = [fw.resources().ebops, test_accuracy]
            return {"test accuracy": test_accuracy}

        def extra_files(folder: Path) -> None:
            outcome.copy_checkpoints(folder)
            (folder / TEST_DATA).parent.mkdir(parents=True, exist_ok=True)
            np.savez(folder / TEST_DATA, x=x_test, y=y_test)

        record = {"training": training, **({"input_image": [int(d) for d in input_image]} if input_image else {})}
        result = build_design(outcome.model, x_train, out, board=board, name=name, backends=backend_list(backend),
                              synth=synth, checks={"whole test set": x_test}, evaluate=evaluate,
                              record=record, replace=True, extra_files=extra_files, progress=Stages(console),
                              labelled=LabelledData(x_test, y_test, "whole test set", class_names))
    print_summary(result.report, out, next_command(out, result.run), console=console)
    console.print(f"verify again on the saved test split: [bold cyan]{verify_command(out)}[/]", soft_wrap=True)
    if not result.ok:
        console.print(f"[red bold]verification FAILED[/]: {str(result.verification).rstrip()}")
        return 1
    return 0

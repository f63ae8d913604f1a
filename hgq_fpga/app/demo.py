"""``make demo``: the whole job on built-in data, from training to verified vu9p firmware.

    python -m hgq_fpga.app.demo [--epochs N] [--out build/demo] [--backend both|hls|rtl]

1. trains an HGQ MLP (64-32-16-10) on scikit-learn's bundled 8×8 ``load_digits`` images while β
   ramps up, keeping the (validation accuracy, EBOPs) Pareto front;
2. builds the design folder of the smallest-EBOPs checkpoint within one point of the best accuracy:
   calibration, firmware IR, Vitis HLS project for vu9p, C simulation compiled with g++, and the
   Verilog RTL (``rtl/``) with its Verilator simulation;
3. checks on the whole test set that Keras, the emulator, the C++ and the RTL give the same bits;
4. synthesizes the RTL with Yosys for vu9p (``build/demo/rtl/reports/``);
5. prints a summary (with LUTs, flip-flops, their share of vu9p and the latency in clock cycles
   and ns) and writes ``report/`` (Markdown, JSON, figures) into the project.

Nothing is downloaded. The exit status is 1 if any output value differs between the implementations.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console

from hgq_fpga.app.tensorflow_env import prepare

prepare()   # before TensorFlow is imported: its start-up notices stay off the terminal

DEFAULT_EPOCHS = 80
DEFAULT_OUT = "build/demo"
#: the demo writes both projects and synthesizes the RTL with Yosys
DEFAULT_BACKEND = "both"
BOARD = "vu9p"
SEED = 0


def digits_splits(seed: int = SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The 1,797 bundled digits as train / validation / test splits.

    The pixels (integers 0 to 16) are divided by 16, so the model sees values in [0, 1]; the test
    split the demo saves (``build/demo/data/test.npz``) is already scaled.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise SystemExit("Error: the demo needs scikit-learn for its bundled digits data: "
                         "pip install scikit-learn (`make demo` installs it)") from None
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.2, random_state=seed,
                                                      stratify=y_rest)
    return {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}


def build_model():
    """The demo network: an input quantizer and three HGQ dense layers (64-32-16-10)."""
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inputs = keras.Input((64,), name="pixels")
    x = HQuantize(name="inputs")(inputs)          # saturates: an input beyond the range clips
    x = HDense(32, activation="relu", name="dense1")(x)
    x = HDense(16, activation="relu", name="dense2")(x)
    return keras.Model(inputs, HDense(10, name="logits")(x), name="digits_mlp")


def main(epochs: int = DEFAULT_EPOCHS, out: str | Path = DEFAULT_OUT, seed: int = SEED,
         console: Console | None = None, backend: str = DEFAULT_BACKEND) -> int:
    """Run the demo; write the project to ``out`` (an earlier demo there is replaced).

    ``backend``: ``"both"`` (default), ``"hls"`` or ``"rtl"``; with the RTL the demo also runs
    Yosys and shows its LUTs, flip-flops and latency.

    Returns the exit status: 0 on success, 1 if any output differs between Keras, the emulator and
    the C++ / RTL, 2 if ``out`` is a folder the demo must not replace or a tool is missing.
    """
    import keras

    from hgq_fpga.app.design import check_destination
    from hgq_fpga.checks.design_folder import DesignError
    from hgq_fpga.app.pipeline import train_and_deploy

    console = console or Console()
    started = time.perf_counter()
    try:
        check_destination(Path(out), replace=True)  # before training: never clobber a foreign folder
    except DesignError as err:
        console.print(f"[red bold]Error:[/] {err}", soft_wrap=True)
        return 2
    rtl = backend in ("rtl", "both")
    if rtl:
        from hgq_fpga.backends.rtl import ToolMissingError
        from hgq_fpga.backends.rtl.tools import require
        try:
            require("verilator")
            require("yosys")
        except ToolMissingError as err:
            console.print(f"[red bold]Error:[/] {err} (or run the demo with --backend hls)", soft_wrap=True)
            return 2
    console.rule("[bold]hgq_fpga demo: digits MLP → verified vu9p firmware"
                 + (" (HLS and RTL)" if backend == "both" else f" ({backend.upper()})"))
    keras.utils.set_random_seed(seed)
    splits = digits_splits(seed)
    console.print(f"data: {len(splits['train'][0])} training, {len(splits['val'][0])} validation and "
                  f"{len(splits['test'][0])} test images of 8×8 pixels (scikit-learn load_digits, bundled; pixels divided by 16)")
    status = train_and_deploy(build_model(), splits, epochs=epochs, out=out, board=BOARD, console=console,
                              input_image=(8, 8), backend=backend, synth=rtl)
    console.print(f"done in {time.perf_counter() - started:.0f} s")
    return status


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               epilog="Steps: train while the EBOPs weight beta rises, keeping the accuracy/EBOPs Pareto front; "
                      "deploy the smallest checkpoint within one point of the best accuracy; check Keras = "
                      "emulator = C++ = RTL on the test set (saved to OUT/data/test.npz, pixels divided by 16); "
                      "synthesize the RTL with Yosys; write OUT/report/. Exit status 1 if any output differs.")
@click.option("--epochs", type=click.IntRange(min=1), default=DEFAULT_EPOCHS, show_default=True,
              help="Training epochs.")
@click.option("--out", default=DEFAULT_OUT, show_default=True, help="Design folder to write.")
@click.option("--seed", type=int, default=SEED, show_default=True, help="Random seed.")
@click.option("--backend", type=click.Choice(["both", "hls", "rtl"]), default=DEFAULT_BACKEND, show_default=True,
              help="Projects to write (both: HLS, and RTL synthesized with Yosys).")
def cli(epochs: int, out: str, seed: int, backend: str) -> None:
    """Train an HGQ MLP on the bundled 8x8 digits and write verified vu9p firmware (HLS and RTL)."""
    raise SystemExit(main(epochs=epochs, out=out, seed=seed, backend=backend))


if __name__ == "__main__":
    cli(prog_name="python -m hgq_fpga.app.demo")

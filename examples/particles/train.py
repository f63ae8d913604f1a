"""Train a reference particle architecture with the HGQ recipe and build its verified design folder.

    .venv/bin/python -m examples.particles.train deep_sets --data jets --epochs 30 --out build/particles/deep_sets
    .venv/bin/python -m examples.particles.train transformer --data fashion-mnist --backend both --synth

The recipe is the library's (:func:`hgq_fpga.nn.recipe.train_pareto`: β ramp, Pareto checkpoints,
the smallest checkpoint within one point of the best validation accuracy); the design folder holds
the chosen model's projects, verified Keras = emulator = C++ (= RTL) on the whole test split, which
is saved in ``OUT/data/test.npz``. Data: the toy jets (synthetic, :func:`.data.toy_jets`), point-cloud
digits (bundled with scikit-learn) or point-cloud Fashion-MNIST (Debian's ``dataset-fashion-mnist``).
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from examples.particles import data as datasets  # noqa: E402
from examples.particles.models import ARCHITECTURES  # noqa: E402

DATA = ("jets", "digits", "fashion-mnist")


def load(name: str, n_particles: int, n_events: int | None, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(x, y, class names)`` of a particle data set."""
    if name == "jets":
        x, y = datasets.toy_jets(n_events or 20000, n_particles, seed=seed)
        return x, y, list(datasets.JET_CLASSES)
    if name == "digits":
        x, y = datasets.digits_point_clouds(n_particles)
    else:
        x, y = datasets.fashion_mnist_point_clouds(n_particles)
    if n_events is not None:
        x, y = x[:n_events], y[:n_events]
    return x, y, [str(c) for c in range(int(y.max()) + 1)]


def splits(x: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """60 % training, 20 % validation (the choice of checkpoint), 20 % test (reported only)."""
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    a, b = int(0.6 * len(x)), int(0.8 * len(x))
    return {"train": (x[:a], y[:a]), "val": (x[a:b], y[a:b]), "test": (x[b:], y[b:])}


def train(architecture: str, data: str = "jets", n_particles: int = 16, n_events: int | None = None,
          epochs: int = 30, out: str | Path = "build/particles", backend: str = "hls", synth: bool = False,
          seed: int = 0, console=None, **options) -> int:
    """Train ``architecture`` on ``data`` and build its design folder in ``out``; the exit status
    (0 when every implementation agrees on every test output). ``options`` go to the architecture's
    builder (``hidden=``, ``dim=``, ...)."""
    import keras

    from hgq_fpga.app.pipeline import train_and_deploy

    x, y, names = load(data, n_particles, n_events, seed)
    keras.utils.set_random_seed(seed)
    model = ARCHITECTURES[architecture](n=x.shape[1], f=x.shape[2], classes=len(names), **options)
    return train_and_deploy(model, splits(x, y, seed), epochs=epochs, out=out, name=architecture,
                            console=console, backend=backend, synth=synth, class_names=names)


@click.command(help=__doc__.split("\n\n")[0])
@click.argument("architecture", type=click.Choice(sorted(ARCHITECTURES)))
@click.option("--data", type=click.Choice(DATA), default="jets", show_default=True)
@click.option("--particles", "n_particles", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--events", "n_events", type=click.IntRange(min=10), default=None,
              help="Events to use [default: 20,000 toy jets, or the whole image set].")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--out", default=None, help="Design folder [default: build/particles/ARCHITECTURE].")
@click.option("--backend", default="hls", show_default=True, help="Projects to write (hls, rtl, cpp, both).")
@click.option("--synth", is_flag=True, help="Also synthesize the RTL with Yosys (needs an rtl backend).")
@click.option("--seed", type=int, default=0, show_default=True)
def main(architecture: str, data: str, n_particles: int, n_events: int | None, epochs: int, out: str | None,
         backend: str, synth: bool, seed: int) -> None:
    raise SystemExit(train(architecture, data, n_particles, n_events, epochs,
                           out or f"build/particles/{architecture}", backend, synth, seed))


if __name__ == "__main__":
    main()

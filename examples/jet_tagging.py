"""Jet tagging with HGQ on the hls4ml LHC jet data set, converted to a verified vu9p HLS project.

The data set is OpenML's ``hls4ml_lhc_jets_hlf``: 16 high-level substructure features per jet and
a label column ``class`` with one of five origins, g (gluon), q (light quark), W, Z and t (top).
This script does not download it: export it once to a local file and pass the path::

    python examples/jet_tagging.py jets.csv --epochs 30 --out build/jets

CSV needs nothing else; parquet needs pandas and pyarrow. The network is the standard
16-64-32-32-5 MLP of the hls4ml and HGQ papers. Features are standardised with the training
set's mean and standard deviation; the firmware takes the standardised features as input.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

#: the 16 features, in the order OpenML lists them
FEATURES = ("zlogz", "c1_b0_mmdt", "c1_b1_mmdt", "c1_b2_mmdt", "c2_b1_mmdt", "c2_b2_mmdt", "d2_b1_mmdt",
            "d2_b2_mmdt", "d2_a1_b1_mmdt", "d2_a1_b2_mmdt", "m2_b1_mmdt", "m2_b2_mmdt", "n2_b1_mmdt",
            "n2_b2_mmdt", "mass_mmdt", "multiplicity")
#: class labels in the order of the network's outputs
CLASSES = ("g", "q", "w", "z", "t")
LABEL = "class"


class JetDataError(ValueError):
    """The jet file cannot be read or does not have the data set's layout; the message says why."""


def _label(text: str) -> str:
    """``'g'``, ``"b'g'"`` (bytes written as text) or ``' G '`` all become ``'g'``."""
    text = text.strip()
    if text[:2] in ("b'", 'b"'):
        text = text[2:-1]
    return text.strip("'\" ").lower()


def _table_from_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise JetDataError(f"{path} is empty")
    return [h.strip() for h in rows[0]], rows[1:]


def _table_from_parquet(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        import pandas
    except ImportError:
        raise JetDataError(f"reading {path} needs pandas and pyarrow: `pip install pandas pyarrow`, "
                           "or export the data set to CSV") from None
    try:
        frame = pandas.read_parquet(path)
    except ImportError as err:
        raise JetDataError(f"reading {path} needs pyarrow: `pip install pyarrow`, or export the data "
                           f"set to CSV ({err})") from None
    return [str(c) for c in frame.columns], frame.astype(str).values.tolist()


def load_jets(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(n, 16)`` float32 and labels ``(n,)`` (0..4 in :data:`CLASSES` order) from a file.

    Every column except ``class`` is a feature; there must be 16 of them. Raises
    :class:`JetDataError` for a missing file, a missing label column, a wrong feature count, a
    non-numeric feature value or an unknown class label.
    """
    path = Path(path)
    if not path.is_file():
        raise JetDataError(f"jet data file {path} does not exist")
    readers = {".csv": _table_from_csv, ".parquet": _table_from_parquet, ".pq": _table_from_parquet}
    if path.suffix.lower() not in readers:
        raise JetDataError(f"{path}: use a .csv or .parquet file")
    header, rows = readers[path.suffix.lower()](path)
    if LABEL not in header:
        raise JetDataError(f"{path} has no {LABEL!r} column; its columns are {', '.join(header)}")
    label_at = header.index(LABEL)
    feature_at = [n for n in range(len(header)) if n != label_at]
    if len(feature_at) != len(FEATURES):
        raise JetDataError(f"{path} has {len(feature_at)} feature columns besides {LABEL!r}, the data set "
                           f"has {len(FEATURES)} ({', '.join(FEATURES)})")
    if not rows:
        raise JetDataError(f"{path} has a header but no jets")
    index = {name: n for n, name in enumerate(CLASSES)}
    x = np.empty((len(rows), len(feature_at)), dtype=np.float32)
    y = np.empty(len(rows), dtype=np.int64)
    for n, row in enumerate(rows):
        line = n + 2
        if len(row) != len(header):
            raise JetDataError(f"{path} line {line} has {len(row)} values, the header {len(header)}")
        label = _label(row[label_at])
        if label not in index:
            raise JetDataError(f"{path} line {line}: unknown class {row[label_at]!r}; expected one of "
                               f"{', '.join(CLASSES)}")
        y[n] = index[label]
        try:
            x[n] = [float(row[j]) for j in feature_at]
        except ValueError:
            raise JetDataError(f"{path} line {line}: a feature value is not a number") from None
    if not np.isfinite(x).all():
        raise JetDataError(f"{path} has NaN or infinite feature values; remove those jets")
    return x, y


def split_and_standardise(x: np.ndarray, y: np.ndarray, seed: int = 0,
                          fractions: tuple[float, float] = (0.6, 0.2)) -> dict:
    """Shuffle into train / validation / test and standardise with the training statistics."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_train = int(fractions[0] * len(x))
    n_val = int(fractions[1] * len(x))
    if min(n_train, n_val, len(x) - n_train - n_val) < 1:
        raise JetDataError(f"{len(x)} jets are too few to split into training, validation and test sets")
    parts = np.split(order, [n_train, n_train + n_val])
    mean = x[parts[0]].mean(axis=0)
    std = x[parts[0]].std(axis=0)
    std[std == 0] = 1.0
    scaled = ((x - mean) / std).astype(np.float32)
    return {name: (scaled[idx], y[idx]) for name, idx in zip(("train", "val", "test"), parts)}


def build_model():
    """The 16-64-32-32-5 jet-tagging MLP with learned bit widths (saturating input quantizer)."""
    import keras

    from hgq_fpga.nn.layers import HDense, HQuantize

    inputs = keras.Input((len(FEATURES),), name="features")
    x = HQuantize(name="inputs")(inputs)          # saturates: an input beyond the range clips
    for n, units in enumerate((64, 32, 32), start=1):
        x = HDense(units, activation="relu", name=f"dense{n}")(x)
    return keras.Model(inputs, HDense(len(CLASSES), name="logits")(x), name="jet_tagger")


def main(path: str | Path, epochs: int = 30, out: str | Path = "build/jets", seed: int = 0,
         max_jets: int | None = None, batch_size: int = 512, console=None) -> int:
    """Load, train, convert for vu9p and verify; returns the exit status (0 = bit-exact)."""
    import keras

    from hgq_fpga.app.pipeline import train_and_deploy

    x, y = load_jets(path)
    if max_jets is not None:
        x, y = x[:max_jets], y[:max_jets]
    keras.utils.set_random_seed(seed)
    splits = split_and_standardise(x, y, seed)
    return train_and_deploy(build_model(), splits, epochs=epochs, out=out, board="vu9p", name="jet_tagger",
                            console=console, batch_size=batch_size, beta=(1e-7, 3e-5),
                            class_names=list(CLASSES))


@click.command(help=__doc__.split("\n\n")[0])
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--out", default="build/jets", show_default=True, help="Design folder.")
@click.option("--max-jets", type=click.IntRange(min=1), default=None, help="Use only the first N jets.")
@click.option("--batch-size", type=click.IntRange(min=1), default=512, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def cli(data: Path, epochs: int, out: str, max_jets: int | None, batch_size: int, seed: int) -> None:
    """DATA: hls4ml_lhc_jets_hlf as .csv (or .parquet with pandas + pyarrow)."""
    from hgq_fpga.checks.design_folder import DesignError

    try:
        raise SystemExit(main(data, epochs, out, seed, max_jets, batch_size))
    except (JetDataError, DesignError) as err:
        raise click.ClickException(str(err)) from None


if __name__ == "__main__":
    cli()

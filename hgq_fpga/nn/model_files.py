"""Open a user's Keras model file: the one place where hgq_fpga deserializes a ``.keras`` model."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras


def load_keras_model(path: str | Path) -> keras.Model:
    """The Keras 3 model in ``path`` (a ``.keras`` archive), with the hgq_fpga layers registered.

    Keras's ``safe_mode`` stays on: a file that would run code when loaded is refused.
    """
    import hgq_fpga.nn.layers  # noqa: F401  registers the HGQ layers for deserialisation

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found" for an existing file
        raise ValueError(f"model file {path} is not a Keras .keras archive (a zip file); save the model "
                         "with model.save('model.keras')")
    return keras.models.load_model(path, compile=False, safe_mode=True)

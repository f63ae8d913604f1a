"""What a saved ``.keras`` file says about its model, read without importing Keras or TensorFlow.

A ``.keras`` file is a zip archive whose ``config.json`` describes the model. The command line
reads the input shapes from it, so that a wrong feature count in the data is reported at once,
not after the 20 s that importing TensorFlow takes.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path


def saved_input_shapes(path: str | Path) -> list[tuple[int, ...]] | None:
    """The per-sample input shapes of the functional model saved in ``path`` (batch axis dropped).

    Returns None when the file is not a zip archive or its config does not name its input layers
    with a full shape (a subclassed or Sequential model without an input shape, say): then only
    loading the model can tell.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return None
    layers = {layer.get("name") or layer.get("config", {}).get("name"): layer
              for layer in (config.get("config") or {}).get("layers") or [] if isinstance(layer, dict)}
    inputs = (config.get("config") or {}).get("input_layers")
    if not inputs:
        return None
    if isinstance(inputs[0], str):  # a single input is stored as [name, node, tensor]
        inputs = [inputs]
    shapes = []
    for name, *_ in inputs:
        layer = layers.get(name)
        shape = None if layer is None else layer.get("config", {}).get("batch_shape")
        if layer is None or layer.get("class_name") != "InputLayer" or not shape:
            return None
        if any(not isinstance(n, int) for n in shape[1:]):
            return None
        shapes.append(tuple(shape[1:]))
    return shapes

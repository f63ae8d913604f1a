"""The neutral description of a QKeras model: the file pair the reader writes and the builder reads.

The reader runs in a legacy (Keras 2 / ``tf_keras``) subprocess, the builder in the user's Keras 3
process; they share nothing but this description, so it holds only JSON and numpy arrays:

* ``model.json``: ``{"format", "qkeras_version", "name", "inputs", "outputs", "layers"}`` where each
  layer is ``{"name", "class", "inbound": [[producer, tensor_index], ...], "config", "quantizers",
  "arrays"}``. ``config`` is the Keras config reduced to plain JSON values; ``quantizers`` maps a
  role (``kernel``, ``bias``, ``activation``, ...) to ``{"class", "config"}`` for a QKeras
  quantizer or ``{"function": name}`` for a plain Keras activation; ``arrays`` maps a role to a
  key of the array file.
* ``arrays.npz``: float32 arrays, e.g. the kernel *as QKeras multiplies by it* (the output of its
  kernel quantizer, computed by QKeras itself in the subprocess).

Only numpy is imported here, so both sides can use it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "hgq_fpga.qkeras-description/1"
JSON_NAME = "model.json"
ARRAYS_NAME = "arrays.npz"
#: how the reader ends a failed run: one stderr line starting with REFUSED (the model cannot be
#: imported; the line names the layer or input) or FAILED (anything else: the error's type and
#: message), at most MESSAGE_CHARS long, after the Python traceback
REFUSED = "hgq_fpga qkeras reader refused: "
FAILED = "hgq_fpga qkeras reader failed: "
MESSAGE_CHARS = 300


def short_line(text: str, most: int = MESSAGE_CHARS) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``most`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= most else line[:most - 1].rstrip() + "…"


@dataclass
class LayerDescription:
    """One layer of the QKeras model (see the module docstring for the fields)."""

    name: str
    cls: str
    inbound: list[tuple[str, int]]
    config: dict[str, Any] = field(default_factory=dict)
    quantizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    arrays: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "class": self.cls, "inbound": [list(t) for t in self.inbound],
                "config": self.config, "quantizers": self.quantizers, "arrays": self.arrays}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "LayerDescription":
        return LayerDescription(d["name"], d["class"], [(str(a), int(b)) for a, b in d["inbound"]],
                                d.get("config", {}), d.get("quantizers", {}), d.get("arrays", {}))


@dataclass
class ModelDescription:
    """A whole QKeras model: inputs ``[(name, shape)]`` (``None`` where a dimension is not fixed),
    outputs ``[(layer, tensor_index)]``, layers in topological order, and the float32 arrays they
    refer to."""

    name: str
    inputs: list[tuple[str, tuple[int | None, ...]]]
    outputs: list[tuple[str, int]]
    layers: list[LayerDescription]
    arrays: dict[str, np.ndarray]
    qkeras_version: str = ""

    def layer(self, name: str) -> LayerDescription:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r} in the description of model {self.name!r}")

    def array(self, layer: LayerDescription, role: str) -> np.ndarray:
        return self.arrays[layer.arrays[role]]

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``model.json`` and ``arrays.npz`` into ``folder`` (created if needed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        doc = {"format": FORMAT, "qkeras_version": self.qkeras_version, "name": self.name,
               "inputs": [[n, list(s)] for n, s in self.inputs],
               "outputs": [list(o) for o in self.outputs],
               "layers": [layer.to_json() for layer in self.layers]}
        partial = folder / f".{ARRAYS_NAME}.partial.npz"
        np.savez(partial, **self.arrays)
        os.replace(partial, folder / ARRAYS_NAME)
        (folder / JSON_NAME).write_text(json.dumps(doc, indent=1, default=_plain))
        return folder

    @staticmethod
    def load(folder: str | os.PathLike) -> "ModelDescription":
        folder = Path(folder)
        doc = json.loads((folder / JSON_NAME).read_text())
        if doc.get("format") != FORMAT:
            raise ValueError(f"{folder / JSON_NAME} is not a QKeras model description "
                             f"(format {doc.get('format')!r}, expected {FORMAT!r})")
        with np.load(folder / ARRAYS_NAME) as data:
            arrays = {k: data[k] for k in data.files}
        return ModelDescription(doc["name"], [(n, tuple(s)) for n, s in doc["inputs"]],
                                [(str(a), int(b)) for a, b in doc["outputs"]],
                                [LayerDescription.from_json(d) for d in doc["layers"]], arrays,
                                doc.get("qkeras_version", ""))


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and arrays that Keras configs contain."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store a {type(value).__name__} in a QKeras model description")

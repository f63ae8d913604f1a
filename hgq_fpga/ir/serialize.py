"""Write and read a firmware graph as ``model.json`` (structure) + ``arrays.npz`` (integers).

The JSON carries a format version; loading any other version fails with a clear message rather
than misreading the file.  Saving writes into a staging sibling and moves it into place in one step
(:mod:`hgq_fpga.folders`), so an interrupted save never leaves a half-written model behind, and
only an earlier saved model is ever replaced.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from hgq_fpga.folders import move_into_place, observe, staging_folder
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.tensor import TensorType

FORMAT = "hgq_fpga.firmware"
FORMAT_VERSION = 1


class FormatError(ValueError):
    """The directory does not hold a firmware model this version can read."""


def _encode(prefix: str, value, arrays: dict):
    if isinstance(value, TensorType):
        for a in "kif":
            arrays[f"{prefix}.{a}"] = getattr(value, a)
        return {"__type__": prefix}
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, tuple):
        return {"__tuple__": list(value)}
    return value


def _decode(value, arrays):
    if isinstance(value, dict):
        if "__type__" in value:
            p = value["__type__"]
            return TensorType(*(np.asarray(arrays[f"{p}.{a}"], dtype=np.int64) for a in "kif"))
        if "__array__" in value:
            return np.asarray(arrays[value["__array__"]])
        if "__tuple__" in value:
            return tuple(value["__tuple__"])
    return value


def _fields(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def save_firmware(fw, path) -> None:
    """Write ``fw`` (anything with ``inputs``, ``ops`` and ``outputs``) to the directory ``path``."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "inputs": [{k: _encode(f"input{n}.{k}", v, arrays) for k, v in _fields(s).items()}
                   for n, s in enumerate(fw.inputs)],
        "ops": [dict(kind=op.kind, **{k: _encode(f"op{n}.{k}", v, arrays)
                                      for k, v in _fields(op).items()})
                for n, op in enumerate(fw.ops)],
        "outputs": list(fw.outputs),
    }
    seen = observe(path)
    if seen.exists and not seen.empty and not is_saved_firmware(path):
        raise FileExistsError(f"{path} exists and is not a saved firmware model; refusing to replace "
                              "it: choose a new folder")
    with staging_folder(path) as tmp:
        (tmp / "model.json").write_text(json.dumps(doc, indent=1))
        np.savez(tmp / "arrays.npz", **arrays)
        move_into_place(tmp, path, seen=seen, ours=is_saved_firmware)


def is_saved_firmware(path) -> bool:
    """Whether ``path`` holds a firmware model written by :func:`save_firmware` (any version)."""
    try:
        doc = json.loads((Path(path) / "model.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("format") == FORMAT


def read_graph(path) -> tuple[list[O.InputSpec], list[O.Op], list[str]]:
    """The ``(inputs, ops, outputs)`` of a graph written by :func:`save_firmware`; needs only numpy.

    Raises :class:`FormatError` naming what is missing or of another format version.
    """
    path = Path(path)
    jf = path / "model.json"
    if not jf.is_file():
        raise FormatError(f"{path}: no model.json; not a saved firmware model")
    try:
        doc = json.loads(jf.read_text())
    except json.JSONDecodeError as e:
        raise FormatError(f"{jf}: not valid JSON ({e})") from None
    if doc.get("format") != FORMAT:
        raise FormatError(f"{jf}: format {doc.get('format')!r} is not {FORMAT!r}")
    if doc.get("version") != FORMAT_VERSION:
        raise FormatError(f"{jf}: firmware format version {doc.get('version')!r} is not supported "
                          f"(this hgq_fpga reads version {FORMAT_VERSION}); re-export the model "
                          "with a matching hgq_fpga")
    if not (path / "arrays.npz").is_file():
        raise FormatError(f"{path}: model.json is there but arrays.npz is missing; the save is incomplete")
    with np.load(path / "arrays.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    inputs = [O.InputSpec(**{k: _decode(v, arrays) for k, v in s.items()}) for s in doc["inputs"]]
    ops = []
    for d in doc["ops"]:
        d = dict(d)
        kind = d.pop("kind")
        if kind not in O.OP_CLASSES:
            raise FormatError(f"{jf}: unknown op kind {kind!r}")
        ops.append(O.OP_CLASSES[kind](**{k: _decode(v, arrays) for k, v in d.items()}))
    return inputs, ops, list(doc["outputs"])

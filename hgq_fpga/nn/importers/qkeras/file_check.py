"""The check of a QKeras model file before anything loads it (no Keras imported here).

:func:`check_qkeras_file` reads the file's model configuration as JSON and refuses, naming the
layer, every layer class that the importer does not rebuild and everything that holds or fetches
code (:func:`hgq_fpga.nn.model_files.check_model_file`), so that ``tf_keras`` never deserializes a
``Lambda``'s bytecode. It runs in the user's process before the Keras 2 subprocess starts, and in
that subprocess again right before its ``load_model`` call.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from hgq_fpga.nn.importers.qkeras.quantizers import QKerasImportError
from hgq_fpga.nn.model_files import check_model_file, read_model_config

#: the layer classes that :mod:`.builder` rebuilds (its ``HANDLERS``), and the model inputs
LAYER_CLASSES = frozenset({
    "InputLayer",
    "QDense", "Dense", "QConv1D", "QConv2D", "Conv1D", "Conv2D", "QConv2DBatchnorm",
    "QActivation", "Activation", "ReLU", "Flatten", "Reshape", "Dropout",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "QAveragePooling2D",
    "Add", "Concatenate", "QBatchNormalization", "BatchNormalization",
})
#: the Keras 2 reader's command-line flag for the caller's ``trust=True`` (it then skips its check)
TRUST_FLAG = "--trust"


def check_qkeras_file(path: str | Path) -> None:
    """Refuse a QKeras model file (``.h5``, SavedModel, ``tf_keras`` ``.keras``) with code or
    with a layer the importer does not support, before anything loads it."""
    check_model_file(path, LAYER_CLASSES, "the QKeras importer")


def saved_keras_version(path: str | Path) -> str | None:
    """The Keras version that saved a model file, where the file records it: ``metadata.json`` of a
    ``.keras`` archive, the ``keras_version`` attribute of an ``.h5`` file; else None."""
    path = Path(path)
    if not path.is_file():
        return None
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                meta = json.loads(archive.read("metadata.json"))
        except (KeyError, ValueError, zipfile.BadZipFile):
            return None
        version = meta.get("keras_version") if isinstance(meta, dict) else None
        return str(version) if version else None
    import h5py

    if not h5py.is_hdf5(path):
        return None
    with h5py.File(path, "r") as f:
        version = f.attrs.get("keras_version")
    return version.decode() if isinstance(version, bytes) else (str(version) if version else None)


def refuse_keras3_file(path: str | Path) -> None:
    """Refuse, in one line saying what to do instead, a model file saved by Keras 3: ``tf_keras``
    cannot load it, and it is no QKeras model (an hgq_fpga model or a float Keras model)."""
    version = saved_keras_version(path)
    if version is None or not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 3:
        return
    try:
        hgq = _uses_hgq_layers(read_model_config(path))
    except (ValueError, OSError):
        hgq = False
    fix = (f"it holds hgq_fpga layers: hgq-fpga convert {path} --from hgq" if hgq else
           f"for a float model: hgq-fpga convert {path} --from float (or hgq_fpga.nn.ptq.quantize_float)")
    raise QKerasImportError(f"{path} is a Keras 3 model file (saved by Keras {version}), not a QKeras 0.9 "
                            f"(Keras 2) file; {fix}")


def _uses_hgq_layers(node: Any) -> bool:
    """Whether a model configuration names an hgq_fpga class anywhere."""
    if isinstance(node, list):
        return any(_uses_hgq_layers(v) for v in node)
    if not isinstance(node, dict):
        return False
    named = (str(node.get("module") or ""), str(node.get("registered_name") or ""))
    if named[0].startswith("hgq_fpga") or named[1].startswith("hgq_fpga>"):
        return True
    return any(_uses_hgq_layers(v) for v in node.values())

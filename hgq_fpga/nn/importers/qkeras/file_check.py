"""The check of a QKeras model file before anything loads it (no Keras imported here).

:func:`check_qkeras_file` reads the file's model configuration as JSON and refuses, naming the
layer, every layer class that the importer does not rebuild and everything that holds or fetches
code (:func:`hgq_fpga.nn.model_files.check_model_file`), so that ``tf_keras`` never deserializes a
``Lambda``'s bytecode. It runs in the user's process before the Keras 2 subprocess starts, and in
that subprocess again right before its ``load_model`` call.
"""

from __future__ import annotations

from pathlib import Path

from hgq_fpga.nn.model_files import check_model_file

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

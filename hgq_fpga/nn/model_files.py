"""Opening a model file that someone else wrote: read its configuration first, load it only then.

A Keras model file can carry Python code. A Keras 2 ``.h5`` file or SavedModel stores a ``Lambda``
layer's function as marshalled bytecode, and ``tf_keras.models.load_model`` turns it into a function
and calls it while it rebuilds the model; its ``safe_mode`` guards only the ``.keras`` format. A
config can also name a module to import or a custom object to look up. So before anything
deserializes a model, :func:`check_model_file` reads the file's model configuration as plain JSON
(the ``.h5`` ``model_config`` attribute with h5py, a SavedModel's ``keras_metadata.pb`` with
protobuf, a ``.keras`` archive's ``config.json`` with zipfile), walks every layer (nested models,
wrapped layers, the objects in their configs) and refuses the file, in one line naming the layer, if
any part of it carries or fetches code. The page docs/model_files.md says what is refused and why.

Every model file that hgq_fpga opens goes through here: :func:`load_keras_model` for Keras 3 files
(which keeps Keras's ``safe_mode=True`` as well), and
:func:`hgq_fpga.nn.importers.qkeras.file_check.check_qkeras_file` before the QKeras reader loads a
file in its Keras 2 subprocess. Importing this module imports neither Keras nor TensorFlow (the
Keras 2 subprocess uses it too).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Iterator

#: packages whose classes a model config may name (its ``module`` and ``registered_name``)
KNOWN_PACKAGES = ("keras", "tf_keras", "qkeras", "hgq_fpga")
#: classes whose config holds code, or fetches it from elsewhere, with what they do
CODE_CLASSES = {
    "Lambda": "a Lambda layer runs a Python function stored in the file",
    "__lambda__": "a Python lambda stored in the file as bytecode",
    "TFSMLayer": "a TFSMLayer loads a TensorFlow SavedModel named in its config",
    "TorchModuleWrapper": "a TorchModuleWrapper holds a pickled PyTorch module",
    "JaxLayer": "a JaxLayer holds Python functions",
    "FlaxLayer": "a FlaxLayer holds Python functions",
}
#: config keys under which a model config holds layers
_LAYER_KEYS = ("layers", "layer", "forward_layer", "backward_layer", "cell", "cells")
#: parts of the root config that loading without compiling never reads (hgq_fpga never compiles a
#: loaded model); a nested model's compile_config is read (Keras compiles it), so it is checked
_UNREAD_KEYS = ("compile_config",)
#: the root classes of a model whose layers a config lists
_MODEL_CLASSES = ("Functional", "Sequential", "Model")
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]{24,}")


class ModelFileError(ValueError):
    """A model file that hgq_fpga refuses to open, and why; nothing in it has been loaded or run.

    ``opt_in`` is the spelling of the way to open a trusted file anyway (``trust=True`` in Python,
    ``--trust-file`` on the command line), or None where there is none; see :func:`offer`.
    """

    def __init__(self, path: str | Path, problem: str, opt_in: str | None = None) -> None:
        super().__init__(problem)
        self.path = Path(path)
        self.problem = problem
        self.opt_in = opt_in

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}; refused before loading, nothing in the file ran"
        if self.opt_in:
            text += (f" (for a file whose source you trust, {self.opt_in} skips this check: "
                     "see docs/model_files.md)")
        return text


@contextmanager
def offer(opt_in: str) -> Iterator[None]:
    """A :class:`ModelFileError` raised inside names ``opt_in`` as the way to open a trusted file.

    The outermost ``offer`` wins, so the command line says ``--trust-file`` where the Python
    function below it would say ``trust=True``.
    """
    try:
        yield
    except ModelFileError as err:
        err.opt_in = opt_in
        raise


def read_model_config(path: str | Path) -> dict[str, Any]:
    """The model configuration a file holds, ``{"class_name", "config", ...}``, read as JSON
    without loading anything.

    ``.h5``: the ``model_config`` attribute; ``.keras`` (Keras 3 or ``tf_keras``): ``config.json``
    of the zip archive; a SavedModel folder: the root object's metadata in ``keras_metadata.pb``.
    """
    return _configs(path)[0]


def check_model_file(path: str | Path, layer_classes: Collection[str] | None = None,
                     importer: str = "") -> dict[str, Any]:
    """Refuse ``path`` unless its configuration is free of code; return the configuration.

    Refused, with a :class:`ModelFileError` naming the layer: a class that holds or fetches code
    (:data:`CODE_CLASSES`: ``Lambda``, ...), any function stored as bytecode, a ``module`` outside
    :data:`KNOWN_PACKAGES` (loading would import it), a ``registered_name`` of a custom object
    registered outside them. With ``layer_classes`` (an importer's list, named ``importer`` in
    the message), also every layer of the model that is not in it.
    """
    config, *saved_objects = _configs(path)
    unread = {k: v for k, v in config.items() if k not in _UNREAD_KEYS}
    try:
        for node, is_layer in [(unread, False)] + [(meta, True) for meta in saved_objects]:
            for where, problem in _walk(node, "", "", is_layer):
                raise ModelFileError(path, f"{where}: {problem}")
    except RecursionError:
        raise ModelFileError(path, "its configuration is nested too deeply to check") from None
    if layer_classes is not None:
        _check_layer_classes(path, config, layer_classes, importer)
    return config


def load_keras_model(path: str | Path, trust: bool = False):
    """A Keras 3 model file (``.keras``, or a Keras 3 ``.h5``) loaded without compiling.

    Args:
        path: the model file.
        trust: skip :func:`check_model_file` for a file whose source you trust. Keras's own
            ``safe_mode`` stays on either way: Keras still refuses a ``Lambda`` that holds bytecode.

    Raises:
        ModelFileError: the file holds or fetches code (see :func:`check_model_file`).
    """
    if not trust:
        with offer("trust=True"):
            check_model_file(path)
    import keras

    import hgq_fpga.nn.layers  # noqa: F401  registers the HGQ layers for deserialisation

    return keras.models.load_model(path, compile=False, safe_mode=True)


# ------------------------------------------------------------------------------- reading

def _configs(path: str | Path) -> list[dict[str, Any]]:
    """The model configuration (see :func:`read_model_config`), then, for a SavedModel, the metadata
    of every other object it saved (each layer's, which tf_keras may revive on its own)."""
    path = Path(path)
    if path.is_dir():
        return _saved_model_configs(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return [_json(archive.read("config.json"), path, "config.json")]
        except KeyError:
            raise ModelFileError(path, "the .keras archive holds no config.json") from None
    import h5py

    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            text = f.attrs.get("model_config")
        if text is None:
            raise ModelFileError(path, "the .h5 file holds no model_config (a weights-only file?)")
        return [_json(text, path, "model_config")]
    raise ValueError(f"model file {path} is not a Keras .keras archive (a zip file), an .h5 file or a SavedModel "
                     "folder: nothing was loaded; save the model with model.save('model.keras')")


def _json(text: str | bytes, path: Path, what: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except (ValueError, TypeError, RecursionError) as err:
        raise ModelFileError(path, f"its {what} is not JSON ({type(err).__name__})") from None
    if not isinstance(config, dict):
        raise ModelFileError(path, f"its {what} is not a model configuration")
    return config


def _saved_model_configs(folder: Path) -> list[dict[str, Any]]:
    """The metadata of every object in a SavedModel's ``keras_metadata.pb``, the root object's first."""
    if not (folder / "saved_model.pb").is_file():
        raise ModelFileError(folder, "a folder, but not a SavedModel (no saved_model.pb)")
    pb = folder / "keras_metadata.pb"
    if not pb.is_file():
        raise ModelFileError(folder, "the SavedModel has no keras_metadata.pb, so its Keras layers cannot be "
                             "read before loading (save it again with tf_keras, or as .h5)")
    metadata = _saved_metadata_message()
    try:
        metadata.ParseFromString(pb.read_bytes())
    except Exception as err:  # noqa: BLE001 - protobuf's DecodeError and kin
        raise ModelFileError(folder, f"its keras_metadata.pb cannot be read ({err})") from None
    nodes = [(node.node_path, _json(node.metadata, folder, f"keras_metadata.pb {node.node_path}"))
             for node in metadata.nodes]
    roots = [meta for node_path, meta in nodes if node_path == "root"]
    if not roots:
        raise ModelFileError(folder, "its keras_metadata.pb describes no root model")
    return roots[:1] + [meta for node_path, meta in nodes if node_path != "root"]


def _saved_metadata_message():
    """An empty ``SavedMetadata`` message (tf_keras's keras_metadata.pb), from its field numbers alone.

    Declared here with protobuf's descriptor classes instead of importing tf_keras's generated
    module, which would import TensorFlow: ``SavedMetadata {repeated SavedObject nodes = 1}``,
    ``SavedObject {string node_path = 3; string identifier = 4; string metadata = 5}`` (JSON).
    """
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fields = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="hgq_fpga_keras_metadata.proto",
                                               package="hgq_fpga_keras_metadata", syntax="proto3")
    saved_object = proto.message_type.add(name="SavedObject")
    for name, number in (("node_path", 3), ("identifier", 4), ("metadata", 5)):
        saved_object.field.add(name=name, number=number, type=fields.TYPE_STRING, label=fields.LABEL_OPTIONAL)
    proto.message_type.add(name="SavedMetadata").field.add(
        name="nodes", number=1, type=fields.TYPE_MESSAGE, label=fields.LABEL_REPEATED,
        type_name=".hgq_fpga_keras_metadata.SavedObject")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("hgq_fpga_keras_metadata.SavedMetadata"))()


# ------------------------------------------------------------------------------- walking

def _walk(node: Any, layer: str, key: str, is_layer: bool = False) -> Iterator[tuple[str, str]]:
    """``(where, problem)`` for every part of a config tree that holds or fetches code; ``layer`` is
    the path of layer names to ``node``, ``key`` the config key in that layer."""
    if isinstance(node, str):
        if _is_bytecode(node):
            yield _where(layer, key), "holds a Python function as bytecode, which loading would turn into code"
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, layer, key, is_layer)
        return
    if not isinstance(node, dict):
        return
    cls = node.get("class_name")
    if isinstance(cls, str) and is_layer:
        config = node.get("config")
        name = node.get("name") or (config.get("name") if isinstance(config, dict) else None) or "?"
        layer, key = f"{layer}/{name}" if layer else str(name), ""
        where = f"layer {layer!r} ({cls})"
    else:
        where = _where(layer, key)
    if isinstance(cls, str):
        for problem in _object_problems(node, cls):
            yield where, problem
    for k, value in node.items():
        yield from _walk(value, layer, key or (k if k != "config" else ""), is_layer=k in _LAYER_KEYS)


def _where(layer: str, key: str) -> str:
    if not layer:
        return f"the model's {key}" if key else "the model"
    return f"layer {layer!r}, its {key}" if key else f"layer {layer!r}"


def _object_problems(node: dict[str, Any], cls: str) -> Iterator[str]:
    """What is wrong with one serialized object ``{"class_name", "config", "module", ...}``."""
    if cls in CODE_CLASSES:
        yield CODE_CLASSES[cls]
    module = node.get("module")
    if isinstance(module, str) and module.split(".")[0] not in KNOWN_PACKAGES:
        yield (f"names the module {module!r} for {cls}, outside {', '.join(KNOWN_PACKAGES)} "
               "(loading would import it)")
    registered = node.get("registered_name")
    if isinstance(registered, str) and registered != cls:
        package = registered.partition(">")[0] if ">" in registered else ""
        if package not in KNOWN_PACKAGES:
            yield f"asks for the custom object {registered!r}, which is not part of {', '.join(KNOWN_PACKAGES)}"


def _is_bytecode(text: str) -> bool:
    """Whether ``text`` is base64 of a marshalled Python code object (how Keras stores a lambda).

    A marshalled code object starts with the type byte ``c`` (``0xe3`` with marshal's reference
    flag), then the argument, positional-only and keyword-only counts as 32-bit integers.
    """
    if len(text) < 24 or not _BASE64.fullmatch(text):
        return False
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(raw) < 13 or raw[0] not in (0x63, 0xE3):
        return False
    counts = [int.from_bytes(raw[n:n + 4], "little") for n in (1, 5, 9)]
    return all(c < 256 for c in counts)


def _check_layer_classes(path: str | Path, config: dict[str, Any], layer_classes: Collection[str],
                         importer: str) -> None:
    """Refuse a model that is not a Functional/Sequential model of ``layer_classes`` only."""
    cls = config.get("class_name")
    inner = config.get("config")
    layers = inner.get("layers") if isinstance(inner, dict) else None
    if cls not in _MODEL_CLASSES or not isinstance(layers, list):
        raise ModelFileError(path, f"the model is a {cls}, not a Functional or Sequential model with a "
                             f"layer list, which {importer or 'hgq_fpga'} needs")
    for layer in layers:
        layer_cls = layer.get("class_name") if isinstance(layer, dict) else None
        if layer_cls not in layer_classes:
            config = layer.get("config") if isinstance(layer, dict) else None
            name = (layer.get("name") if isinstance(layer, dict) else None) or \
                (config.get("name") if isinstance(config, dict) else None) or "?"
            raise ModelFileError(path, f"layer {name!r} ({layer_cls}) is not supported by "
                                 f"{importer or 'hgq_fpga'}; supported: {', '.join(sorted(layer_classes))}")

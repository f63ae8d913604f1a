"""QKeras 0.9 import: a QKeras model file rebuilt bit-exactly from hgq_fpga layers.

Two processes take part. :mod:`.keras2_reader` **runs under Keras 2** (``tf_keras``, started by
:mod:`.runner` in a subprocess with ``TF_USE_LEGACY_KERAS=1``) and writes a neutral description
(:mod:`.description`: JSON and numpy arrays). Everything else runs in the user's Keras 3 process:
:mod:`.builder` rebuilds the model from the description, :mod:`.quantizers` and :mod:`.tables`
turn QKeras's activation quantizers into exact casts and tables, :mod:`.types` parses the fixed-point
types a user gives.

* :func:`import_qkeras` - the imported model and the notes on what its exactness assumes;
* :func:`qkeras_predict` - QKeras's own ``model.predict``, the reference it is compared with.

Names are loaded lazily: the Keras 2 reader subprocess imports this package and must not pull in
Keras 3.
"""

from __future__ import annotations

from hgq_fpga._lazy import lazy_getattr

_LAZY = {
    "import_qkeras": ("hgq_fpga.nn.importers.qkeras.builder", "import_qkeras"),
    "ImportResult": ("hgq_fpga.nn.importers.qkeras.builder", "ImportResult"),
    "QKerasImportError": ("hgq_fpga.nn.importers.qkeras.quantizers", "QKerasImportError"),
    "qkeras_predict": ("hgq_fpga.nn.importers.qkeras.runner", "qkeras_predict"),
    "describe_qkeras": ("hgq_fpga.nn.importers.qkeras.runner", "describe_qkeras"),
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)

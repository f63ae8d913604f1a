"""Import models trained with other tools as hgq_fpga models with fixed bit widths.

* :func:`from_qkeras` - a QKeras 0.9 model file (``.h5``, SavedModel, ``tf_keras`` ``.keras``),
  read in a legacy subprocess, rebuilt bit-exactly from hgq_fpga layers;
* :func:`retrainable` - an imported model with trainable bit widths, for HGQ fine-tuning.

Names are loaded lazily: the legacy reader subprocess imports this package and must not pull in
Keras 3.
"""

from __future__ import annotations

from hgq_fpga._lazy import lazy_getattr

_LAZY = {
    "from_qkeras": ("hgq_fpga.nn.importers.qkeras_builder", "from_qkeras"),
    "ImportResult": ("hgq_fpga.nn.importers.qkeras_builder", "ImportResult"),
    "QKerasImportError": ("hgq_fpga.nn.importers.qkeras_quantizers", "QKerasImportError"),
    "qkeras_predict": ("hgq_fpga.nn.importers.legacy", "qkeras_predict"),
    "describe_qkeras": ("hgq_fpga.nn.importers.legacy", "describe_qkeras"),
    "retrainable": ("hgq_fpga.nn.importers.retrain", "retrainable"),
}

__all__ = list(_LAZY)


__getattr__ = lazy_getattr(__name__, _LAZY)

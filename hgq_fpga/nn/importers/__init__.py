"""Import models trained with other tools as hgq_fpga models with fixed bit widths.

* :mod:`.qkeras` - QKeras 0.9 model files, read by a Keras 2 reader in a subprocess and rebuilt
  bit-exactly from hgq_fpga layers (:func:`hgq_fpga.nn.importers.qkeras.import_qkeras`).

Post-training quantization of float Keras models is a room of its own: :mod:`hgq_fpga.nn.ptq`.
"""

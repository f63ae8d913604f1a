"""Keras-side parts of hgq_fpga (layers, quantizers, importers)."""

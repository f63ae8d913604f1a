"""Importers: turn models from other tools (float Keras, QKeras, ...) into hgq_fpga models."""

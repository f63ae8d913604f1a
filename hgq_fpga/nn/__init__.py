"""The Keras-side room of hgq_fpga: layers, quantizers and importers of models from other tools."""

"""HGQ Keras layers: drop-in replacements for Keras layers with learned per-element bit widths.

The layer set (every one converts to the firmware IR with :func:`hgq_fpga.to_firmware`):

* input: :class:`HQuantize`;
* kernels: :class:`HDense`, :class:`HConv1D`, :class:`HConv2D`, and with a folded batch norm
  :class:`HDenseBatchNorm`, :class:`HConv1DBatchNorm`, :class:`HConv2DBatchNorm`;
* element-wise: :class:`HActivation` (relu exact; other functions become lookup tables; a
  :class:`CodeTable` function is a table given by its values, as the QKeras importer makes);
* merging: :class:`HAdd`, :class:`HConcatenate`;
* pooling: :class:`HMaxPooling1D`/``2D``, :class:`HAveragePooling1D`/``2D``;
* shape only: :class:`HFlatten`, :class:`HReshape`.

Public interface for the converter (after :func:`hgq_fpga.calibrate`):

* ``layer.input_types(i)`` / ``layer.output_types()``: per-element ``(k, i, f)`` int64 arrays;
* ``layer.output_modes()``: ``(round, overflow)`` of the output cast;
* kernel layers: ``quantized_kernel()`` / ``quantized_bias()``: exact float64 weight values
  (fused with the batch norm where there is one); ``kernel_types()`` / ``bias_types()``: their
  per-element ``(k, i, f)``;
* ``HActivation.table(x)``: calibrated-mode outputs, i.e. the lookup table for inputs ``x``;
* average pooling: ``c_f`` (fractional bits of the constant ``1/count``).
"""

from hgq_fpga.nn.layers.base import HLayer, HOutputQuantized, connected_hgq_layers, hgq_layers
from hgq_fpga.nn.layers.batchnorm import HConv1DBatchNorm, HConv2DBatchNorm, HDenseBatchNorm
from hgq_fpga.nn.layers.conv import HConv1D, HConv2D
from hgq_fpga.nn.layers.core import UNARY_ACTIVATIONS, HActivation, HFlatten, HQuantize, HReshape
from hgq_fpga.nn.layers.dense import HDense
from hgq_fpga.nn.layers.linear import HLinear
from hgq_fpga.nn.layers.lookup import CodeTable
from hgq_fpga.nn.layers.merge import HAdd, HConcatenate
from hgq_fpga.nn.layers.pooling import HAveragePooling1D, HAveragePooling2D, HMaxPooling1D, HMaxPooling2D

#: every layer class that has a firmware equivalent
LAYER_SET = (HQuantize, HDense, HDenseBatchNorm, HConv1D, HConv2D, HConv1DBatchNorm,
             HConv2DBatchNorm, HActivation, HAdd, HConcatenate, HMaxPooling1D, HMaxPooling2D,
             HAveragePooling1D, HAveragePooling2D, HFlatten, HReshape)

__all__ = ["HLayer", "HOutputQuantized", "HLinear", "HQuantize", "HDense", "HDenseBatchNorm",
           "HConv1D", "HConv2D", "HConv1DBatchNorm", "HConv2DBatchNorm", "HActivation", "HAdd",
           "HConcatenate", "HMaxPooling1D", "HMaxPooling2D", "HAveragePooling1D",
           "HAveragePooling2D", "HFlatten", "HReshape", "LAYER_SET", "UNARY_ACTIVATIONS",
           "hgq_layers", "connected_hgq_layers", "CodeTable"]

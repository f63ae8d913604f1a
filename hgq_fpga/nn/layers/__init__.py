"""HGQ Keras layers: drop-in replacements for Keras layers with learned per-element bit widths.

The layer set (every one converts to the firmware IR with :func:`hgq_fpga.to_firmware`):

* input: :class:`HQuantize`;
* kernels: :class:`HDense` (on the last axis of any rank), :class:`HEinsumDense` (any
  contraction with a constant kernel), :class:`HConv1D`, :class:`HConv2D`, and with a folded batch
  norm :class:`HDenseBatchNorm`, :class:`HConv1DBatchNorm`, :class:`HConv2DBatchNorm`;
  :class:`HBatchNormalization` standalone (a per-channel constant affine map);
* products of two activations: :class:`HEinsum` (a contraction), :class:`HMultiply` (element-wise);
* element-wise: :class:`HActivation` (relu exact; other functions become lookup tables; a
  :class:`CodeTable` function is a table given by its values, as the QKeras importer makes);
  :class:`HSoftmax` along an axis, bit-exact through exact tables;
* merging: :class:`HAdd` (broadcasting axes of size 1), :class:`HConcatenate`;
* reductions and pooling: :class:`HSum`, :class:`HMaxPooling1D`/``2D``,
  :class:`HAveragePooling1D`/``2D``, :class:`HGlobalAveragePooling1D`/``2D``,
  :class:`HGlobalMaxPooling1D`/``2D``;
* shape only: :class:`HFlatten`, :class:`HReshape`, :class:`HPermute`;
* a recipe: :class:`HMultiHeadAttention` builds Keras's multi-head attention from the primitives.

Public interface for the converter (after :func:`hgq_fpga.calibrate`):

* ``layer.input_types(i)`` / ``layer.output_types()``: per-element ``(k, i, f)`` int64 arrays;
* ``layer.output_modes()``: ``(round, overflow)`` of the output cast;
* kernel layers: ``quantized_kernel()`` / ``quantized_bias()``: exact float64 weight values
  (fused with the batch norm where there is one); ``kernel_types()`` / ``bias_types()``: their
  per-element ``(k, i, f)``;
* ``HActivation.table(x)``: calibrated-mode outputs, i.e. the lookup table for inputs ``x``;
* average pooling: ``c_f`` (fractional bits of the constant ``1/count``).
"""

from hgq_fpga.nn.layers.attention import HMultiHeadAttention
from hgq_fpga.nn.layers.base import HLayer, HOutputQuantized, connected_hgq_layers, hgq_layers
from hgq_fpga.nn.layers.batchnorm import (HBatchNormalization, HConv1DBatchNorm, HConv2DBatchNorm,
                                          HDenseBatchNorm)
from hgq_fpga.nn.layers.conv import HConv1D, HConv2D
from hgq_fpga.nn.layers.core import (UNARY_ACTIVATIONS, HActivation, HFlatten, HPermute, HQuantize,
                                     HReshape)
from hgq_fpga.nn.layers.dense import HDense
from hgq_fpga.nn.layers.einsum_dense import HEinsumDense
from hgq_fpga.nn.layers.linear import HLinear
from hgq_fpga.nn.layers.lookup import CodeTable
from hgq_fpga.nn.layers.merge import HAdd, HConcatenate
from hgq_fpga.nn.layers.pooling import HAveragePooling1D, HAveragePooling2D, HMaxPooling1D, HMaxPooling2D
from hgq_fpga.nn.layers.products import HEinsum, HMultiply
from hgq_fpga.nn.layers.reduction import (HGlobalAveragePooling1D, HGlobalAveragePooling2D,
                                          HGlobalMaxPooling1D, HGlobalMaxPooling2D, HSum)
from hgq_fpga.nn.layers.softmax import HSoftmax

#: every layer class that has a firmware equivalent
LAYER_SET = (HQuantize, HDense, HDenseBatchNorm, HConv1D, HConv2D, HConv1DBatchNorm,
             HConv2DBatchNorm, HActivation, HAdd, HConcatenate, HMaxPooling1D, HMaxPooling2D,
             HAveragePooling1D, HAveragePooling2D, HFlatten, HReshape, HEinsumDense,
             HBatchNormalization, HEinsum, HMultiply, HSum, HGlobalAveragePooling1D,
             HGlobalAveragePooling2D, HGlobalMaxPooling1D, HGlobalMaxPooling2D, HPermute, HSoftmax)

__all__ = ["HLayer", "HOutputQuantized", "HLinear", "HQuantize", "HDense", "HDenseBatchNorm",
           "HConv1D", "HConv2D", "HConv1DBatchNorm", "HConv2DBatchNorm", "HActivation", "HAdd",
           "HConcatenate", "HMaxPooling1D", "HMaxPooling2D", "HAveragePooling1D",
           "HAveragePooling2D", "HFlatten", "HReshape", "HEinsumDense", "HBatchNormalization",
           "HEinsum", "HMultiply", "HSum", "HGlobalAveragePooling1D", "HGlobalAveragePooling2D",
           "HGlobalMaxPooling1D", "HGlobalMaxPooling2D", "HPermute", "HSoftmax",
           "HMultiHeadAttention", "LAYER_SET", "UNARY_ACTIVATIONS", "hgq_layers",
           "connected_hgq_layers", "CodeTable"]

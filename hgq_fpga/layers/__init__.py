"""HGQ Keras layers: drop-in replacements for Keras layers with learned per-element bit widths.

Public interface for the converter (after :func:`hgq_fpga.calibrate`):

* ``layer.input_types(i)`` / ``layer.output_types()``: per-element ``(k, i, f)`` int64 arrays;
* ``layer.output_modes()``: ``(round, overflow)`` of the output cast;
* ``HDense.quantized_kernel()`` / ``quantized_bias()``: exact float64 weight values;
  ``kernel_types()`` / ``bias_types()``: their per-element ``(k, i, f)``;
* ``HActivation.table(x)``: deployment-mode outputs, i.e. the lookup table for inputs ``x``.
"""

from .base import HLayer, connected_hgq_layers, hgq_layers
from .conv import HConv1D, HConv2D
from .core import (UNARY_ACTIVATIONS, HActivation, HDense, HDenseBatchNorm, HFlatten, HQuantize,
                   HReshape)
from .merge import HAdd, HConcatenate, HMaxPooling1D, HMaxPooling2D

__all__ = ["HLayer", "HQuantize", "HDense", "HDenseBatchNorm", "HActivation", "HFlatten", "HReshape", "HConv1D",
           "HConv2D", "HAdd", "HConcatenate", "HMaxPooling1D", "HMaxPooling2D",
           "UNARY_ACTIVATIONS", "hgq_layers", "connected_hgq_layers"]

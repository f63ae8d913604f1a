"""Quantizers: one object quantizes one tensor (a kernel, a bias or an activation).

Layers hold quantizer objects and never branch on what kind of quantizer they hold.
"""

from hgq_fpga.nn.quantizers.fixed import FixedQuantizer
from hgq_fpga.nn.quantizers.hgq import (ACTIVATION_DEFAULTS, WEIGHT_DEFAULTS, HQuantizer,
                                        make_quantizer, serialize_quantizer)

__all__ = ["HQuantizer", "FixedQuantizer", "make_quantizer", "serialize_quantizer", "ACTIVATION_DEFAULTS",
           "WEIGHT_DEFAULTS"]

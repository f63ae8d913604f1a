"""Quantizers: one object quantizes one tensor (a kernel, a bias or an activation).

Layers hold quantizer objects and never branch on what kind of quantizer they hold. Besides HGQ's
:class:`HQuantizer`, the multiplier-free weight quantizers (``docs/method.md`` §8) and
:class:`FixedQuantizer` (the fixed types of imported QKeras models) are imported here, so that a
saved model that uses them loads without a further import.
"""

from hgq_fpga.nn.quantizers.fixed import FixedQuantizer
from hgq_fpga.nn.quantizers.hgq import (ACTIVATION_DEFAULTS, WEIGHT_DEFAULTS, HQuantizer,
                                        make_quantizer, serialize_quantizer)
from hgq_fpga.nn.quantizers.nhot import NHotQuantizer, nhot
from hgq_fpga.nn.quantizers.starts import DEFAULT_START, STARTS, quantizer_start
from hgq_fpga.nn.quantizers.ternary import TernaryQuantizer, ternary

__all__ = ["HQuantizer", "FixedQuantizer", "make_quantizer", "serialize_quantizer",
           "ACTIVATION_DEFAULTS", "WEIGHT_DEFAULTS", "NHotQuantizer", "nhot", "TernaryQuantizer",
           "ternary", "quantizer_start", "STARTS", "DEFAULT_START"]

"""The firmware IR: a frozen integer graph with per-element fixed-point types, and its emulator.

Pure numpy: importing this package never imports Keras or TensorFlow, so a saved firmware loads
and predicts anywhere.

* :class:`FirmwareBuilder` constructs graphs (types of intermediates are derived exactly);
* :class:`FirmwareModel` runs them bit-exactly in int64 (``predict``), reports bit widths and
  resources, and saves to JSON + .npz;
* :func:`load_firmware` reads a saved model.

Particle networks use the contractions: :class:`EinsumDense` (constant kernel), :class:`Einsum`
(two variables, also the element-wise product), :class:`Sum`, :class:`Max`, :class:`Transpose`,
and the broadcasting :class:`Add` and :class:`Subtract`; a softmax is their composition with
exact :class:`Table` ops (:mod:`hgq_fpga.ir.functions`).

Multiplier-free weights (n-hot, ternary) are ordinary Dense/Conv weight codes
(:class:`hgq_fpga.ir.ops.Dense`; ``docs/method.md`` §8).
"""

from hgq_fpga.ir.builder import FirmwareBuilder, weights_to_raw
from hgq_fpga.ir.emulator.kernels import WidthError
from hgq_fpga.ir.model import FirmwareModel, load_firmware
from hgq_fpga.ir.ops import (Add, AvgPool, Cast, Concatenate, Conv, Dense, Einsum, EinsumDense,
                             InputSpec, Max, MaxPool, Op, ReLU, Reshape, Subtract, Sum, Table,
                             Transpose)
from hgq_fpga.ir.serialize import FORMAT_VERSION, FormatError
from hgq_fpga.ir.tensor import TensorType

__all__ = ["FirmwareBuilder", "FirmwareModel", "load_firmware", "weights_to_raw", "WidthError",
           "FormatError", "FORMAT_VERSION", "TensorType", "InputSpec", "Op", "Cast", "Dense", "Conv",
           "Add", "Concatenate", "Reshape", "ReLU", "MaxPool", "AvgPool", "Table", "EinsumDense",
           "Einsum", "Subtract", "Sum", "Max", "Transpose"]

"""The operations of the firmware IR: plain data, one job each.

Every op produces exactly one tensor, named after the op, whose per-element type is ``out``.
Array fields are integer numpy arrays (raw codes and fractional-bit counts); no float constant
appears anywhere.  Execution lives in :mod:`hgq_fpga.ir.emulator.kernels`, type inference in
:mod:`hgq_fpga.ir.builder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hgq_fpga.ir.tensor import TensorType


@dataclass(eq=False)
class InputSpec:
    """A model input: quantized from float to ``type`` with ``round``/``overflow``. ``source`` is the
    name of the Keras model input it quantizes ("" for a graph built without a model), so that a
    batch given as a dict may use either name."""

    name: str
    type: TensorType
    round: str = "TRN"
    overflow: str = "WRAP"
    source: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape


@dataclass(eq=False)
class Op:
    """Base: ``name`` (also the output tensor's name), input tensor names, declared output type."""

    name: str
    inputs: tuple[str, ...]
    out: TensorType
    kind: ClassVar[str] = "op"

    @property
    def shape(self) -> tuple[int, ...]:
        return self.out.shape


@dataclass(eq=False)
class Cast(Op):
    """Requantize the input to ``out`` with ``round`` and ``overflow`` (ap_fixed assignment)."""

    round: str = "TRN"
    overflow: str = "WRAP"
    kind: ClassVar[str] = "cast"


@dataclass(eq=False)
class Dense(Op):
    """``acc[..., o] = Σ_j x[..., j]·w[j, o] + b[o]``; ``out`` is the exact accumulator type.

    ``w_raw``/``w_f``: ``(n_in, n_out)`` weight codes and their fractional bits (value
    ``w_raw·2^-w_f``; code 0 is a pruned weight, skipped).  ``b_raw``/``b_f``: ``(n_out,)``.
    Applies to the last axis; leading axes are independent positions.

    Multiplier-free weights (n-hot, fine-grained ternary; ``docs/method.md`` §8) are ordinary codes
    here: an n-hot weight is a code with at most ``n`` nonzero signed digits, a ternary group of
    scale ``α_g = a_g·2^-F_g`` is the codes ``±a_g`` (or 0) with ``w_f = F_g``. No other op or field
    is needed; :mod:`hgq_fpga.ir.adders` counts their cost.
    """

    w_raw: np.ndarray = None
    w_f: np.ndarray = None
    b_raw: np.ndarray = None
    b_f: np.ndarray = None
    kind: ClassVar[str] = "dense"


@dataclass(eq=False)
class Conv(Op):
    """N-d convolution, channels-last, Keras ``valid``/``same`` padding (zeros) and strides.

    ``w_raw``/``w_f``: kernel ``(*kernel_size, C_in, C_out)``; bias ``(C_out,)``.  ``out`` is the
    exact accumulator type ``(*out_spatial, C_out)``.
    """

    w_raw: np.ndarray = None
    w_f: np.ndarray = None
    b_raw: np.ndarray = None
    b_f: np.ndarray = None
    strides: tuple[int, ...] = (1,)
    padding: str = "valid"
    kind: ClassVar[str] = "conv"


@dataclass(eq=False)
class EinsumDense(Op):
    """A contraction with a constant kernel: ``acc = einsum(equation, x, w) + b``, exact.

    ``equation`` names the per-sample axes (no batch axis) with letters, e.g. ``"nf,fm->nm"`` (a
    dense layer on every particle), ``"nf,nm->mf"`` (mixing across particles) or ``"nc,c->nc"`` (a
    per-channel scale: a batch norm). ``w_raw``/``w_f``: kernel codes and their fractional bits;
    ``b_raw``/``b_f``: one bias per output element (code 0: none). ``out`` is the exact
    accumulator type; the alignment is that of :class:`Dense` (:func:`hgq_fpga.ir.types.linear_alignment`).
    """

    equation: str = ""
    w_raw: np.ndarray = None
    w_f: np.ndarray = None
    b_raw: np.ndarray = None
    b_f: np.ndarray = None
    kind: ClassVar[str] = "einsum_dense"


@dataclass(eq=False)
class Einsum(Op):
    """A contraction of two variable inputs, ``einsum(equation, a, b)``, exact.

    Each product of two codes is exact (fractional bits add), the products of one output element
    are aligned at the finest of their fractional bits and summed; ``out`` is the exact type of
    that sum. An axis of size 1 in one input broadcasts against the other's, so the element-wise
    product with numpy broadcasting is ``"ab,ab->ab"`` (:mod:`hgq_fpga.ir.einsum`).
    """

    equation: str = ""
    kind: ClassVar[str] = "einsum"


@dataclass(eq=False)
class Add(Op):
    """Exact element-wise sum; inputs of equal rank, an axis of size 1 broadcasts (numpy's rule)."""

    kind: ClassVar[str] = "add"


@dataclass(eq=False)
class Subtract(Op):
    """Exact element-wise difference ``in0 - in1``, broadcasting as :class:`Add` does."""

    kind: ClassVar[str] = "subtract"


@dataclass(eq=False)
class Sum(Op):
    """Exact sum over ``axes`` (per-sample axes), aligned at the finest live fractional bits."""

    axes: tuple[int, ...] = (-1,)
    keepdims: bool = False
    kind: ClassVar[str] = "sum"


@dataclass(eq=False)
class Max(Op):
    """Exact maximum over ``axes``; a width-0 element takes part as the value 0 (as in MaxPool)."""

    axes: tuple[int, ...] = (-1,)
    keepdims: bool = False
    kind: ClassVar[str] = "max"


@dataclass(eq=False)
class Transpose(Op):
    """Permutation of the per-sample axes: output axis ``n`` is input axis ``perm[n]``."""

    perm: tuple[int, ...] = ()
    kind: ClassVar[str] = "transpose"


@dataclass(eq=False)
class Concatenate(Op):
    """Concatenation along ``axis`` (per-sample axis; negative counts from the end)."""

    axis: int = -1
    kind: ClassVar[str] = "concatenate"


@dataclass(eq=False)
class Reshape(Op):
    """C-order reshape to ``out.shape`` (Flatten is a reshape to one axis)."""

    kind: ClassVar[str] = "reshape"


@dataclass(eq=False)
class ReLU(Op):
    """``max(x, 0)``, exact; ``out`` is the tight type of the clipped range."""

    kind: ClassVar[str] = "relu"


@dataclass(eq=False)
class MaxPool(Op):
    """Max over windows per channel (padding positions ignored, as in Keras); exact."""

    pool: tuple[int, ...] = (2,)
    strides: tuple[int, ...] = (2,)
    padding: str = "valid"
    kind: ClassVar[str] = "maxpool"


@dataclass(eq=False)
class AvgPool(Op):
    """Average pooling as integer arithmetic: exact window sum → × constant → cast to ``out``.

    ``sum_type``: exact type of the window sum (padding excluded, as in Keras).  ``c_raw``/``c_f``:
    the per-output-element constant (normally ``1/count`` quantized).  ``prod_type``: exact type of
    ``sum × c``.  ``round``/``overflow``: the cast of the product to ``out``.
    """

    pool: tuple[int, ...] = (2,)
    strides: tuple[int, ...] = (2,)
    padding: str = "valid"
    sum_type: TensorType = None
    c_raw: np.ndarray = None
    c_f: np.ndarray = None
    prod_type: TensorType = None
    round: str = "TRN"
    overflow: str = "WRAP"
    kind: ClassVar[str] = "avgpool"


@dataclass(eq=False)
class Table(Op):
    """Lookup table of a unary function, indexed by the input's raw code.

    Elements share tables by input/output type: element ``e`` uses table ``t = table_id[e]``, whose
    entries ``values[start[t] + (x_raw - lo[t])]`` are raw codes of ``out`` for every input code
    ``lo[t] .. lo[t] + size[t] - 1`` (every code the input type can hold).  ``function`` is a
    label only (e.g. ``'tanh'``); the numbers are in ``values``.
    """

    table_id: np.ndarray = None
    lo: np.ndarray = None
    start: np.ndarray = None
    size: np.ndarray = None
    values: np.ndarray = None
    function: str = ""
    kind: ClassVar[str] = "table"


#: kind → class, for deserialisation.
OP_CLASSES: dict[str, type[Op]] = {c.kind: c for c in
                                   (Cast, Dense, Conv, Add, Concatenate, Reshape, ReLU, MaxPool,
                                    AvgPool, Table, EinsumDense, Einsum, Subtract, Sum, Max,
                                    Transpose)}

"""Build IR graphs op by op, deriving every intermediate's exact type from the inputs.

>>> b = FirmwareBuilder()
>>> x = b.input("x", (4,), k=1, i=2, f=3, round="RND", overflow="SAT")
>>> h = b.dense(x, w_raw, w_f, b_raw, b_f)          # exact accumulator
>>> h = b.cast(h, k=0, i=3, f=4, round="RND", overflow="SAT")
>>> h = b.relu(h)
>>> fw = b.build([h])

Every method returns the output tensor's name, to pass on to later methods. Output types come
from :mod:`hgq_fpga.ir.types`, which the emulator also uses to check a loaded graph.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from hgq_fpga.fixed import MAX_FLOAT_WIDTH, check_overflow, check_round, to_raw
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.einsum import constant_index, normalise_axes
from hgq_fpga.ir.model import FirmwareModel
from hgq_fpga.ir.tables import build_table
from hgq_fpga.ir.tensor import TensorType
from hgq_fpga.ir.gathered import add_type, product_plan, reduce_plan
from hgq_fpga.ir.types import (avgpool_sum_plan, concat_type, linear_alignment,
                               maxpool_plan, pool_counts, product_range_type, relu_type)


def weights_to_raw(w, f, round: str = "RND") -> np.ndarray:
    """Integer codes ``round(w·2^f)`` of float weights (exact when ``w`` is already on the grid)."""
    w = np.asarray(w, dtype=np.float64)
    f = np.broadcast_to(np.asarray(f, dtype=np.int64), w.shape)
    return to_raw(w, 1, 52 - f, f, round, "SAT")


def _tuple(v, rank: int) -> tuple[int, ...]:
    return tuple(int(a) for a in (v if isinstance(v, (tuple, list)) else (v,) * rank))


# ------------------------------------------------------------------------------ builder

class FirmwareBuilder:
    """Accumulates inputs and ops in topological order; ``build`` returns the model."""

    def __init__(self) -> None:
        self.inputs: list[O.InputSpec] = []
        self.ops: list[O.Op] = []
        self.types: dict[str, TensorType] = {}
        self._count = 0

    # -- bookkeeping
    def _name(self, name: str | None, kind: str) -> str:
        if name is None:
            self._count += 1
            name = f"{kind}_{self._count}"
            while name in self.types:
                self._count += 1
                name = f"{kind}_{self._count}"
        if name in self.types:
            raise ValueError(f"tensor name {name!r} is already used")
        return name

    def _type(self, x: str) -> TensorType:
        if x not in self.types:
            raise ValueError(f"unknown tensor {x!r}")
        return self.types[x]

    def add_op(self, op: O.Op) -> str:
        """Append a fully specified op (e.g. one built by a converter); returns its name."""
        for x in op.inputs:
            self._type(x)
        self._name(op.name, op.kind)
        self.ops.append(op)
        self.types[op.name] = op.out
        return op.name

    # -- ops
    def input(self, name: str, shape: Sequence[int], k, i, f, round: str = "TRN",
              overflow: str = "WRAP") -> str:
        """Declare a float input quantized to per-element ``(k, i, f)``."""
        self._name(name, "input")
        spec = O.InputSpec(name, TensorType.of(k, i, f, tuple(shape)), check_round(round),
                           check_overflow(overflow))
        if int(spec.type.width.max(initial=0)) > MAX_FLOAT_WIDTH:
            raise ValueError(f"input {name!r}: widths above {MAX_FLOAT_WIDTH} bits cannot be quantized "
                             "from float64")
        self.inputs.append(spec)
        self.types[name] = spec.type
        return name

    def cast(self, x: str, k, i, f, round: str = "TRN", overflow: str = "WRAP",
             name: str | None = None) -> str:
        """Requantize ``x`` to per-element ``(k, i, f)``."""
        t = TensorType.of(k, i, f, self._type(x).shape)
        return self.add_op(O.Cast(self._name(name, "cast"), (x,), t, check_round(round),
                                  check_overflow(overflow)))

    def _linear_args(self, w_raw, w_f, b_raw, b_f, cout):
        w_raw = np.asarray(w_raw)
        if not np.issubdtype(w_raw.dtype, np.integer):
            raise ValueError("weights must be integer codes (see weights_to_raw)")
        w_raw = w_raw.astype(np.int64)
        w_f = np.broadcast_to(np.asarray(w_f, np.int64), w_raw.shape).copy()
        b_raw = np.zeros(cout, np.int64) if b_raw is None else np.asarray(b_raw, np.int64).reshape(cout)
        b_f = np.broadcast_to(np.asarray(0 if b_f is None else b_f, np.int64), (cout,)).copy()
        return w_raw, w_f, b_raw, b_f

    def dense(self, x: str, w_raw, w_f, b_raw=None, b_f=None, name: str | None = None) -> str:
        """Dense on the last axis; the output is the exact accumulator."""
        xt = self._type(x)
        w_raw, w_f, b_raw, b_f = self._linear_args(w_raw, w_f, b_raw, b_f, np.shape(w_raw)[-1])
        if w_raw.ndim != 2 or w_raw.shape[0] != xt.shape[-1]:
            raise ValueError(f"dense weights {w_raw.shape} do not fit input shape {xt.shape}")
        op = O.Dense(self._name(name, "dense"), (x,), None, w_raw, w_f, b_raw, b_f)
        plan, out_shape, _ = linear_alignment(op, xt)
        op.out = plan.out_type(out_shape)
        return self.add_op(op)

    def conv(self, x: str, w_raw, w_f, b_raw=None, b_f=None, strides=1, padding: str = "valid",
             name: str | None = None) -> str:
        """1-d or 2-d convolution (rank from the kernel ``(*kernel, C_in, C_out)``)."""
        xt = self._type(x)
        w_raw, w_f, b_raw, b_f = self._linear_args(w_raw, w_f, b_raw, b_f, np.shape(w_raw)[-1])
        rank = w_raw.ndim - 2
        if rank < 1 or xt.shape[-1] != w_raw.shape[-2] or len(xt.shape) != rank + 1:
            raise ValueError(f"conv kernel {w_raw.shape} does not fit input shape {xt.shape}")
        op = O.Conv(self._name(name, f"conv{rank}d"), (x,), None, w_raw, w_f, b_raw, b_f,
                    _tuple(strides, rank), padding)
        plan, out_shape, _ = linear_alignment(op, xt)
        op.out = plan.out_type(out_shape)
        return self.add_op(op)

    conv1d = conv
    conv2d = conv

    def einsum_dense(self, x: str, equation: str, w_raw, w_f, b_raw=None, b_f=None,
                     name: str | None = None) -> str:
        """Contraction of ``x`` with a constant kernel (``einsum(equation, x, w) + b``, per-sample
        letters); the output is the exact accumulator. ``b_raw``/``b_f`` broadcast to the output."""
        xt = self._type(x)
        w_raw = np.asarray(w_raw)
        if not np.issubdtype(w_raw.dtype, np.integer):
            raise ValueError("weights must be integer codes (see weights_to_raw)")
        w_raw = w_raw.astype(np.int64)
        out_shape = constant_index(equation, xt.shape, w_raw.shape).out_shape
        b_raw = np.zeros(out_shape, np.int64) if b_raw is None else np.asarray(b_raw, np.int64)
        op = O.EinsumDense(self._name(name, "einsum_dense"), (x,), None, equation,
                           w_raw, np.broadcast_to(np.asarray(w_f, np.int64), w_raw.shape).copy(),
                           np.broadcast_to(b_raw, out_shape).copy(),
                           np.broadcast_to(np.asarray(0 if b_f is None else b_f, np.int64), out_shape).copy())
        plan, shape, _ = linear_alignment(op, xt)
        op.out = plan.out_type(shape)
        return self.add_op(op)

    def einsum(self, a: str, b: str, equation: str, name: str | None = None) -> str:
        """Exact contraction of two variable tensors, ``einsum(equation, a, b)`` (per-sample
        letters; an axis of size 1 broadcasts)."""
        out = product_plan(equation, self._type(a), self._type(b)).out
        return self.add_op(O.Einsum(self._name(name, "einsum"), (a, b), out, equation))

    def multiply(self, a: str, b: str, name: str | None = None) -> str:
        """Exact element-wise product of two tensors of equal rank (size-1 axes broadcast)."""
        rank = len(self._type(a).shape)
        letters = "abcdefghijklmnopqrstuvwxyz"[:rank]
        return self.einsum(a, b, f"{letters},{letters}->{letters}", name=name or self._name(None, "multiply"))

    def add(self, *xs: str, name: str | None = None) -> str:
        """Exact element-wise sum (inputs of equal rank; size-1 axes broadcast)."""
        if len(xs) < 2:
            raise ValueError("add needs two or more inputs")
        try:
            out = add_type([self._type(x) for x in xs])
        except ValueError as e:
            raise ValueError(f"add: {e}") from None
        return self.add_op(O.Add(self._name(name, "add"), tuple(xs), out))

    def subtract(self, a: str, b: str, name: str | None = None) -> str:
        """Exact element-wise ``a - b`` (equal rank; size-1 axes broadcast)."""
        try:
            out = add_type([self._type(a), self._type(b)], signs=(1, -1))
        except ValueError as e:
            raise ValueError(f"subtract: {e}") from None
        return self.add_op(O.Subtract(self._name(name, "subtract"), (a, b), out))

    def sum(self, x: str, axes, keepdims: bool = False, name: str | None = None) -> str:
        """Exact sum over ``axes`` (per-sample axes)."""
        return self._reduce(O.Sum, "sum", x, axes, keepdims, name)

    def max(self, x: str, axes, keepdims: bool = False, name: str | None = None) -> str:
        """Exact maximum over ``axes`` (per-sample axes)."""
        return self._reduce(O.Max, "max", x, axes, keepdims, name)

    def _reduce(self, cls, function: str, x: str, axes, keepdims: bool, name: str | None) -> str:
        t = self._type(x)
        axes = normalise_axes(axes, len(t.shape))
        out = reduce_plan(function, t, axes, bool(keepdims)).out
        return self.add_op(cls(self._name(name, function), (x,), out, axes, bool(keepdims)))

    def transpose(self, x: str, perm: Sequence[int], name: str | None = None) -> str:
        """Permute the per-sample axes: output axis ``n`` is input axis ``perm[n]``."""
        t = self._type(x)
        perm = tuple(int(p) for p in perm)
        if sorted(perm) != list(range(len(t.shape))):
            raise ValueError(f"transpose: {perm} is not a permutation of the axes of shape {t.shape}")
        out = TensorType(*(np.transpose(a, perm).copy() for a in (t.k, t.i, t.f)))
        return self.add_op(O.Transpose(self._name(name, "transpose"), (x,), out, perm))

    def concatenate(self, xs: Sequence[str], axis: int = -1, name: str | None = None) -> str:
        types = [self._type(x) for x in xs]
        try:
            out = concat_type(types, axis)
        except ValueError as e:
            raise ValueError(f"concatenate: {e}") from None
        return self.add_op(O.Concatenate(self._name(name, "concatenate"), tuple(xs), out, int(axis)))

    def reshape(self, x: str, shape: Sequence[int], name: str | None = None) -> str:
        t = self._type(x)
        try:
            out = t.reshape(tuple(shape))
        except ValueError:
            raise ValueError(f"cannot reshape {t.shape} to {tuple(shape)}") from None
        return self.add_op(O.Reshape(self._name(name, "reshape"), (x,), out))

    def flatten(self, x: str, name: str | None = None) -> str:
        return self.reshape(x, (-1,), name=name or self._name(None, "flatten"))

    def relu(self, x: str, name: str | None = None) -> str:
        return self.add_op(O.ReLU(self._name(name, "relu"), (x,), relu_type(self._type(x))))

    def maxpool(self, x: str, pool, strides=None, padding: str = "valid",
                name: str | None = None) -> str:
        t = self._type(x)
        rank = len(t.shape) - 1
        pool = _tuple(pool, rank)
        op = O.MaxPool(self._name(name, f"maxpool{rank}d"), (x,), None, pool,
                       _tuple(strides if strides is not None else pool, rank), padding)
        op.out = maxpool_plan(op, t)[-1]
        return self.add_op(op)

    def avgpool(self, x: str, pool, k, i, f, round: str = "TRN", overflow: str = "WRAP",
                strides=None, padding: str = "valid", c_f: int = 18, c_raw=None,
                name: str | None = None) -> str:
        """Average pooling: exact sum, times ``c`` (default ``round(2^c_f / count)``), cast to
        ``(k, i, f)``."""
        t = self._type(x)
        rank = len(t.shape) - 1
        pool = _tuple(pool, rank)
        op = O.AvgPool(self._name(name, f"avgpool{rank}d"), (x,), None, pool,
                       _tuple(strides if strides is not None else pool, rank), padding,
                       round=check_round(round), overflow=check_overflow(overflow))
        out_shape, _, _, sum_t = avgpool_sum_plan(op, t)
        if c_raw is None:
            counts = pool_counts(op, t)
            c_raw = ((np.int64(1) << (c_f + 1)) // counts + 1) // 2
        op.c_raw = np.broadcast_to(np.asarray(c_raw, np.int64), out_shape).copy()
        op.c_f = np.broadcast_to(np.asarray(c_f, np.int64), out_shape).copy()
        op.sum_type = sum_t
        op.prod_type = product_range_type(sum_t, op.c_raw, op.c_f)
        op.out = TensorType.of(k, i, f, out_shape)
        return self.add_op(op)

    def table(self, x: str, fn: Callable[[np.ndarray], np.ndarray], k, i, f, round: str = "TRN",
              overflow: str = "WRAP", label: str = "", name: str | None = None) -> str:
        """Lookup table of ``fn`` (float64 array → float64 array), output quantized to ``(k,i,f)``
        with ``round``/``overflow`` for every input code."""
        t = self._type(x)
        out = TensorType.of(k, i, f, t.shape)
        arrays = build_table(t, fn, out, check_round(round), check_overflow(overflow))
        return self.add_op(O.Table(self._name(name, "table"), (x,), out, function=label or
                                   getattr(fn, "__name__", ""), **arrays))

    def build(self, outputs: Sequence[str]) -> FirmwareModel:
        for o in outputs:
            self._type(o)
        return FirmwareModel(list(self.inputs), list(self.ops), list(outputs))

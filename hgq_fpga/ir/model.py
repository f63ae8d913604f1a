"""``FirmwareModel``: the frozen integer graph, and its bit-exact int64 emulator.

The model holds inputs (float → fixed quantizers), ops in topological order and output names.
``predict`` quantizes the inputs, runs every op on int64 raw codes (vectorised over the batch) and
returns float64 values of the output types.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from hgq_fpga.fixed import MAX_FLOAT_WIDTH, exact_float64
from hgq_fpga.ir import ops as O
from hgq_fpga.ir.einsum import product_terms
from hgq_fpga.ir.emulator.casting import InputQuantizer
from hgq_fpga.ir.emulator.kernels import compile_op
from hgq_fpga.ir.overflow import OverflowReport, count_overflows
from hgq_fpga.ir.resources import Resources, resources, weight_bits
from hgq_fpga.ir.serialize import read_graph, save_firmware
from hgq_fpga.ir.tensor import TensorType


#: int64 elements per sample-chunk's widest intermediate in :meth:`FirmwareModel.predict` (1 MiB)
CHUNK_ELEMENTS = 1 << 17


def _gathered_elements(op: O.Op, in_types: list[TensorType]) -> int:
    """Per-sample elements of the gather a Conv, pooling, einsum or reduction op makes (0 for
    other ops)."""
    if isinstance(op, O.Conv):
        return int(np.prod(op.out.shape[:-1])) * int(np.prod(op.w_raw.shape[:-1]))
    if isinstance(op, (O.MaxPool, O.AvgPool)):
        return int(np.prod(op.out.shape)) * int(np.prod(op.pool))
    if isinstance(op, O.Einsum):
        return 2 * product_terms(op.equation, [t.shape for t in in_types])
    if isinstance(op, (O.Sum, O.Max)):
        return int(in_types[0].k.size)
    return 0


def by_input_name(x: Mapping, names: Sequence[tuple[str, str]]) -> list:
    """The arrays of the dict ``x``, one per input ``(name, source)`` in order, each found under its
    firmware name or the name of the Keras model input it quantizes. A key that names no input is
    refused, since a misspelt key would otherwise leave an input missing under another name."""
    known = {n for pair in names for n in pair if n}
    unknown = [k for k in x if k not in known]
    for key in x:
        meant = {i for i, pair in enumerate(names) if key in pair}
        if len(meant) > 1:
            raise ValueError(f"inputs by name: {key!r} names two inputs (one quantizer and another's model input); "
                             "pass a list in the model's input order")
    missing = [n if not s or s == n else f"{s} ({n})" for n, s in names if n not in x and s not in x]
    if unknown or missing:
        have = ", ".join(n if not s or s == n else f"{s} ({n})" for n, s in names)
        what = "; ".join(part for part in (f"no input named {', '.join(map(repr, unknown))}" if unknown else "",
                                          f"missing {', '.join(missing)}" if missing else "") if part)
        raise ValueError(f"inputs by name: {what}; the inputs are {have}")
    return [x[n] if n in x else x[s] for n, s in names]


def checked_input(a, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``a`` as a float64 array ``(batch, *shape)``.

    Raises a ValueError naming input ``name`` for anything else: not numbers (or numbers float64 does
    not hold exactly: complex, integers beyond 2**53), a wrong shape, a missing batch axis, NaN or
    inf (with the first offending sample), since none of these has a fixed-point meaning.
    """
    a = exact_float64(a, f"input {name!r}")
    want = f"(batch, {', '.join(map(str, shape))})" if shape else "(batch,)"
    if a.shape == tuple(shape):
        raise ValueError(f"input {name!r}: got shape {a.shape} without a batch axis; expected {want}")
    if a.ndim != len(shape) + 1 or a.shape[1:] != tuple(shape):
        raise ValueError(f"input {name!r}: expected shape {want}, got {a.shape}")
    for bad, what in ((np.isnan(a), "NaN"), (np.isinf(a), "inf")):
        if bad.any():
            sample = int(np.argmax(bad.reshape(len(a), -1).any(axis=1)))
            raise ValueError(f"input {name!r} contains {what} (first at sample {sample})")
    return a


class FirmwareModel:
    """A frozen integer program: inputs, topologically ordered ops, outputs."""

    def __init__(self, inputs: Sequence[O.InputSpec], ops: Sequence[O.Op], outputs: Sequence[str]):
        self.inputs = list(inputs)
        self.ops = list(ops)
        self.outputs = list(outputs)
        self.types: dict[str, TensorType] = {s.name: s.type for s in self.inputs}
        for op in self.ops:
            for x in op.inputs:
                if x not in self.types:
                    raise ValueError(f"op {op.name!r} reads {x!r}, which no earlier op or input "
                                     "produces (ops must be in topological order)")
            if op.name in self.types:
                raise ValueError(f"duplicate tensor name {op.name!r}")
            self.types[op.name] = op.out
        for o in self.outputs:
            if o not in self.types:
                raise ValueError(f"output {o!r} is not a tensor of the graph")
        self._kernels = None

    # ------------------------------------------------------------------ emulation
    def _compiled(self):
        if self._kernels is None:
            self._quantizers = [InputQuantizer(s.type, s.round, s.overflow) for s in self.inputs]
            self._kernels = [compile_op(op, [self.types[x] for x in op.inputs]) for op in self.ops]
            self._plan_memory()
        return self._kernels

    def as_inputs(self, x) -> list[np.ndarray]:
        """Validate a batch (an array, a list, or a dict by input name) as float64 arrays, one per
        input: shapes, NaN/inf and equal sample counts are checked with errors naming the input."""
        if isinstance(x, Mapping):
            xs = by_input_name(x, [(s.name, s.source) for s in self.inputs])
        elif isinstance(x, (list, tuple)) and len(self.inputs) > 1:
            xs = list(x)
        else:
            xs = [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"model has {len(self.inputs)} inputs, got {len(xs)} arrays")
        out = [checked_input(a, spec.shape, spec.name) for spec, a in zip(self.inputs, xs)]
        if len({len(a) for a in out}) > 1:
            sizes = {s.name: len(a) for s, a in zip(self.inputs, out)}
            raise ValueError(f"inputs have different numbers of samples: {sizes}")
        return out

    def run_raw(self, x, keep_all: bool = True) -> dict[str, np.ndarray]:
        """Raw int64 codes of every tensor (inputs and every op output) for a batch.

        ``keep_all=False`` returns only the outputs and lets casts overwrite intermediates that
        nothing else reads, which saves memory traffic on large batches.
        """
        return self._execute(self.as_inputs(x), keep_all)

    def _execute(self, xs: list[np.ndarray], keep_all: bool) -> dict[str, np.ndarray]:
        """Run the ops on validated float64 inputs (see :meth:`run_raw`)."""
        kernels = self._compiled()
        env: dict[str, np.ndarray] = {}
        for spec, q, a in zip(self.inputs, self._quantizers, xs):
            env[spec.name] = q(a)
        for n, (op, kern) in enumerate(zip(self.ops, kernels)):
            args = [env[t] for t in op.inputs]
            if keep_all:
                env[op.name] = kern(args)
                continue
            env[op.name] = kern(args, owned=True) if self._owned[n] else kern(args)
            for t in self._dead_after[n]:
                del env[t]
        return env if keep_all else {o: env[o] for o in self.outputs}

    def _plan_memory(self) -> None:
        """Which casts may overwrite their input, which tensors die after each op, and how many
        samples a chunk of :meth:`predict` holds."""
        last_use: dict[str, int] = {}
        uses: dict[str, int] = {}
        for n, op in enumerate(self.ops):
            for t in op.inputs:
                last_use[t] = n
                uses[t] = uses.get(t, 0) + 1
        producer = {op.name: op.kind for op in self.ops}
        # a reshape's output is a view of its source, which others may still read
        self._owned = [op.kind == "cast" and uses[op.inputs[0]] == 1 and op.inputs[0] not in self.outputs
                       and producer.get(op.inputs[0]) != "reshape" for op in self.ops]
        self._dead_after = [[t for t in set(op.inputs) if last_use[t] == n and t not in self.outputs]
                            for n, op in enumerate(self.ops)]
        per_sample = max([t.k.size for t in self.types.values()]
                         + [_gathered_elements(op, [self.types[x] for x in op.inputs]) for op in self.ops]
                         + [1])
        self._chunk_rows = max(1, CHUNK_ELEMENTS // per_sample)

    def value(self, name: str, raw: np.ndarray) -> np.ndarray:
        """float64 values of raw codes of tensor ``name``.

        Raises ValueError for a tensor wider than the 53 bits float64 holds exactly, rather than
        return rounded values; :meth:`run_raw` gives its exact integer codes.
        """
        t = self.types[name]
        width = int(t.width.max(initial=0))
        if width > MAX_FLOAT_WIDTH:
            raise ValueError(f"tensor {name!r} is up to {width} bits wide, more than the "
                             f"{MAX_FLOAT_WIDTH} bits float64 holds exactly; use run_raw() for its "
                             "exact integer codes")
        return np.ldexp(raw.astype(np.float64), -t.f) + 0.0

    def overflows(self, x) -> OverflowReport:
        """How many values of the batch ``x``, at the inputs and inside the network, fell outside
        the calibrated range and wrapped or saturated (see :mod:`hgq_fpga.ir.overflow`)."""
        return self._predict_counting(self.as_inputs(x))[1]

    def _predict_counting(self, xs: list[np.ndarray]) -> tuple[list[np.ndarray], OverflowReport]:
        """Outputs and overflow counts of validated inputs, in one pass over the chunks."""
        self._compiled()
        report = OverflowReport()
        parts = []
        for s in range(0, max(len(xs[0]), 1), self._chunk_rows):   # an empty batch runs once
            chunk = [a[s:s + self._chunk_rows] for a in xs]
            env = self._execute(chunk, keep_all=True)
            count_overflows(self, chunk, env, report)
            parts.append([self.value(o, env[o]) for o in self.outputs])
        return [np.concatenate(p, axis=0) for p in zip(*parts)], report

    def predict(self, x, trace: bool = False, report: bool = False):
        """Emulate the firmware bit-exactly.

        ``x``: an array ``(batch, *shape)`` (or a list/dict for several inputs).  Returns the output's
        float64 values (a list if several outputs); with ``trace=True``, a dict name → float64 values
        of every tensor instead. With ``report=True`` returns ``(outputs, overflow report)``: how
        many values fell outside the calibrated range (:meth:`overflows`).
        """
        if report and trace:
            return self.predict(x, trace=True), self.overflows(x)
        if report:
            outs, counts = self._predict_counting(self.as_inputs(x))
            return (outs[0] if len(outs) == 1 else outs), counts
        xs = self.as_inputs(x)
        if trace:
            return {n: self.value(n, r) for n, r in self._execute(xs, keep_all=True).items()}
        self._compiled()
        n, rows = len(xs[0]), self._chunk_rows
        if n <= rows:
            env = self._execute(xs, keep_all=False)
            outs = [self.value(o, env[o]) for o in self.outputs]
        else:
            # chunks of samples keep every intermediate in cache: the ops are memory-bound
            outs = [np.empty((n,) + self.types[o].shape, np.float64) for o in self.outputs]
            for s in range(0, n, rows):
                env = self._execute([a[s:s + rows] for a in xs], keep_all=False)
                for out, o in zip(outs, self.outputs):
                    out[s:s + rows] = self.value(o, env[o])
        return outs[0] if len(outs) == 1 else outs

    # ------------------------------------------------------------------ reports
    def weight_bits(self) -> dict[str, np.ndarray]:
        """Per Dense/Conv/EinsumDense op: bits of each weight, ``bit_length(|code|)`` (0 = pruned), as HGQ counts
        them (magnitude bits, no sign bit)."""
        return {op.name: weight_bits(op.w_raw) for op in self.ops
                if op.kind in ("dense", "conv", "einsum_dense")}

    def activation_bits(self) -> dict[str, np.ndarray]:
        """Per tensor (inputs and op outputs): per-element width ``k + i + f``."""
        return {n: t.width.copy() for n, t in self.types.items()}

    def resources(self) -> Resources:
        """Per-op and total EBOPs, nonzero weights, widest accumulator, latency (adder levels)."""
        return resources(self)

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write JSON + .npz to directory ``path`` (atomically replaced)."""
        save_firmware(self, path)

    def summary(self) -> str:
        lines = [f"FirmwareModel: {len(self.inputs)} input(s), {len(self.ops)} op(s), outputs {self.outputs}"]
        for s in self.inputs:
            lines.append(f"  input  {s.name:<20} {s.shape} {s.round}/{s.overflow}")
        for op in self.ops:
            w = op.out.width
            lines.append(f"  {op.kind:<11} {op.name:<20} {op.out.shape} <- {list(op.inputs)} "
                         f"width {int(w.min(initial=0))}..{int(w.max(initial=0))}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def load_firmware(path) -> FirmwareModel:
    """Load a model written by :meth:`FirmwareModel.save`; needs only numpy."""
    return FirmwareModel(*read_graph(path))

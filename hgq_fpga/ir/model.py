"""``FirmwareModel``: the frozen integer graph, and its bit-exact int64 emulator.

The model holds inputs (float → fixed quantizers), ops in topological order and output names.
``predict`` quantizes the inputs, runs every op on int64 raw codes (vectorised over the batch) and
returns float64 values of the output types.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from hgq_fpga.ir import ops as O
from hgq_fpga.ir.tensor import TensorType


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
            from hgq_fpga.ir.casting import InputQuantizer
            from hgq_fpga.ir.kernels import compile_op
            self._quantizers = [InputQuantizer(s.type, s.round, s.overflow) for s in self.inputs]
            self._kernels = [compile_op(op, [self.types[x] for x in op.inputs]) for op in self.ops]
        return self._kernels

    def _as_inputs(self, x) -> list[np.ndarray]:
        if isinstance(x, Mapping):
            missing = [s.name for s in self.inputs if s.name not in x]
            if missing:
                raise ValueError(f"missing inputs: {missing}")
            xs = [x[s.name] for s in self.inputs]
        elif isinstance(x, (list, tuple)) and len(self.inputs) > 1:
            xs = list(x)
        else:
            xs = [x]
        if len(xs) != len(self.inputs):
            raise ValueError(f"model has {len(self.inputs)} inputs, got {len(xs)} arrays")
        out = []
        for spec, a in zip(self.inputs, xs):
            a = np.asarray(a, dtype=np.float64)
            if a.shape[1:] != spec.shape:
                if a.shape == spec.shape:
                    raise ValueError(f"input {spec.name!r}: got shape {a.shape} without a batch axis; "
                                     f"expected (batch, {', '.join(map(str, spec.shape))})")
                raise ValueError(f"input {spec.name!r}: expected shape (batch, "
                                 f"{', '.join(map(str, spec.shape))}), got {a.shape}")
            if np.isnan(a).any():
                raise ValueError(f"input {spec.name!r} contains NaN")
            if np.isinf(a).any():
                raise ValueError(f"input {spec.name!r} contains inf")
            out.append(a)
        return out

    def run_raw(self, x, keep_all: bool = True) -> dict[str, np.ndarray]:
        """Raw int64 codes of every tensor (inputs and every op output) for a batch.

        ``keep_all=False`` returns only the outputs and lets casts overwrite intermediates that
        nothing else reads, which saves memory traffic on large batches.
        """
        kernels = self._compiled()
        env: dict[str, np.ndarray] = {}
        for spec, q, a in zip(self.inputs, self._quantizers, self._as_inputs(x)):
            env[spec.name] = q(a)
        last_use = {}
        producer = {op.name: op.kind for op in self.ops}
        uses: dict[str, int] = {}
        for n, op in enumerate(self.ops):
            for t in op.inputs:
                last_use[t] = n
                uses[t] = uses.get(t, 0) + 1
        for n, (op, kern) in enumerate(zip(self.ops, kernels)):
            args = [env[t] for t in op.inputs]
            if keep_all:
                env[op.name] = kern(args)
                continue
            src = op.inputs[0]
            # a reshape's output is a view of its source, which others may still read
            if (op.kind == "cast" and uses[src] == 1 and src not in self.outputs
                    and producer.get(src) != "reshape"):
                env[op.name] = kern(args, owned=True)
            else:
                env[op.name] = kern(args)
            for t in set(op.inputs):
                if last_use[t] == n and t not in self.outputs:
                    del env[t]
        return env if keep_all else {o: env[o] for o in self.outputs}

    def value(self, name: str, raw: np.ndarray) -> np.ndarray:
        """float64 values of raw codes of tensor ``name`` (exact up to 53-bit widths)."""
        return np.ldexp(raw.astype(np.float64), -self.types[name].f) + 0.0

    def predict(self, x, trace: bool = False):
        """Emulate the firmware bit-exactly.

        ``x``: an array ``(batch, *shape)`` (or a list/dict for several inputs).  Returns the output's
        float64 values (a list if several outputs); with ``trace=True``, a dict name → float64 values
        of every tensor instead.
        """
        env = self.run_raw(x, keep_all=trace)
        if trace:
            return {n: self.value(n, r) for n, r in env.items()}
        outs = [self.value(o, env[o]) for o in self.outputs]
        return outs[0] if len(outs) == 1 else outs

    # ------------------------------------------------------------------ reports
    def weight_bits(self) -> dict[str, np.ndarray]:
        """Per Dense/Conv op: bits of each weight, ``bit_length(|code|)`` (0 = pruned), as HGQ counts
        them (magnitude bits, no sign bit)."""
        from hgq_fpga.ir.resources import weight_bits
        return {op.name: weight_bits(op.w_raw) for op in self.ops if op.kind in ("dense", "conv")}

    def activation_bits(self) -> dict[str, np.ndarray]:
        """Per tensor (inputs and op outputs): per-element width ``k + i + f``."""
        return {n: t.width.copy() for n, t in self.types.items()}

    def resources(self):
        """Per-op and total EBOPs, nonzero weights, widest accumulator, latency (adder levels)."""
        from hgq_fpga.ir.resources import resources
        return resources(self)

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write JSON + .npz to directory ``path`` (atomically replaced)."""
        from hgq_fpga.ir.serialize import save_firmware
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

"""The scale search: fix every tensor's binary point, layer by layer (EasyQuant, or min/max).

For each step of the mapped model, in topological order, the search sees the layer's *quantized*
inputs (what the already-fixed layers before it produce) and its float reference (the float
model's values there), and picks:

* for a kernel: the integer bits ``i`` of each output channel (or of the whole tensor), with
  ``f = weight_bits - 1 - i``: ``i`` from the largest weight (min/max) or up to ``clip_steps``
  below it (saturating the largest weights, finer steps for the rest);
* for an activation (the layer's output, per tensor): the sign bit from the observed range and
  ``i`` in the same way, with ``f = act_bits - k - i``.

``"minmax"`` takes the largest-value choice everywhere. ``"easyquant"`` (Wu et al. 2020) keeps
the choice that maximizes the cosine similarity of the layer's quantized output with its float
output, alternating between the weight scales (activation scales fixed) and the activation
scales (weight scales fixed) for ``rounds`` rounds. Per-channel weight scales are chosen by
coordinate ascent of the cosine of the whole output (each output channel depends on its own
weights only, so the per-candidate, per-channel dot products and norms are computed once).

The chosen types are written straight into the HGQ layers' quantizers (calibrated mode,
docs/method.md §4): weights are stored already on their grid, biases on the accumulator's grid
(their width costs no EBOPs). Each step's output is then recomputed by the calibrated layer
itself, so what later steps see is exactly what the firmware computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from keras import ops

from hgq_fpga.nn.layers import HSoftmax
from hgq_fpga.nn.ptq import grid
from hgq_fpga.nn.ptq.arguments import SEARCHES
from hgq_fpga.nn.ptq.mapping import Mapped, Step
#: the wide type an activation quantizer is given to read the value it will quantize
_PROBE = (1, 24, 28)


@dataclass
class Choice:
    """What the search fixed for one step: widths and types (for reports and to restore)."""

    wbits: int | None = None
    abits: int | None = None
    weight_i: np.ndarray | None = None          # per output channel (or one) integer bits
    act: tuple[int, int, int] | None = None     # (k, i, f) of the output, per tensor
    internal: dict = field(default_factory=dict)  # (k, i, f) of a softmax's table quantizers, by attribute
    cosine: float = 1.0                          # of the step's output with its float reference
    history: list = field(default_factory=list)  # cosine after each half-round (easyquant)


def _np(t) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(t), np.float64)


def _call(layer, xs: list[np.ndarray]) -> np.ndarray:
    """The (calibrated) layer on eager inputs, in inference mode."""
    args = [ops.convert_to_tensor(x) for x in xs]
    return _np(layer(args if len(args) > 1 else args[0], training=False))


# ------------------------------------------------------------------ setting types on layers
def set_activation(q, k: int, i: int, f: int) -> None:
    """Fix an activation quantizer to one ``(k, i, f)`` for the whole tensor."""
    shape = q.tensor_shape
    q.f.assign(np.full(q.f.shape, float(f), np.float32))
    q._set_types(np.full(shape, k), np.full(shape, i), np.full(shape, f))


def _weight_grid(step: Step, wi: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """The kernel on the grid of integer bits ``wi`` (last axis) at ``bits``, and its ``f``."""
    f = bits - 1 - np.asarray(wi, np.int64)
    return grid.quantize(step.kernel, 1, wi, f), f


def _input_f(step: Step) -> int:
    """The finest fractional bits of the kernel layer's input (the accumulator's grid)."""
    k, i, f = step.layer.input_types()
    live = (k + i + f) > 0
    return int(f[live].max()) if live.any() else 0


def _bias_grid(step: Step, fw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float32 bias rounded half up to the accumulator grid ``2^-(f_in + f_w)`` per channel
    (at the finest weight grid where the bias has other axes than the kernel's channels)."""
    try:
        fb = np.broadcast_to(_input_f(step) + fw, step.bias.shape).astype(np.int64)
    except ValueError:
        fb = np.full(step.bias.shape, _input_f(step) + int(np.max(fw)), np.int64)
    b32 = step.bias.astype(np.float32).astype(np.float64)
    return np.ldexp(np.floor(np.ldexp(b32, fb) + 0.5), -fb), fb


def set_kernel(step: Step, wi: np.ndarray, bits: int) -> None:
    """Store the kernel on its grid and fix the kernel and bias quantizers' types."""
    layer = step.layer
    wq, f = _weight_grid(step, wi, bits)
    layer.kernel.assign(wq.astype(np.float32))            # <= 24 bits: exact in float32
    layer.kq.f.assign(np.broadcast_to(f, layer.kq.f.shape).astype(np.float32))
    layer.kq.calibrate_weight(wq)
    if step.bias is None:
        return
    _, fb = _bias_grid(step, f)
    layer.bias.assign(step.bias.astype(np.float32))
    layer.bq.f.assign(fb.astype(np.float32))
    layer.bq.calibrate_weight(step.bias.astype(np.float32))


# ------------------------------------------------------------------------------- the search
def _act_candidates(v: np.ndarray, bits: int, clip_steps: int) -> list[tuple[int, int, int]]:
    """Min/max type of values ``v`` at ``bits`` first, then ``clip_steps`` clipping ones."""
    lo, hi = float(v.min()), float(v.max())
    if lo == 0 and hi == 0:
        return [(0, 0, 0)]
    k = int(lo < 0)
    i0 = int(grid.integer_bits(max(hi, -lo)))
    return [(k, i0 - d, bits - k - i0 + d) for d in range(clip_steps + 1)]


def _search_act(v: np.ndarray, ref: np.ndarray, bits: int, clip_steps: int, search: str):
    cands = _act_candidates(v, bits, clip_steps if search == "easyquant" else 0)
    scores = [float(grid.cosine(grid.quantize(v, *t), ref)) for t in cands]
    best = int(np.argmax(scores))                     # first maximum: the least clipping
    return cands[best], scores[best]


class _KernelEval:
    """Evaluates a kernel step's quantized output for candidate weight scales."""

    def __init__(self, step: Step, xq: np.ndarray, bits: int) -> None:
        self.step, self.bits = step, bits
        self.x = ops.convert_to_tensor(xq, "float64")
        self.per_channel = step.layer.kq.granularity == "per_channel"
        mag = np.abs(step.kernel).reshape(-1, step.kernel.shape[-1]).max(axis=0)
        self.i0 = grid.integer_bits(mag if self.per_channel else mag.max())

    def value(self, wi: np.ndarray) -> np.ndarray:
        """``act(xq ⊛ Wq + bq)`` before the output cast (float64, exact)."""
        wq, f = _weight_grid(self.step, wi, self.bits)
        y = _np(self.step.layer.apply_kernel(self.x, ops.convert_to_tensor(wq, "float64")))
        if self.step.bias is not None:
            y = y + _bias_grid(self.step, f)[0]
        return np.maximum(y, 0.0) if self.step.relu else y


def _best_per_channel(outs: list[np.ndarray], ref: np.ndarray, start: np.ndarray,
                      sweeps: int = 4) -> np.ndarray:
    """Per output channel, the candidate that maximizes the cosine of the *whole* output.

    The cosine of the whole tensor is ``sum_c dot_c / sqrt(sum_c |out_c|^2) / |ref|``, so with each
    candidate's per-channel dot products and norms precomputed, coordinate ascent over the
    channels is cheap. (Each channel's own cosine would be blind to a channel's scale: clipping
    that shrinks one channel against the others would look free.)
    """
    c = ref.shape[-1]
    r = ref.reshape(-1, c)
    dots = np.stack([np.sum(o.reshape(-1, c) * r, axis=0) for o in outs])       # (cands, channels)
    norms = np.stack([np.sum(o.reshape(-1, c) ** 2, axis=0) for o in outs])
    sel = np.asarray(start, np.int64).copy()
    cols = np.arange(c)
    for _ in range(sweeps):
        changed = False
        for j in range(c):
            dot = dots[sel, cols].sum() - dots[sel[j], j] + dots[:, j]
            norm = norms[sel, cols].sum() - norms[sel[j], j] + norms[:, j]
            score = np.where(norm > 0, dot / np.sqrt(np.where(norm > 0, norm, 1.0)), -np.inf)
            best = int(np.argmax(score))
            if score[best] > score[sel[j]]:
                sel[j], changed = best, True
        if not changed:
            break
    return sel


def _search_kernel(step: Step, xq, ref, choice: Choice, clip_steps: int, rounds: int, search: str) -> None:
    ev = _KernelEval(step, xq, choice.wbits)
    wi = ev.i0
    choice.history = []
    choice.act, choice.cosine = _search_act(ev.value(wi), ref, choice.abits, clip_steps, search)
    if search == "easyquant":
        for _ in range(rounds):
            outs = [grid.quantize(ev.value(ev.i0 - d), *choice.act) for d in range(clip_steps + 1)]
            if ev.per_channel:
                wi = ev.i0 - _best_per_channel(outs, ref, ev.i0 - wi)
            else:
                scores = np.array([float(grid.cosine(o, ref)) for o in outs])
                wi = ev.i0 - int(np.argmax(scores))
            choice.history.append(float(grid.cosine(grid.quantize(ev.value(wi), *choice.act), ref)))
            choice.act, choice.cosine = _search_act(ev.value(wi), ref, choice.abits, clip_steps, search)
            choice.history.append(choice.cosine)
    choice.weight_i = np.asarray(wi, np.int64)


def apply_choice(step: Step, choice: Choice) -> None:
    """Write a step's chosen types into its layer."""
    if step.is_kernel:
        set_kernel(step, choice.weight_i, choice.wbits)
    for attr, t in choice.internal.items():
        set_activation(getattr(step.layer, attr), *t)
    if choice.act is not None:
        set_activation(step.layer.oq, *choice.act)


def softmax_internals(layer, x: np.ndarray, bits: int) -> dict[str, tuple[int, int, int]]:
    """The types of the four table quantizers of an HSoftmax for its quantized input ``x``: each
    the min/max type, at ``bits``, of the values it sees (rounded half up and saturated, as PTQ
    quantizes every activation), by attribute name."""
    axis = layer.axis
    steps = (("dq", lambda v: v - v.max(axis=axis, keepdims=True)), ("eq", np.exp),
             ("sq", lambda v: v.sum(axis=axis, keepdims=True)),
             ("rq", lambda v: 1.0 / np.maximum(v, 2.0 ** -24)))
    types, v = {}, x
    for attr, fn in steps:
        v = fn(v)
        types[attr] = _act_candidates(v, bits, 0)[0]
        v = grid.quantize(v, *types[attr])
    return types


def search_step(step: Step, xq: list[np.ndarray], ref: np.ndarray, choice: Choice, search: str,
                clip_steps: int, rounds: int) -> None:
    """Choose and apply the types of one step (``choice`` holds its widths, receives the types)."""
    if step.is_kernel:
        _search_kernel(step, xq[0], ref, choice, clip_steps, rounds, search)
    elif choice.abits is not None:
        if isinstance(step.layer, HSoftmax):                # its tables' types first
            choice.internal = softmax_internals(step.layer, np.asarray(xq[0], np.float64), choice.abits)
            for attr, t in choice.internal.items():
                set_activation(getattr(step.layer, attr), *t)
        set_activation(step.layer.oq, *_PROBE)
        v = _call(step.layer, xq)
        choice.act, choice.cosine = _search_act(v, ref, choice.abits, clip_steps, search)
    apply_choice(step, choice)


def has_output_quantizer(step: Step) -> bool:
    return hasattr(step.layer, "oq")


@dataclass
class State:
    """The mapped model with its widths, choices, and the float and quantized values of each tensor."""

    mapped: Mapped
    choices: list[Choice]
    ref: dict[int, np.ndarray]
    quant: dict[int, np.ndarray]
    search: str
    clip_steps: int
    rounds: int

    def inputs_of(self, step: Step, which: dict) -> list[np.ndarray]:
        return [which[v] for v in step.inputs]

    def redo(self, index: int) -> None:
        """Search step ``index`` again at its current widths, on the current quantized inputs."""
        step = self.mapped.steps[index]
        search_step(step, self.inputs_of(step, self.quant), self.ref[step.output], self.choices[index],
                    self.search, self.clip_steps, self.rounds)

    def forward(self, start: int = 0) -> None:
        """Recompute the quantized values from step ``start`` on with the calibrated layers."""
        for step in self.mapped.steps[start:]:
            self.quant[step.output] = _call(step.layer, self.inputs_of(step, self.quant))

    def output_cosine(self) -> float:
        """Mean over the model outputs of the cosine similarity with the float model's outputs."""
        return float(np.mean([grid.cosine(self.quant[v], self.ref[v]) for v in self.mapped.outputs]))

    def ebops(self) -> int:
        """Exact EBOPs: the kernels' and the products of two activations' (einsum, softmax)."""
        return int(sum(s.layer.exact_ebops() for s in self.mapped.steps if s.layer.has_ebops))


def run_search(mapped: Mapped, xs: list[np.ndarray], weight_bits: int, act_bits: int, search: str,
               clip_steps: int = 3, rounds: int = 2,
               widths: list[tuple[int | None, int | None]] | None = None) -> State:
    """Fix every step's types in order; returns the state (values, choices) for further steps.

    ``widths`` (one ``(wbits, abits)`` per step, as a mixed-precision search left them) replaces
    the uniform ``weight_bits`` / ``act_bits``.
    """
    if widths is not None and len(widths) != len(mapped.steps):
        raise ValueError(f"widths has {len(widths)} entries for {len(mapped.steps)} steps")
    if search not in SEARCHES:
        raise ValueError(f"search must be one of {SEARCHES}, got {search!r}")
    ref = {v: np.asarray(x, np.float64) for v, x in zip(mapped.inputs, xs)}
    quant = {v: np.asarray(x, np.float32) for v, x in zip(mapped.inputs, xs)}
    state = State(mapped, [], ref, quant, search, int(clip_steps), int(rounds))
    for index, step in enumerate(mapped.steps):
        ref[step.output] = step.reference(state.inputs_of(step, ref))
        wbits, abits = (weight_bits, act_bits) if widths is None else widths[index]
        choice = Choice(wbits=wbits if step.is_kernel else None,
                        abits=abits if has_output_quantizer(step) else None)
        state.choices.append(choice)
        state.redo(index)
        quant[step.output] = _call(step.layer, state.inputs_of(step, quant))
    return state

"""Per-layer numbers of a firmware model: bit widths, pruning, EBOPs and latency.

Everything is read from the integer firmware IR (:class:`hgq_fpga.ir.FirmwareModel`), not from
Keras, so the numbers describe exactly what goes into the FPGA and a report can be rebuilt from a
saved design folder without TensorFlow.

A *layer* here is one quantization point of the IR (a model input, a cast, a lookup table) together
with the multiplying op (dense, conv, average pooling) that feeds it, walking back through ReLU and
reshape ops. The layer takes the name of its quantization point, which is the Keras layer name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: ops that carry weights (or a constant multiplier) and so cost EBOPs
WEIGHTED_KINDS = ("dense", "conv", "avgpool", "einsum_dense")
#: ops that multiply two activations: they cost EBOPs but have no weights
PRODUCT_KINDS = ("einsum",)
#: ops that fix a new per-element type: the end of a layer
QUANTIZING_KINDS = ("cast", "table")
#: ops a layer's output reaches its quantization point through
PASS_THROUGH_KINDS = ("relu", "reshape", "transpose")


@dataclass
class BitStats:
    """Min / mean / max and the histogram of a set of bit widths."""

    count: int
    min: int
    mean: float
    max: int
    histogram: dict[int, int]

    @staticmethod
    def of(bits: np.ndarray) -> "BitStats":
        """Statistics of ``bits`` (any shape); an empty array gives zeros."""
        flat = np.asarray(bits, dtype=np.int64).ravel()
        if flat.size == 0:
            return BitStats(0, 0, 0.0, 0, {})
        values, counts = np.unique(flat, return_counts=True)
        return BitStats(int(flat.size), int(flat.min()), float(flat.mean()), int(flat.max()),
                        {int(v): int(c) for v, c in zip(values, counts)})

    def to_dict(self) -> dict:
        return {"count": self.count, "min": self.min, "mean": round(self.mean, 4), "max": self.max,
                "histogram": {str(k): v for k, v in self.histogram.items()}}


@dataclass
class LayerStats:
    """One layer of the firmware: its weights (if any) and its output activations.

    ``weight_bits`` holds the bits of every weight as HGQ counts them (magnitude bits, no sign bit;
    0 = pruned); ``activation_bits`` the width ``k + i + f`` of every output element (0 = the
    element is the constant 0).
    """

    name: str
    kind: str
    weight_bits: np.ndarray | None
    activation_bits: np.ndarray
    ebops: int = 0
    adder_levels: int = 0
    weight_ops: list[str] = field(default_factory=list)
    #: adders of the layer's constant multiplications and sums (``docs/method.md`` §8)
    adders: int = 0

    @property
    def weights(self) -> int:
        return 0 if self.weight_bits is None else int(self.weight_bits.size)

    @property
    def kept(self) -> int:
        return 0 if self.weight_bits is None else int(np.count_nonzero(self.weight_bits))

    @property
    def pruned(self) -> int:
        return self.weights - self.kept

    def kept_weight_stats(self) -> BitStats:
        """Bit statistics over the weights that survive (pruned ones are counted by ``pruned``)."""
        if self.weight_bits is None:
            return BitStats.of(np.zeros(0))
        return BitStats.of(self.weight_bits[self.weight_bits > 0])

    def activation_stats(self) -> BitStats:
        return BitStats.of(self.activation_bits)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "weights": self.weights, "kept": self.kept,
            "pruned": self.pruned, "weight_bits": self.kept_weight_stats().to_dict(),
            "activation_bits": self.activation_stats().to_dict(), "ebops": self.ebops,
            "adder_levels": self.adder_levels, "weight_ops": list(self.weight_ops),
            "adders": self.adders,
        }


@dataclass
class DesignStats:
    """Totals and per-layer rows of one firmware model."""

    layers: list[LayerStats]
    ebops: int
    weights: int
    kept: int
    latency_adder_levels: int
    max_accumulator_width: int
    input_shapes: dict[str, tuple[int, ...]]
    output_shapes: dict[str, tuple[int, ...]]
    #: total adder count (``fw.resources().adders``)
    adders: int = 0

    @property
    def pruned(self) -> int:
        return self.weights - self.kept

    @property
    def weighted_layers(self) -> list[LayerStats]:
        return [layer for layer in self.layers if layer.weight_bits is not None]

    def to_dict(self) -> dict:
        return {
            "ebops": self.ebops, "adders": self.adders, "weights": self.weights, "kept": self.kept, "pruned": self.pruned,
            "latency_adder_levels": self.latency_adder_levels,
            "max_accumulator_width": self.max_accumulator_width,
            "inputs": {k: list(v) for k, v in self.input_shapes.items()},
            "outputs": {k: list(v) for k, v in self.output_shapes.items()},
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _weight_array(op) -> np.ndarray | None:
    from hgq_fpga.ir.resources import weight_bits

    if op.kind in PRODUCT_KINDS:
        return None
    raw = op.c_raw if op.kind == "avgpool" else op.w_raw
    return weight_bits(raw)


def _feeding_weighted_op(name: str, producers: dict) -> str | None:
    """The weighted (or product) op whose result reaches tensor ``name`` through ReLU/reshape ops only."""
    op = producers.get(name)
    while op is not None:
        if op.kind in WEIGHTED_KINDS + PRODUCT_KINDS:
            return op.name
        if op.kind not in PASS_THROUGH_KINDS:
            return None
        op = producers.get(op.inputs[0])
    return None


def _layer_kind(op, weighted, producers: dict) -> str:
    """What the layer does: its weighted op, its activation function, or an add / a requantization."""
    if weighted is not None:
        return weighted.kind
    if op.kind == "table":
        return f"activation ({op.function})" if op.function else "activation"
    source = producers.get(op.inputs[0])
    if source is not None and source.kind == "relu":
        return "activation (relu)"
    if source is not None and source.kind == "add":
        return "add"
    return "quantize"


def _segment_levels(name: str, producers: dict, per_op: dict, memo: dict) -> int:
    """Adder levels on the longest path to tensor ``name`` from the previous quantization points.

    A model input or the output of a cast/table ends the walk; every other op on the way (the
    multiplier tree, ReLU, pooling, additions) counts with its levels.
    """
    if name in memo:
        return memo[name]
    op = producers.get(name)
    if op is None or op.kind in QUANTIZING_KINDS:
        levels = 0
    else:
        levels = int(per_op[op.name].adder_levels) + max(
            (_segment_levels(i, producers, per_op, memo) for i in op.inputs), default=0)
    memo[name] = levels
    return levels


def summarize(fw) -> DesignStats:
    """Collect per-layer and total statistics of ``fw`` (a :class:`~hgq_fpga.ir.FirmwareModel`)."""
    res = fw.resources()
    per_op = {r.name: r for r in res.ops}
    producers = {op.name: op for op in fw.ops}
    layers: list[LayerStats] = [LayerStats(s.name, "input", None, s.type.width.copy())
                                for s in fw.inputs]
    claimed: set[str] = set()
    memo: dict[str, int] = {}
    for op in fw.ops:
        if op.kind not in QUANTIZING_KINDS:
            continue  # weighted ops are reported with the cast that quantizes their result
        source = _feeding_weighted_op(op.inputs[0], producers)
        weighted = producers[source] if source is not None else None
        row = LayerStats(op.name, _layer_kind(op, weighted, producers), None, op.out.width.copy())
        # every op since the previous layer's output (multiplier tree, ReLU, pooling, the cast):
        # along a chain of layers the rows add up to the latency
        row.adder_levels = int(per_op[op.name].adder_levels) + max(
            (_segment_levels(i, producers, per_op, memo) for i in op.inputs), default=0)
        if weighted is not None:
            claimed.add(weighted.name)
            row.weight_bits = _weight_array(weighted)
            row.ebops = int(per_op[weighted.name].ebops)
            row.weight_ops = [weighted.name]
            row.adders = int(per_op[weighted.name].adders)
        layers.append(row)
    for op in fw.ops:  # a weighted op whose result is never requantized still costs resources
        if op.kind in WEIGHTED_KINDS + PRODUCT_KINDS and op.name not in claimed:
            layers.append(LayerStats(op.name, op.kind, _weight_array(op), op.out.width.copy(),
                                     int(per_op[op.name].ebops), int(per_op[op.name].adder_levels),
                                     [op.name], int(per_op[op.name].adders)))
    weights = sum(layer.weights for layer in layers)
    kept = sum(layer.kept for layer in layers)
    return DesignStats(
        layers=layers, ebops=int(res.ebops), weights=weights, kept=kept,
        latency_adder_levels=int(res.latency), max_accumulator_width=int(res.accumulator_width),
        input_shapes={s.name: tuple(s.shape) for s in fw.inputs},
        output_shapes={o: tuple(fw.types[o].shape) for o in fw.outputs},
        adders=int(res.adders),
    )

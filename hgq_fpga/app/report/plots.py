"""PNG figures of a design: bit-width distributions, weight heat maps, EBOPs, Pareto front, synthesis.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas and never touch
``pyplot``, so writing a report neither opens a window nor changes the user's matplotlib backend.
Every function takes plain data (see :mod:`hgq_fpga.app.report.stats`) and a path, and returns the path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from hgq_fpga.pareto import ParetoPoint
from hgq_fpga.app.report.stats import DesignStats

DPI = 120
PRUNED_COLOUR = "#d9d9d9"


#: tick labels with thousands separators (12,000 rather than 12000)
THOUSANDS = FuncFormatter(lambda value, _pos: f"{value:,.0f}")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    return path


def layer_colours(stats: DesignStats) -> dict[str, str]:
    """One colour per layer, the same in every panel and figure (matplotlib's tab10 cycle)."""
    from matplotlib import colormaps

    palette = colormaps["tab10"].colors
    return {layer.name: palette[n % len(palette)] for n, layer in enumerate(stats.layers)}


def _grouped_fractions(ax, series: Sequence[tuple[str, np.ndarray]], what: str,
                       colours: dict[str, str] | None = None) -> None:
    """Bars of the fraction of elements at each bit width, one colour per layer, centred on the ticks."""
    series = [(name, np.asarray(bits).ravel()) for name, bits in series if np.asarray(bits).size]
    if not series:
        ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    top = max(int(bits.max()) for _, bits in series)
    widths = np.arange(top + 1)
    step = 0.8 / len(series)
    for n, (name, bits) in enumerate(series):
        fractions = np.bincount(bits, minlength=top + 1) / bits.size
        ax.bar(widths - 0.4 + step * (n + 0.5), 100 * fractions, width=step, label=name,
               color=(colours or {}).get(name), align="center")
    ax.set_xticks(widths)
    ax.set_xlabel("bit width (bits)")
    ax.set_ylabel(f"share of the layer's {what} (%)")
    ax.legend(title="layer", fontsize="small")
    ax.grid(axis="y", alpha=0.3)


def plot_bit_widths(stats: DesignStats, path: str | Path) -> Path:
    """Distribution of weight and activation bit widths, per layer (0 bits = pruned)."""
    fig = _figure(11, 4.2)
    left, right = fig.subplots(1, 2)
    colours = layer_colours(stats)
    _grouped_fractions(left, [(l.name, l.weight_bits) for l in stats.weighted_layers], "weights", colours)
    left.set_title(f"Weight bits, sign not counted ({stats.pruned:,} of {stats.weights:,} pruned = 0 bits)")
    _grouped_fractions(right, [(l.name, l.activation_bits) for l in stats.layers], "activations", colours)
    right.set_title("Activation bit widths k + i + f (0 = constant zero)")
    fig.suptitle("Learned bit widths per layer (one colour per layer in both panels)")
    right.set_xlabel("bit width k + i + f: sign bit k (0 or 1) + integer bits i + fractional bits f\n"
                     "(the width of ap_fixed<k+i+f, k+i>)")
    return _save(fig, path)


def _as_matrix(bits: np.ndarray) -> np.ndarray:
    """A weight tensor as (inputs, outputs): conv kernels stack their taps along the inputs."""
    bits = np.asarray(bits)
    return bits.reshape(-1, bits.shape[-1]) if bits.ndim >= 2 else bits.reshape(1, -1)


def plot_weight_heatmaps(stats: DesignStats, path: str | Path) -> Path:
    """One heat map per weighted layer: the bits of every weight, pruned weights in grey."""
    layers = [l for l in stats.weighted_layers if l.kind in ("dense", "conv")]
    n = max(len(layers), 1)
    fig = _figure(min(4.0 * n, 16), 4.6)
    axes = np.atleast_1d(fig.subplots(1, n))
    top = max((int(l.weight_bits.max(initial=0)) for l in layers), default=1) or 1
    cmap = _discrete_cmap(top)
    image = None
    for ax, layer in zip(axes, layers):
        matrix = _as_matrix(layer.weight_bits).astype(float)
        image = ax.imshow(np.ma.masked_equal(matrix, 0), cmap=cmap, vmin=0.5, vmax=top + 0.5,
                          aspect="auto", interpolation="nearest")
        ax.set_facecolor(PRUNED_COLOUR)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{layer.name}\n{layer.kept:,} kept / {layer.pruned:,} pruned", fontsize="medium")
        ax.set_xlabel("output unit")
        ax.set_ylabel("input (kernel tap × channel)" if layer.kind == "conv" else "input unit")
    if image is None:
        axes[0].text(0.5, 0.5, "no dense or conv layers", ha="center", va="center")
        axes[0].set_axis_off()
    else:
        bar = fig.colorbar(image, ax=list(axes), ticks=range(1, top + 1), shrink=0.9)
        bar.set_label("weight bits (grey = pruned, 0 bits)")
    fig.suptitle("Weight bit widths per layer")
    return _save(fig, path)


def _discrete_cmap(levels: int):
    from matplotlib import colormaps

    return colormaps["viridis"].resampled(max(levels, 1))


def plot_ebops(stats: DesignStats, path: str | Path) -> Path:
    """Horizontal bars of EBOPs per layer, labelled with the value and the share of the total."""
    layers = stats.weighted_layers
    fig = _figure(8, 1.2 + 0.55 * max(len(layers), 1))
    ax = fig.subplots()
    names = [l.name for l in layers][::-1]
    values = [l.ebops for l in layers][::-1]
    bars = ax.barh(names, values, color="#4c72b0")
    total = max(stats.ebops, 1)
    for bar, value in zip(bars, values):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                f" {value:,} ({100 * value / total:.0f} %)", va="center", fontsize="small")
    ax.set_xlim(0, max(values, default=1) * 1.3 or 1)
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.set_xlabel("EBOPs (Σ input bits × weight bits)")
    ax.set_title(f"EBOPs per layer (total {stats.ebops:,})")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def plot_pareto(points: Sequence[ParetoPoint], path: str | Path, chosen: ParetoPoint | None = None,
                epochs: Sequence[tuple[float, float]] = (), metric_name: str = "validation accuracy",
                deployed: tuple[float, float] | None = None) -> Path:
    """Accuracy against EBOPs: every epoch (grey), the Pareto front (line), the chosen model (star).

    ``epochs`` are ``(ebops, metric)`` pairs of every epoch; ``deployed`` is the chosen model's
    ``(exact EBOPs, test metric)`` after calibration, drawn as a second marker when given.
    """
    fig = _figure(7.5, 4.8)
    ax = fig.subplots()
    scale = 100.0
    if epochs:
        e = np.asarray(epochs, dtype=float)
        ax.scatter(e[:, 0], scale * e[:, 1], s=12, color="#b0b0b0", label="every epoch")
    if points:
        ordered = sorted(points, key=lambda p: p.ebops)
        ax.step([p.ebops for p in ordered], [scale * p.metric for p in ordered], where="post",
                color="#4c72b0", alpha=0.6)
        ax.scatter([p.ebops for p in ordered], [scale * p.metric for p in ordered], s=28,
                   color="#4c72b0", label="Pareto front (saved checkpoints)", zorder=3)
    if chosen is not None:
        ax.scatter([chosen.ebops], [scale * chosen.metric], s=260, marker="*", color="#dd8452",
                   edgecolor="black", zorder=5,
                   label=f"chosen: {chosen.ebops:,.0f} EBOPs, {scale * chosen.metric:.2f} %")
    if deployed is not None:
        ax.scatter([deployed[0]], [scale * deployed[1]], s=45, marker="D", color="#55a868",
                   edgecolor="black", zorder=6,
                   label=f"deployed (exact): {deployed[0]:,.0f} EBOPs, {scale * deployed[1]:.2f} % test")
    xs = [p.ebops for p in points] + [x for x, _ in epochs]
    if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.set_xlabel("EBOPs (training-time estimate; deployed: exact)")
    ax.set_ylabel(f"{metric_name} (%)")
    ax.set_title("Accuracy vs. resource cost during training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return _save(fig, path)


def plot_synthesis(synth, comparison: dict, path: str | Path) -> Path:
    """Synthesised utilisation per resource, and EBOPs against ``LUT + 55·DSP``."""
    fig = _figure(11, 4.2)
    left, right = fig.subplots(1, 2)
    util = synth.utilisation()
    kinds = [k for k in synth.resources if k in util]
    bars = left.bar(kinds, [100 * util[k] for k in kinds], color="#4c72b0")
    for bar, kind in zip(bars, kinds):
        left.text(bar.get_x() + bar.get_width() / 2, bar.get_height(),
                  f"{synth.resources[kind]:,}\nof {synth.available[kind]:,}", ha="center",
                  va="bottom", fontsize="small")
    left.set_ylim(0, max([100 * util[k] for k in kinds], default=1) * 1.4 or 1)
    left.set_ylabel("utilisation of the part (%)")
    left.set_title(f"C synthesis on {synth.part}")
    labels = ["EBOPs\n(estimate)", "LUT + 55·DSP\n(synthesis)"]
    values = [comparison["ebops_estimate"], comparison["lut_plus_55_dsp"]]
    right.bar(labels, values, color=["#8172b2", "#4c72b0"])
    for x, value in enumerate(values):
        right.text(x, value, f"{value:,}", ha="center", va="bottom")
    right.yaxis.set_major_formatter(THOUSANDS)
    right.set_ylabel("LUT equivalents")
    right.set_title(f"latency: {comparison['latency_cycles_worst']} cycles "
                    f"({comparison['latency_ns_worst']:g} ns) vs. "
                    f"{comparison['adder_levels_estimate']} adder levels estimated", fontsize="medium")
    fig.suptitle(f"Synthesis ({synth.tool_version}, clock {synth.target_clock_ns:g} ns) beside the estimates")
    return _save(fig, path)

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
from hgq_fpga.app.report.log_axis import log_scale
from hgq_fpga.app.report.stats import DesignStats

DPI = 120


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
    """Bars of the share of elements at each bit width, one colour per layer.

    At every width only the layers that have elements there get a bar, and that group is centred
    on the width's tick, so no gap marks a layer without values and every group sits on its tick.
    """
    series = [(name, np.asarray(bits).ravel()) for name, bits in series if np.asarray(bits).size]
    if not series:
        ax.text(0.5, 0.5, f"no {what}", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    top = max(int(bits.max()) for _, bits in series)
    widths = np.arange(top + 1)
    shares = {name: 100 * np.bincount(bits, minlength=top + 1) / bits.size for name, bits in series}
    step = 0.84 / max(max(sum(shares[n][w] > 0 for n in shares) for w in widths), 1)
    for w in widths:
        present = [name for name, _ in series if shares[name][w] > 0]
        for j, name in enumerate(present):
            ax.bar(w + (j - (len(present) - 1) / 2) * step, shares[name][w], width=step,
                   color=(colours or {}).get(name), edgecolor="white", linewidth=0.4)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=(colours or {}).get(name), label=name) for name, _ in series],
              title="layer", fontsize="small")
    ax.set_xticks(widths)
    ax.set_xlim(-0.6, top + 0.6)
    ax.set_xlabel("bit width (bits)")
    ax.set_ylabel(f"share of the layer's {what} (%)")
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


#: how a pruned (0-bit) weight is drawn: hatched on white, unlike any colour of the bits' scale
PRUNED_HATCH = "////"


def _pruned_background(ax) -> None:
    """Hatch the whole panel: masked (pruned) cells of an image drawn above it show the hatching."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor="white",
                           edgecolor=PRUNED_COLOUR_EDGE, hatch=PRUNED_HATCH, linewidth=0, zorder=0))


#: colour of the hatching of pruned weights
PRUNED_COLOUR_EDGE = "#9a9a9a"


def _pruned_patch():
    from matplotlib.patches import Patch

    return Patch(facecolor="white", edgecolor=PRUNED_COLOUR_EDGE, hatch=PRUNED_HATCH, label="pruned (0 bits)")


def plot_weight_heatmaps(stats: DesignStats, path: str | Path) -> Path:
    """One heat map per weighted layer: the bits of every weight, pruned weights hatched."""
    layers = [l for l in stats.weighted_layers if l.kind in ("dense", "conv")]
    n = max(len(layers), 1)
    fig = _figure(min(4.0 * n, 16), 4.8)
    axes = np.atleast_1d(fig.subplots(1, n))
    top = max((int(l.weight_bits.max(initial=0)) for l in layers), default=1) or 1
    cmap = _discrete_cmap(top)
    image = None
    for ax, layer in zip(axes, layers):
        matrix = _as_matrix(layer.weight_bits).astype(float)
        _pruned_background(ax)
        image = ax.imshow(np.ma.masked_equal(matrix, 0), cmap=cmap, vmin=0.5, vmax=top + 0.5,
                          aspect="auto", interpolation="nearest", zorder=1)
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
        bar.set_label("weight bits (sign not counted)")
        fig.legend(handles=[_pruned_patch()], loc="lower right", fontsize="small")
    fig.suptitle("Weight bit widths per layer (hatched: pruned)")
    return _save(fig, path)


def plot_unit_images(stats: DesignStats, image_shape: Sequence[int], path: str | Path) -> Path | None:
    """The first dense layer's weight bits, one small image of the input per unit (pruned hatched).

    ``image_shape`` is ``(height, width)`` or ``(height, width, channels)`` of the flat input (8×8
    for the digits); channels are averaged. ``None`` when the first weighted layer is not a dense
    layer over that many inputs.
    """
    layers = stats.weighted_layers
    shape = tuple(int(d) for d in image_shape)
    if not layers or layers[0].kind != "dense" or len(shape) not in (2, 3):
        return None
    layer = layers[0]
    matrix = _as_matrix(layer.weight_bits)
    if matrix.shape[0] != int(np.prod(shape)):
        return None
    units = matrix.shape[1]
    columns = int(np.ceil(np.sqrt(units * shape[0] / shape[1] * 1.6)))
    rows = int(np.ceil(units / columns))
    fig = _figure(min(1.05 * columns + 1.6, 16), min(1.05 * rows + 1.0, 16))
    axes = np.atleast_1d(fig.subplots(rows, columns)).ravel()
    top = max(int(matrix.max(initial=0)), 1)
    cmap = _discrete_cmap(top)
    image = None
    for unit, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if unit >= units:
            ax.set_axis_off()
            continue
        bits = matrix[:, unit].reshape(shape).astype(float)
        bits = bits.mean(axis=2) if bits.ndim == 3 else bits
        _pruned_background(ax)
        image = ax.imshow(np.ma.masked_equal(bits, 0), cmap=cmap, vmin=0.5, vmax=top + 0.5,
                          interpolation="nearest", zorder=1)
        ax.set_title(f"{unit}", fontsize="x-small", pad=1.5)
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes), ticks=range(1, top + 1), shrink=0.6)
        bar.set_label("weight bits")
        fig.legend(handles=[_pruned_patch()], loc="lower right", fontsize="small")
    fig.suptitle(f"{layer.name}: the weight bits of each unit as an image of the {shape[0]}×{shape[1]} input "
                 f"({layer.kept:,} kept, {layer.pruned:,} pruned; hatched: a pruned pixel)")
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


def _front_limits(front_values: np.ndarray, marks: Sequence[float]) -> tuple[float, float]:
    """The y range of the Pareto figure: the front and the marked models, with a margin, not the warm-up."""
    values = np.concatenate([front_values, np.asarray(marks, dtype=float)])
    low, high = float(values.min()), float(values.max())
    margin = max(0.15 * (high - low), 2.0)   # at least 2 points: a short run's front may be one point
    return low - margin, high + margin


def plot_pareto(points: Sequence[ParetoPoint], path: str | Path, chosen: ParetoPoint | None = None,
                epochs: Sequence[tuple[float, float]] = (), metric_name: str = "validation accuracy",
                deployed: tuple[float, float] | None = None, ebops_label: str | None = None) -> Path:
    """Accuracy against EBOPs: every epoch (coloured by epoch), the front, the chosen and deployed model.

    ``epochs`` are ``(ebops, metric)`` pairs of every epoch, in training order: their colour shows
    the direction of training. The y axis spans the Pareto front (and the two marked models) with
    a margin, so the front is readable; epochs below it (the warm-up) are counted in the legend
    instead. The chosen checkpoint is a hollow star, so front points inside it stay visible;
    ``deployed`` is the chosen model's ``(exact EBOPs, test metric)`` after calibration, a diamond
    whose label points at it from the other side. ``ebops_label`` names the x axis (default: the
    training-time estimate, the deployed model exact).
    """
    from matplotlib.lines import Line2D

    fig = _figure(8.2, 5.6)
    ax = fig.subplots()
    scale = 100.0
    ordered = sorted(points, key=lambda p: p.ebops)
    front_y = np.array([scale * p.metric for p in ordered], dtype=float)
    marks = ([scale * chosen.metric] if chosen is not None else []) + \
            ([scale * deployed[1]] if deployed is not None else [])
    low, high = _front_limits(front_y, marks) if len(front_y) else (None, None)
    handles = []
    if epochs:
        e = np.asarray(epochs, dtype=float)
        order = np.arange(1, len(e) + 1)
        dots = ax.scatter(e[:, 0], scale * e[:, 1], s=16, c=order, cmap="viridis", zorder=2,
                          vmin=1, vmax=max(len(e), 2))
        bar = fig.colorbar(dots, ax=ax, pad=0.01)
        bar.set_label("epoch (β rises with the epoch)")
        hidden = int(np.sum(scale * e[:, 1] < low)) if low is not None else 0
        label = "every epoch" + (f" ({hidden} early epoch{'s' if hidden != 1 else ''} below the axis)"
                                 if hidden else "")
        handles.append(Line2D([], [], ls="", marker="o", markersize=5, color="#5a8f7b", label=label))
    if ordered:
        ax.step([p.ebops for p in ordered], front_y, where="post", color="#333333", alpha=0.5, lw=1.0, zorder=3)
        ax.scatter([p.ebops for p in ordered], front_y, s=52, facecolor="none", edgecolor="black",
                   linewidth=1.1, zorder=6)
        handles.append(Line2D([], [], ls="-", lw=1.0, marker="o", markersize=7, markerfacecolor="none",
                              color="#333333", markeredgecolor="black",
                              label=f"Pareto front ({len(ordered)} saved checkpoint{'' if len(ordered) == 1 else 's'}, ringed)"))
    if chosen is not None:
        ax.scatter([chosen.ebops], [scale * chosen.metric], s=300, marker="*", facecolor="none",
                   edgecolor="#dd8452", linewidth=2.0, zorder=5)
        ax.annotate("chosen", (chosen.ebops, scale * chosen.metric), xytext=(16, 18),
                    textcoords="offset points", ha="left", color="#b35a1f", fontsize="small",
                    arrowprops={"arrowstyle": "-", "color": "#b35a1f", "lw": 0.8})
        handles.append(Line2D([], [], ls="", marker="*", markersize=15, markerfacecolor="none",
                              markeredgecolor="#dd8452", markeredgewidth=1.8,
                              label=f"chosen: {chosen.ebops:,.0f} EBOPs, {scale * chosen.metric:.2f} % "
                                    f"({'calibrated' if ebops_label else 'training estimate'}, validation)"))
    if deployed is not None:
        ax.scatter([deployed[0]], [scale * deployed[1]], s=38, marker="D", color="#55a868",
                   edgecolor="black", zorder=7)
        ax.annotate("deployed", (deployed[0], scale * deployed[1]), xytext=(14, -16),
                    textcoords="offset points", ha="left", va="top", color="#2f6b3e", fontsize="small",
                    arrowprops={"arrowstyle": "-", "color": "#2f6b3e", "lw": 0.8})
        handles.append(Line2D([], [], ls="", marker="D", markersize=7, color="#55a868", markeredgecolor="black",
                              label=f"deployed: {deployed[0]:,.0f} EBOPs (exact), {scale * deployed[1]:.2f} % test"))
    shown = [x for x, m in epochs if low is None or scale * m >= low]   # epochs below the axis do not widen it
    xs = [p.ebops for p in points] + shown + ([deployed[0]] if deployed else [])
    if xs and min(xs) > 0 and max(xs) / min(xs) > 20:
        log_scale(ax, base=THOUSANDS)
        ax.set_xlim(min(xs) / 1.15, max(xs) * 1.15)
    elif xs:
        pad = 0.06 * (max(xs) - min(xs)) or 0.05 * max(xs) or 1.0
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.xaxis.set_major_formatter(THOUSANDS)
    if low is not None:
        ax.set_ylim(low, high)
    ax.set_xlabel(ebops_label or "EBOPs (training-time estimate; deployed: exact)")
    ax.set_ylabel(f"{metric_name} (%)")
    ax.set_title("Accuracy vs. resource cost during training")
    ax.grid(alpha=0.3)
    fig.legend(handles=handles, fontsize="small", loc="outside lower center", ncols=2)
    return _save(fig, path)


def plot_synthesis(sections: dict, path: str | Path) -> Path:
    """Synthesized utilisation per resource kind, and EBOPs against ``LUT + 55·DSP``, per project.

    ``sections``: ``{backend: {"figures": ..., "comparison": ...}}``
    (:func:`hgq_fpga.app.report.synthesis.sections`).
    """
    fig = _figure(11, 4.2)
    left, right = fig.subplots(1, 2)
    names = list(sections)
    width = 0.8 / len(names)
    kinds = [k for k in ("LUT", "FF", "DSP", "BRAM_18K")
             if any(k in sections[n]["figures"]["utilisation"] for n in names)]
    tallest = 1.0
    for j, name in enumerate(names):
        f = sections[name]["figures"]
        shares = [100 * f["utilisation"].get(k, 0.0) for k in kinds]
        tallest = max(tallest, *shares) if shares else tallest
        bars = left.bar(np.arange(len(kinds)) + (j - (len(names) - 1) / 2) * width, shares, width,
                        label=f"{name.upper()} ({f['tool']})")
        for bar, kind in zip(bars, kinds):
            left.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{f['resources'].get(kind, 0):,}",
                      ha="center", va="bottom", fontsize="small")
    left.set_xticks(np.arange(len(kinds)), kinds)
    left.set_ylim(0, tallest * 1.4)
    left.set_ylabel("utilisation of the part (%)")
    left.set_title(f"synthesis on {sections[names[0]]['figures']['part']}")
    left.legend(fontsize="small")
    labels = ["EBOPs\n(estimate)", *(f"LUT + 55·DSP\n({n.upper()})" for n in names)]
    values = [sections[names[0]]["comparison"]["ebops_estimate"],
              *(sections[n]["comparison"]["lut_plus_55_dsp"] for n in names)]
    right.bar(labels, values, color=["#8172b2", *["#4c72b0"] * len(names)])
    for x, value in enumerate(values):
        right.text(x, value, f"{value:,}", ha="center", va="bottom")
    right.yaxis.set_major_formatter(THOUSANDS)
    right.set_ylabel("LUT equivalents")
    latency = "; ".join(f"{n.upper()} {sections[n]['figures']['latency_cycles']} cycles "
                        f"({sections[n]['figures']['latency_ns']:g} ns)" for n in names)
    right.set_title(f"latency: {latency}; {sections[names[0]]['comparison']['adder_levels_estimate']} "
                    "adder levels estimated", fontsize="medium")
    fig.suptitle("Synthesis beside the estimates")
    return _save(fig, path)


def _roc_x_start(curves: Sequence[dict | None]) -> float:
    """Where the ROC figure's x axis starts: just before the first curve rises off zero background.

    A good classifier keeps zero background up to a high signal efficiency; starting the axis
    there (in steps of 0.05, never below 0) spreads the part where the classes differ.
    """
    rises = [float(np.asarray(c["tpr"])[np.argmax(np.asarray(c["fpr"]) > 0)])
             for c in curves if c is not None and np.any(np.asarray(c["fpr"]) > 0)]
    if not rises:
        return 0.0
    return max(0.0, float(np.floor((min(rises) - 0.05) / 0.05 + 1e-9)) * 0.05)


def plot_roc(record: dict, path: str | Path) -> Path | None:
    """Write :func:`roc_figure` to ``path``; ``None`` (no file) when no class has enough events."""
    fig = roc_figure(record)
    return None if fig is None else _save(fig, path)


def roc_figure(record: dict) -> Figure | None:
    """ROC curve of every class with enough events (one-vs-rest): Keras solid, firmware dashed.

    ``record`` is a :func:`hgq_fpga.app.report.classification.classification_record`. Drawn as a
    trigger is read: background rejection (1 / background efficiency, log scale) against signal
    efficiency, with the working points of the trigger table as horizontal lines (rejection 100 at
    1 % background). A class with fewer than the record's ``min_curve_events`` events gets no curve
    (the figure names it); ``None`` when no class has enough. The rejection of a cut
    that no background event passes is unmeasurable, so curves end at one background event; the x
    axis starts just before the first curve leaves that end.
    """
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    from hgq_fpga.app.report.classification import curve_classes

    drawn, few = curve_classes(record)
    if not drawn:
        return None
    fig = _figure(9.6, 5.4)
    ax = fig.subplots()
    names = record["classes"]
    palette = colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    styles = {"keras": ("-", 2.2, 0.45), "firmware": ("--", 1.3, 1.0)}
    top = 1.0
    for model in ("keras", "firmware"):
        curves = record["roc"].get(model) or []
        for c in drawn:
            fpr, tpr = np.asarray(curves[c]["fpr"]), np.asarray(curves[c]["tpr"])
            seen = fpr > 0
            top = max(top, record["samples"] - record["per_class"][c]["samples"])
            style, width, alpha = styles[model]
            ax.plot(tpr[seen], 1 / fpr[seen], style, lw=width, alpha=alpha, color=palette[c % len(palette)],
                    label=f"{model}:{names[c]}")
    rates = (record.get("trigger") or {}).get("rates", [])
    for rate in rates:
        ax.axhline(1 / rate, color="grey", lw=0.8, ls=":")
        ax.annotate(f"{100 * rate:g} % background", (0.0, 1 / rate), xycoords=("axes fraction", "data"),
                    xytext=(3, 2), textcoords="offset points", fontsize="x-small", color="grey")
    log_scale(ax, "y")
    ax.set_ylim(0.9, top * 1.5)
    ax.set_xlim(_roc_x_start([record["roc"]["firmware"][c] for c in drawn]), 1.005)
    ax.set_xlabel("signal efficiency (true-positive rate of the class)")
    ax.set_ylabel("background rejection (1 / false-positive rate, log)\ncurves end at one background event")
    ax.grid(alpha=0.3, which="both")
    firmware, keras = record["roc"]["firmware"], record["roc"].get("keras")
    handles = []
    for c in drawn:
        text = f"{names[c]}: {firmware[c]['auc']:.4f}"
        if keras and keras[c] is not None:
            text += f" (Keras {keras[c]['auc']:.4f})"
        handles.append(Line2D([], [], color=palette[c % len(palette)], lw=2, label=text))
    if keras:
        handles += [Line2D([], [], color="black", ls="-", lw=2.2, alpha=0.45, label="Keras, before calibration"),
                    Line2D([], [], color="black", ls="--", lw=1.3, label="firmware (= C++, bit-exact)")]
    if few:
        minimum = record["trigger"]["min_curve_events"]
        handles.append(Line2D([], [], ls="", label=f"not drawn (< {minimum} events): "
                                                   + ", ".join(names[c] for c in few)))
    fig.legend(handles=handles, fontsize="small", loc="outside right center", title="class: AUC of the firmware",
               title_fontsize="small")
    ax.set_title(f"ROC per class, one against the rest ({record['samples']:,} samples, {record['data']})",
                 fontsize="medium")
    return fig


def _profile_panel(ax, layers: list[dict], part: str, title: str) -> None:
    """Horizontal boxes of one part (``weights`` or ``activations``) per layer, over grey bands of
    the range their types hold; the layers from top to bottom in model order."""
    from matplotlib.patches import Rectangle

    names = [layer["layer"] for layer in layers]
    positions = {name: len(names) - n for n, name in enumerate(names)}
    boxes = []
    for layer in layers:
        record = layer[part]
        if not record:
            continue
        name, y = layer["layer"], positions[layer["layer"]]
        if record.get("range"):
            low, high = record["range"]
            band = Rectangle((low, y - 0.4), high - low, 0.8, facecolor="#bbbbbb", alpha=0.45, edgecolor="none",
                             zorder=1, gid=f"range:{name}")
            ax.add_patch(band)
        if record["quantiles"]:
            lo, q05, q25, q50, q75, q95, hi = record["quantiles"]
            boxes.append(({"whislo": q05, "q1": q25, "med": q50, "q3": q75, "whishi": q95, "fliers": [lo, hi],
                           "label": name}, y))
        if record.get("outside"):
            ax.annotate(f"{record['outside']:,} outside", (1.0, y + 0.38), xycoords=("axes fraction", "data"),
                        xytext=(-3, 0), textcoords="offset points", ha="right", va="top",
                        fontsize="x-small", color="#c44e52")
    if boxes:
        drawn = ax.bxp([b for b, _ in boxes], positions=[y for _, y in boxes], orientation="horizontal",
                       widths=0.5, showfliers=True, patch_artist=True, zorder=3,
                       boxprops={"facecolor": "#4c72b0", "alpha": 0.85},
                       medianprops={"color": "white"}, flierprops={"marker": "|", "markersize": 6})
        for line, (stats, _) in zip(drawn["medians"], boxes):
            line.set_gid(f"median:{stats['label']}")
    ax.set_yticks(list(positions.values()), list(positions))
    ax.set_ylim(0.4, len(names) + 0.6)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("magnitude |value| (log2; zeros not drawn)")
    ax.set_title(title, fontsize="medium")
    ax.grid(axis="x", alpha=0.3, which="major")


def profile_figure(profile: dict) -> Figure | None:
    """hls4ml-style profiles: per layer, a box of the float weights' magnitudes and one of the
    activations' (before the cast to the chosen type), each over a grey band from the finest step
    ``2^-f`` to the largest magnitude ``2^i`` the chosen types hold (box 25–75 %, whiskers 5–95 %,
    ticks at the extremes). ``profile`` is :func:`hgq_fpga.app.report.profile.profile_record`'s;
    ``None`` without layers."""
    layers = profile.get("layers") or []
    if not layers:
        return None
    fig = _figure(12, 1.6 + 0.5 * len(layers))
    left, right = fig.subplots(1, 2, sharey=True)
    kept = [layer["weights"] for layer in layers if layer["weights"]]
    quantized = bool(kept) and all(w.get("on_grid") for w in kept)
    _profile_panel(left, layers, "weights", "weights, already quantized (the model keeps no float copy)"
                   if quantized else "float weights (as trained) against the weight types")
    _profile_panel(right, layers, "activations",
                   f"activations before the cast, on {profile['samples']:,} samples of {profile['data']}")
    from matplotlib.patches import Patch

    fig.legend(handles=[Patch(color="#bbbbbb", alpha=0.45, label="range of the chosen types (2^-f to 2^i)"),
                        Patch(color="#4c72b0", alpha=0.85, label="values: box 25–75 %, whiskers 5–95 %, ticks min/max")],
               loc="outside lower center", ncols=2, fontsize="small")
    fig.suptitle("Profile: where the values lie in the chosen fixed-point types")
    return fig


def plot_profile(profile: dict, path: str | Path) -> Path | None:
    """Write :func:`profile_figure` to ``path`` (``None``, no file, without layers)."""
    fig = profile_figure(profile)
    return None if fig is None else _save(fig, path)


def outputs_figure(record: dict) -> Figure | None:
    """The firmware's outputs against the reference model's (the float model before quantization,
    QKeras, or Keras before calibration) on the same labelled samples, one colour per output, with
    the diagonal where they agree. ``record`` is a classification record; ``None`` without a reference."""
    from matplotlib import colormaps

    outputs = record.get("outputs")
    if not outputs:
        return None
    ref, fw = np.asarray(outputs["reference"], float), np.asarray(outputs["firmware"], float)
    fig = _figure(6.4, 5.6)
    ax = fig.subplots()
    names = record["classes"]
    palette = colormaps["tab10" if len(names) <= 10 else "tab20"].colors
    for c, name in enumerate(names):
        ax.scatter(ref[:, c], fw[:, c], s=12, alpha=0.7, color=palette[c % len(palette)], label=name, gid=f"output:{c}")
    low, high = float(min(ref.min(), fw.min())), float(max(ref.max(), fw.max()))
    ax.plot([low, high], [low, high], color="black", lw=0.8, ls="--", label="firmware = reference", gid="diagonal")
    ax.set_xlabel(f"reference output ({record['keras']})")
    ax.set_ylabel("firmware output (= C++, bit-exact)")
    r = outputs["correlation"]
    ax.set_title(f"{len(ref):,} of {outputs['samples']:,} samples: max |Δ| {outputs['max_abs_diff']:.3g}"
                 + (f", r = {r:.4f}" if r is not None else "")
                 + f", same class on {100 * outputs['same_class']:.1f} %", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", title="output", title_fontsize="x-small", ncols=2)
    return fig


def plot_outputs(record: dict, path: str | Path) -> Path | None:
    """Write :func:`outputs_figure` to ``path`` (``None``, no file, without a reference)."""
    fig = outputs_figure(record)
    return None if fig is None else _save(fig, path)


def timing_figure(record: dict) -> Figure:
    """Adder levels of each RTL pipeline stage's longest path, the scheduler's budget per stage and,
    on the right axis, the estimated delay of each stage (:mod:`hgq_fpga.app.report.timing`), with
    the clock period; labelled as an estimate. ``record``: a timing record."""
    levels = record["stage_levels"]
    model = record.get("model")
    fig = _figure(max(6.0, 1.2 + 0.45 * len(levels)), 4.4)
    ax = fig.subplots()
    critical = record["critical_stage"]
    slowest = max(levels)
    bars = ax.bar(range(len(levels)), levels, color=["#c44e52" if n == slowest else "#4c72b0" for n in levels])
    for n, bar in enumerate(bars):
        bar.set_gid(f"stage:{n}")
    if record.get("levels_per_stage"):
        ax.axhline(record["levels_per_stage"], color="grey", ls="--", lw=1, gid="budget",
                   label=f"scheduler's budget: {record['levels_per_stage']} levels per stage")
    ax.set_xticks(range(len(levels)))
    ax.set_xlabel("pipeline stage (clock cycle)")
    ax.set_ylabel("adder levels of the longest path")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if model is not None:
        per, fixed = model["ns_per_level"], model["ns_per_stage"]
        right = ax.secondary_yaxis("right", functions=(lambda n: n * per + fixed, lambda t: (t - fixed) / per))
        right.set_ylabel(f"estimated delay (ns; {model['family']}: {per:g} ns per level + {fixed:g} ns)")
        clock_levels = (record["clock_period_ns"] - fixed) / per
        ax.axhline(clock_levels, color="#dd8452", lw=1.2, gid="clock",
                   label=f"clock period {record['clock_period_ns']:g} ns")
        title = f"ESTIMATE: Fmax ≈ {record['fmax_mhz']:g} MHz (slowest stage {critical}: ≈ {record['path_ns']:g} ns)"
        if record.get("vivado"):
            title += f"\nVivado: WNS {record['vivado']['wns_ns']:+g} ns, Fmax {record['vivado']['fmax_mhz']:g} MHz"
        ax.set_title(title, fontsize="medium")
        ax.set_ylim(0, max(max(levels), clock_levels, record.get("levels_per_stage") or 0) * 1.4 + 0.5)
    else:
        ax.set_title("adder levels per stage (no delay model for this family)", fontsize="medium")
    ax.legend(fontsize="small", loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_timing(record: dict, path: str | Path) -> Path:
    """Write :func:`timing_figure` to ``path``."""
    return _save(timing_figure(record), path)

"""PNG plots of the resource study, drawn from results.json (never from live objects)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402

from hgq_fpga.app.report.log_axis import log_scale  # noqa: E402


def plot_name(arch_name: str) -> str:
    """File name of an architecture's accuracy-vs-EBOPs plot."""
    return f"resource_{arch_name}.png"


def resource_plot(arch_name: str, arch: dict, path: Path) -> None:
    """Test accuracy against exact EBOPs (log x): HGQ checkpoints and front, uniform widths."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    pts = arch["hgq_points"]
    front = sorted(arch["hgq_front"], key=lambda p: p["ebops"])
    ax.scatter([p["ebops"] for p in pts], [p["accuracy"] for p in pts], s=14, color="tab:blue",
               alpha=0.35, label="HGQ checkpoints")
    ax.plot([p["ebops"] for p in front], [p["accuracy"] for p in front], "o-", color="tab:blue",
            label="HGQ Pareto front")
    uni = sorted((p for p in arch["uniform_points"] if p["ebops"] > 0), key=lambda p: p["ebops"])
    ax.plot([p["ebops"] for p in uni], [p["accuracy"] for p in uni], "s--", color="tab:orange",
            label="uniform bit width")
    for p in uni:
        ax.annotate(f"{p['bits']}b", (p["ebops"], p["accuracy"]), textcoords="offset points",
                    xytext=(4, -10), fontsize=8, color="tab:orange")
    head = arch.get("headline")
    if head and head.get("ratio"):
        ax.annotate("", xy=(head["match_ebops"], head["target_accuracy"]),
                    xytext=(head["reference_ebops"], head["target_accuracy"]),
                    arrowprops={"arrowstyle": "->", "color": "tab:green"})
        ax.text((head["match_ebops"] * head["reference_ebops"]) ** 0.5, head["target_accuracy"],
                f"{head['ratio']:.1f}x fewer EBOPs", color="tab:green", ha="center", va="bottom",
                fontsize=9)
    log_scale(ax)
    ax.set_xlabel("exact EBOPs after calibration (log scale)")
    ax.set_ylabel("test accuracy (deployed model)")
    ax.set_title(f"{arch_name}: {arch['architecture']}")
    accs = [p["accuracy"] for p in pts + uni]
    top = max(accs) if accs else 1.0
    ax.set_ylim(max(0.0, min(a for a in accs if a >= top - 0.25) - 0.02) if accs else 0.0, top + 0.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_all(results: dict, out_dir: Path) -> list[str]:
    """Write one plot per architecture of the resource study into ``out_dir``; return the names."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for name, arch in results.get("resource_study", {}).get("architectures", {}).items():
        resource_plot(name, arch, out_dir / plot_name(name))
        names.append(plot_name(name))
    return names

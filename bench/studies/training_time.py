"""BENCHMARKS.md section of the training-time benchmark (raw record
``bench/training_time_results.json``, written by ``python -m bench.bench_training --write``): whole
epochs of real data, HGQ and plain Keras float interleaved, medians, without and with XLA."""

from __future__ import annotations

from pathlib import Path

KEY = "training_time"
ORDER = 45


def render(record: dict, md_dir: Path, plot_dir: Path) -> str:
    first = next(iter(record["modes"].values()))
    lines = ["## Training time: HGQ against plain Keras", "",
             f"{first['data']}, {first['n_train']} images per epoch, 784-64-32-32-10 MLP; one untimed warm-up epoch "
             f"each, then {first['rounds']} timed epochs per model, interleaved (A B, B A, ...); medians. "
             f"Measured {record['date']} on {record['cores']} cores shared with other jobs (load average "
             f"{record['load_before'][0]:.1f} before, {record['load_after'][0]:.1f} after): interleaving makes "
             "the ratio fair, the absolute times are not the machine's.", "",
             "| compilation | batch | plain s/epoch | HGQ s/epoch | HGQ ÷ plain | target | |",
             "|---|---|---|---|---|---|---|"]
    for mode, r in record["modes"].items():
        for batch, b in r["per_batch"].items():
            ok = "n/a" if b["meets_target"] is None else ("met" if b["meets_target"] else "missed")
            lines.append(f"| {'XLA (jit_compile)' if mode == 'xla' else 'graph (tf.function)'} | {batch} | "
                         f"{b['plain_median_s']:.3f} | {b['hgq_median_s']:.3f} | {b['ratio']:.2f} | "
                         f"≤ {b['target']} | {ok} |")
    return "\n".join(lines + [""])


def problems(record: dict) -> list[str]:
    """What is missing or too thin (a missed target is a result, shown in the table, not a problem)."""
    out = [f"training_time: no {mode} measurement" for mode in ("graph", "xla") if mode not in record["modes"]]
    for mode, r in record["modes"].items():
        if r["rounds"] < 5:
            out.append(f"training_time: {mode}: {r['rounds']} timed epochs per model, fewer than 5")
    return out

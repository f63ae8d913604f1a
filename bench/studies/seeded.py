"""BENCHMARKS.md section of the seeded resource study (raw record ``bench/seeded_results.json``,
written by ``python -m bench.seeded_study --record``): per configuration the mean and spread over
seeds, the matched-accuracy ratio as mean ± standard error over seeds, chosen on validation only."""

from __future__ import annotations

from pathlib import Path

KEY = "seeded"
ORDER = 40


def _ms(stat: dict | None, scale: float = 1.0, digits: int = 1, spread: str = "std") -> str:
    if not stat or stat.get("mean") is None:
        return "n/a"
    return f"{scale * stat['mean']:.{digits}f} ± {scale * stat[spread]:.{digits}f}"


def render(record: dict, md_dir: Path, plot_dir: Path) -> str:
    cfg = record["config"]
    lines = ["## Resource study over seeds (sweep engine)", "",
             f"Preset `{record['preset']}`, {len(cfg['seeds'])} seeds ({', '.join(map(str, cfg['seeds']))}), "
             f"{record['trainings']} trainings, {record['wall_seconds'] / 60:.1f} min wall on {record['cores']} "
             f"shared cores (load average at the end {record['load_average'][0]:.1f}). "
             f"Reduced from the full study: {record['reduced']}.", "",
             "Models are chosen and matched on the validation set only; test accuracies are reported. "
             "EBOPs are the exact counts of the calibrated models. Spreads: ± standard deviation over "
             "seeds; the ratio: ± standard error over the seeds that matched.", ""]
    for arch, a in record["architectures"].items():
        lines += [f"**{arch}**: HGQ front size {_ms(a['hgq_front_size'])} points.", "",
                  "| configuration | val. accuracy % | test accuracy % | EBOPs | HGQ test acc. % within its EBOPs "
                  "| EBOPs ratio at matched val. accuracy | seeds matched |",
                  "|---|---|---|---|---|---|---|"]
        for label, c in a["uniform"].items():
            lines.append(f"| {label} | {_ms(c['val_accuracy'], 100)} | {_ms(c['test_accuracy'], 100)} | "
                         f"{_ms(c['ebops'], digits=0)} | {_ms(c['hgq_test_accuracy_within_its_ebops'], 100)} | "
                         f"{_ms(c['ratio'], digits=2, spread='se')} | {c['seeds_matched']}/{c['seeds']} |")
        head = a.get("headline_ratio") or {}
        target = a.get("target_ratio")
        verdict = ("n/a" if head.get("mean") is None or target is None
                   else ("met" if head["mean"] >= target else "missed"))
        lines += ["", f"Headline ({a['headline_config']}, the uniform configuration with the best mean validation "
                  f"accuracy): {_ms(head, digits=2, spread='se')}×, target ≥ {target}× (mean): **{verdict}**.", ""]
    if record.get("failed") or record.get("missing"):
        lines += [f"Missing trainings: {', '.join(record.get('missing', []))}; failed: "
                  f"{', '.join(record.get('failed', {}))}.", ""]
    return "\n".join(lines)


def problems(record: dict) -> list[str]:
    out = []
    if record.get("missing"):
        out.append(f"seeded: {len(record['missing'])} trainings missing")
    if record.get("failed"):
        out.append(f"seeded: {len(record['failed'])} trainings failed")
    if len(record["config"]["seeds"]) < 3:
        out.append("seeded: fewer than 3 seeds")
    return out

"""A seeded study stopped part way (the full one is longer than a sitting and is resumed over
several): only configurations every seed finished are summarised, the rest are listed, the record
renders as "in progress" with a provisional headline, and summarising trains nothing. Run folders
are written by hand here; nothing is trained."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import seeded_study
from bench.models import Architecture
from bench.resource_study import Plan, StudyConfig
from bench.studies import seeded, seeded_full
from hgq_fpga.app.sweep.run import DONE, RESULT, run_folder

TINY = Architecture("mlp", "mlp", hidden=(5,), classes=3)
PLAN = Plan(TINY, epochs=1, beta_start=1e-6, beta_stop=1e-6)
CFG = seeded_study.SeededConfig(StudyConfig((PLAN,), uniform_bits=(4, 8)), seeds=(0, 1, 2),
                                uniform_styles=("saturating", "free"))


def _finish(out: Path, config: str, seed: int, points: list[tuple[float, int]]) -> None:
    name = f"mlp-{config}-seed{seed}"
    folder = run_folder(out, name)
    folder.mkdir(parents=True)
    record = {"name": name, "config": config, "seed": seed, "arch": "mlp", "facts": {}, "seconds": 60.0,
              "points": [{"label": f"{config}-e{k}", "accuracy": acc - 0.01, "calibrated_val_accuracy": acc,
                          "ebops": e} for k, (acc, e) in enumerate(points)]}
    (folder / RESULT).write_text(json.dumps(record))
    (folder / DONE).write_text("")


def test_configurations_come_most_needed_first_and_tasks_follow_them():
    labels = [seeded_study.config_label(b, s, i) for _, b, s, i in seeded_study.configurations(CFG)]
    assert labels == ["hgq", "uniform-sat-8b", "uniform-sat-4b", "uniform-8b", "uniform-4b"]
    names = [t[0] for t in seeded_study.tasks(CFG, lambda: None, "/out")]
    assert names[:4] == ["mlp-hgq-seed0", "mlp-hgq-seed1", "mlp-hgq-seed2", "mlp-uniform-sat-8b-seed0"]
    assert len(names) == len(set(names)) == 5 * 3


@pytest.fixture
def part_way(tmp_path):
    for seed in (0, 1, 2):
        _finish(tmp_path, "hgq", seed, [(0.80, 100), (0.90, 400)])
        _finish(tmp_path, "uniform-sat-8b", seed, [(0.85, 1000 + seed)])
    _finish(tmp_path, "uniform-sat-4b", 1, [(0.70, 300)])       # one seed of three
    return tmp_path


def test_only_whole_configurations_are_summarised(part_way):
    summary = seeded_study.run(CFG, lambda: None, part_way, client=object(), train=False)  # a client is never touched
    mlp = summary["architectures"]["mlp"]
    assert set(mlp["uniform"]) == {"uniform-sat-8b"} and mlp["headline_config"] == "uniform-sat-8b"
    assert mlp["uniform"]["uniform-sat-8b"]["ratio"]["mean"] == sum([1000 / 400, 1001 / 400, 1002 / 400]) / 3
    assert summary["incomplete_configurations"] == {"mlp/uniform-sat-4b": [1], "mlp/uniform-8b": [],
                                                    "mlp/uniform-4b": []}
    assert summary["trainings"] == 7 and summary["trainings_planned"] == 15 and len(summary["missing"]) == 8
    assert summary["training_seconds"] == {"sum": 420.0, "timed": 7}
    assert not any(p.name.startswith(".") for p in (part_way / "runs").iterdir())   # nothing was started


def test_a_part_way_record_renders_as_in_progress(part_way, tmp_path_factory):
    summary = seeded_study.run(CFG, lambda: None, part_way, client=object(), train=False)
    raw = tmp_path_factory.mktemp("raw") / "seeded_full_results.json"
    record = seeded_study.write_record(summary, "full", 5.0, raw)
    assert json.loads(raw.read_text()) == json.loads(json.dumps(record))
    text = seeded_full.render(record, raw.parent, raw.parent)
    assert text.startswith("## Resource study over seeds, full recipe (in progress: 7 of 15 trainings finished)")
    assert "mlp/uniform-sat-4b (seeds 1)" in text and "Not started: mlp/uniform-8b, mlp/uniform-4b." in text
    assert "**missed so far**" in text and "uniform-sat-4b |" not in text
    assert "0.1 h of one-core worker time" in text
    assert seeded_full.problems(record) == []
    assert seeded_full.problems({**record, "preset": "quick"}) == ["seeded_full: preset 'quick', expected 'full'"]


def test_a_finished_record_renders_as_complete(part_way, tmp_path_factory):
    for config in ("uniform-sat-4b", "uniform-8b", "uniform-4b"):
        for seed in (0, 1, 2):
            if not run_folder(part_way, f"mlp-{config}-seed{seed}").exists():
                _finish(part_way, config, seed, [(0.80 + seed / 100, 500)])
    summary = seeded_study.run(CFG, lambda: None, part_way, client=object(), train=False)
    assert not summary["missing"] and not summary["incomplete_configurations"]
    text = seeded_full.render(seeded_study.write_record(summary, "full", 5.0, tmp_path_factory.mktemp("r") / "x.json"),
                              part_way, part_way)
    assert text.startswith("## Resource study over seeds, full recipe (complete)")
    assert "so far" not in text and "uniform-4b |" in text


def test_the_command_summarises_and_records_without_training(part_way, tmp_path_factory, monkeypatch, capsys):
    raw = tmp_path_factory.mktemp("raw") / "seeded_full_results.json"
    monkeypatch.setattr(seeded_study, "preset", lambda mode: (CFG, lambda: None))
    monkeypatch.setattr(seeded_study, "RAW_FULL", raw)
    assert seeded_study.main(["--summarise-only", "--record", "--out", str(part_way)]) == 0
    record = json.loads(raw.read_text())
    assert record["preset"] == "full" and record["trainings"] == 7
    assert set(record["architectures"]["mlp"]["uniform"]) == {"uniform-sat-8b"}
    assert f"wrote {raw}" in capsys.readouterr().out


def test_mean_se():
    s = seeded_study.mean_se([1.0, 2.0, 4.0])
    assert s["n"] == 3 and s["mean"] == 7 / 3
    assert s["std"] == math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    assert s["se"] == s["std"] / math.sqrt(3)
    assert seeded_study.mean_se([])["mean"] is None


def test_one_seed_has_no_spread():
    assert seeded_study.mean_se([2.5]) == {"n": 1, "mean": 2.5, "std": None, "se": None}
    assert seeded.format_stat(seeded_study.mean_se([2.5]), digits=2, spread="se") == "2.50 (one seed)"
    assert seeded.format_stat({"n": 1, "mean": 2.5, "std": 0.0, "se": 0.0}, digits=2, spread="se") == "2.50 (one seed)"
    assert seeded.format_stat(seeded_study.mean_se([2.0, 3.0]), digits=2, spread="se") == "2.50 ± 0.50"

"""The statistics behind the headline numbers: Pareto fronts and ratios at matched accuracy, the
within-noise reading, means and standard errors over seeds, medians of interleaved timings, and the
committed records recomputed from what they were computed from."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from bench import studies
from bench.common import pareto, store
from bench.common.fmt import fmt_stat
from bench.common.models import Architecture
from bench.common.training import Plan, StudyConfig
from bench.studies.multiplier_free.run import compare as multiplier_free_compare
from bench.studies.ptq.section import targets as ptq_targets
from bench.studies.resource.run import compare as resource_compare
from bench.studies.resource.section import within_noise
from bench.studies.seeded import run as seeded, summary
from bench.studies.seeded_full.run import FOLDER as SEEDED_FULL
from bench.studies.speed.run import cross_targets
from bench.studies.training_time import run as training
from hgq_fpga.app.sweep.run import DONE, RESULT, run_folder

STUDIES = store.load(store.RESULTS)["studies"]
TINY = Architecture("mlp", "mlp", hidden=(5,), classes=3)
PLAN = Plan(TINY, epochs=1, beta_start=1e-6, beta_stop=1e-6)


def test_pareto_and_matched_ratio():
    acc = [0.80, 0.85, 0.84, 0.85, 0.70]
    ebo = [100, 400, 200, 500, 50]
    assert pareto.pareto_indices(acc, ebo) == [4, 0, 2, 1]
    front = [{"accuracy": a, "ebops": e} for a, e in zip(acc, ebo)]
    m = pareto.matched_ratio({"accuracy": 0.84, "ebops": 2000}, front)
    assert m["match"] == 2 and m["ratio"] == 10.0
    assert pareto.matched_ratio({"accuracy": 0.9, "ebops": 1}, front)["ratio"] is None
    # a tolerance lets a slightly less accurate, smaller model count as the match
    loose = pareto.matched_ratio({"accuracy": 0.86, "ebops": 2000}, front, tolerance=0.02)
    assert loose["match"] == 2 and loose["ratio"] == 10.0 and loose["target_accuracy"] == 0.86
    assert pareto.matched_ratio({"accuracy": 0.86, "ebops": 2000}, front)["ratio"] is None
    with pytest.raises(ValueError, match="tolerance"):
        pareto.matched_ratio({"accuracy": 0.86, "ebops": 1}, front, tolerance=-0.1)


def test_within_noise_ratio_uses_one_standard_error_of_the_reference():
    assert pareto.standard_error(0.5, 10000) == 0.005
    arch = {"hgq_front": [{"label": "small", "accuracy": 0.494, "ebops": 100},
                          {"label": "mid", "accuracy": 0.496, "ebops": 200},
                          {"label": "top", "accuracy": 0.5, "ebops": 500}],
            "headline": {"label": "uniform-8b", "target_accuracy": 0.5, "reference_ebops": 1000}}
    noisy = within_noise(arch, 10000)  # tolerance 0.5 points: 49.6 % counts, 49.4 % does not
    assert noisy["match_label"] == "mid" and noisy["ratio"] == 5.0 and noisy["tolerance"] == 0.005
    assert within_noise({**arch, "headline": None}, 10000) is None


def _agrees(stored, again) -> bool:
    """Every value of ``stored`` equals the recomputed one (a record may predate a newer key)."""
    if isinstance(stored, dict):
        return isinstance(again, dict) and all(k in again and _agrees(v, again[k]) for k, v in stored.items())
    if isinstance(stored, list):
        return isinstance(again, list) and len(stored) == len(again) and all(map(_agrees, stored, again))
    return stored == again


def test_committed_resource_fronts_and_ratios_follow_from_their_points():
    for name, arch in STUDIES["resource"]["architectures"].items():
        again = json.loads(json.dumps(resource_compare(arch["hgq_points"], arch["uniform_points"])))
        assert set(again) <= set(arch) and _agrees({k: arch[k] for k in again}, again), name
    mlp = STUDIES["resource"]["architectures"]["mlp"]["headline"]
    assert (mlp["label"], mlp["match"] is not None) == ("uniform-8b", True)
    assert mlp["ratio"] == mlp["reference_ebops"] / mlp["match_ebops"]


def test_emulator_against_hls4ml_ratio():
    benchmarks = {"emulator": {"result": {"samples_per_s": 600_000.0}},
                  "csim": {"result": {"models": {"mlp_64_32_32_10": {"hls4ml": {"predict_per_s": 12_000.0}}}}}}
    (row,) = cross_targets(benchmarks)
    assert row["measured"] == 50.0 and row["meets"] is True
    benchmarks["emulator"]["result"]["samples_per_s"] = 60_000.0
    assert cross_targets(benchmarks)[0]["meets"] is False
    assert cross_targets({"emulator": {"status": "error"}}) == []


def test_mean_and_standard_error_over_seeds():
    s = summary.mean_se([1.0, 2.0, 4.0])
    assert s["n"] == 3 and s["mean"] == 7 / 3
    assert s["std"] == math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    assert s["se"] == s["std"] / math.sqrt(3)
    assert summary.mean_se([])["mean"] is None
    # one seed has no spread (a spread of 0 would read as agreement between seeds)
    assert summary.mean_se([2.5]) == {"n": 1, "mean": 2.5, "std": None, "se": None}
    assert fmt_stat(summary.mean_se([2.5]), digits=2, spread="se") == "2.50 (one seed)"
    assert fmt_stat({"n": 1, "mean": 2.5, "std": 0.0, "se": 0.0}, digits=2, spread="se") == "2.50 (one seed)"
    assert fmt_stat(summary.mean_se([2.0, 3.0]), digits=2, spread="se") == "2.50 ± 0.50"


def _record(config: str, seed: int, points: list[tuple[float, float]]) -> dict:
    return {"name": f"mlp-{config}-seed{seed}", "config": config, "seed": seed, "arch": "mlp", "facts": {},
            "seconds": 60.0, "points": [{"label": f"{config}-e{k}", "accuracy": acc - 0.01,
                                         "calibrated_val_accuracy": acc, "ebops": e}
                                        for k, (acc, e) in enumerate(points)]}


def test_hgq2_ratio_is_its_ebops_over_ours_at_its_best_accuracy():
    records = [_record("hgq", 0, [(0.70, 100), (0.80, 250), (0.85, 900)]),
               _record("hgq", 1, [(0.80, 300), (0.90, 2000)]),
               _record("hgq2-fair", 0, [(0.75, 400), (0.80, 1000)]),
               _record("hgq2-fair", 1, [(0.80, 600)]),
               _record("hgq2-default", 0, [(0.95, 5000)])]          # ours never reaches it
    s = summary.summarise_arch(records, [0, 1])
    fair, default = s["hgq2"]["fair"], s["hgq2"]["default"]
    assert fair["per_seed"]["0"]["ratio"] == 1000 / 250 and fair["per_seed"]["1"]["ratio"] == 600 / 300
    assert fair["ratio"]["mean"] == 3.0 and math.isclose(fair["ratio"]["se"], math.sqrt(2) / math.sqrt(2))
    assert default["seeds_matched"] == 0 and default["ratio"]["mean"] is None
    # at our best (0.85 at 900 EBOPs in seed 0): HGQ2's front never gets there; default's does (5000)
    assert fair["seeds_matched_at_ours_best"] == 0
    assert default["per_seed"]["0"]["at_ours_best"]["ratio"] == 5000 / 900
    # HGQ2's better start is the more accurate one, default, even where ours never reaches it
    assert s["hgq2_headline_init"] == "default" and s["hgq2_headline_ratio"]["mean"] is None and s["uniform"] == {}


CFG = seeded.SeededConfig(StudyConfig((PLAN,), uniform_bits=(4, 8)), seeds=(0, 1, 2),
                          uniform_styles=("saturating", "free"))


def _finish(out: Path, config: str, seed: int, points: list[tuple[float, int]]) -> None:
    folder = run_folder(out, f"mlp-{config}-seed{seed}")
    folder.mkdir(parents=True)
    (folder / RESULT).write_text(json.dumps(_record(config, seed, points)))
    (folder / DONE).write_text("")


def test_configurations_come_most_needed_first_and_tasks_follow_them():
    labels = [seeded.config_label(b, s, i) for _, b, s, i in seeded.configurations(CFG)]
    assert labels == ["hgq", "uniform-sat-8b", "uniform-sat-4b", "uniform-8b", "uniform-4b"]
    names = [t[0] for t in seeded.tasks(CFG, lambda: None, "/out")]
    assert names[:4] == ["mlp-hgq-seed0", "mlp-hgq-seed1", "mlp-hgq-seed2", "mlp-uniform-sat-8b-seed0"]
    assert len(names) == len(set(names)) == 5 * 3


def test_a_study_stopped_part_way_summarises_whole_configurations_only(tmp_path):
    for seed in (0, 1, 2):
        _finish(tmp_path, "hgq", seed, [(0.80, 100), (0.90, 400)])
        _finish(tmp_path, "uniform-sat-8b", seed, [(0.85, 1000 + seed)])
    _finish(tmp_path, "uniform-sat-4b", 1, [(0.70, 300)])       # one seed of three
    s = seeded.run(CFG, lambda: None, tmp_path, client=object(), train=False)  # a client is never touched
    mlp = s["architectures"]["mlp"]
    assert set(mlp["uniform"]) == {"uniform-sat-8b"} and mlp["headline_config"] == "uniform-sat-8b"
    assert mlp["uniform"]["uniform-sat-8b"]["ratio"]["mean"] == sum([1000 / 400, 1001 / 400, 1002 / 400]) / 3
    assert s["incomplete_configurations"] == {"mlp/uniform-sat-4b": [1], "mlp/uniform-8b": [], "mlp/uniform-4b": []}
    assert s["trainings"] == 7 and s["trainings_planned"] == 15 and len(s["missing"]) == 8
    assert s["training_seconds"] == {"sum": 420.0, "timed": 7}
    assert not any(p.name.startswith(".") for p in (tmp_path / "runs").iterdir())   # nothing was started
    # the page says how far it got, and its headline is provisional
    page = studies.Page({}, tmp_path, tmp_path)
    text = studies.section("seeded_full").render(seeded.record(s, "full", 5.0), page)
    assert text.startswith("## Resource study over seeds, full recipe (in progress: 7 of 15 trainings finished)")
    assert "mlp/uniform-sat-4b (seeds 1)" in text and "Not started: mlp/uniform-8b, mlp/uniform-4b." in text
    assert "(no target)" in text and "uniform-sat-4b |" not in text      # the uniform ratio is no target
    assert "0.1 h of one-core worker time" in text


def test_the_full_study_command_stores_how_far_it_got_without_training(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from bench.cli import bench
    from bench.studies.seeded_full import run as seeded_full

    for seed in (0, 1, 2):
        _finish(tmp_path, "hgq", seed, [(0.80, 100), (0.90, 400)])
        _finish(tmp_path, "uniform-sat-8b", seed, [(0.85, 1000 + seed)])
    monkeypatch.setattr(seeded, "preset", lambda mode: (CFG, lambda: None))
    monkeypatch.setattr(seeded_full, "FOLDER", tmp_path)
    got = CliRunner().invoke(bench, ["run", "seeded_full", "--summarise-only", "--out", str(tmp_path / "out")])
    assert got.exit_code == 0, got.output
    record = store.load(tmp_path / "out" / "results.json")["studies"]["seeded_full"]
    assert record["preset"] == "full" and record["trainings"] == 6 and record["trainings_planned"] == 15
    assert set(record["architectures"]["mlp"]["uniform"]) == {"uniform-sat-8b"}
    assert f"stored studies.seeded_full in {tmp_path / 'out' / 'results.json'}" in got.output


def test_the_committed_full_seeded_record_is_the_summary_of_its_committed_runs():
    # measured on the bench recipe in force ("bench-0.2"), all 102 trainings of the MLP and the CNN
    cfg, _ = seeded.preset("full")
    again = seeded.summarise(SEEDED_FULL, cfg, [t[0] for t in seeded.tasks(cfg, lambda: None, str(SEEDED_FULL))])
    committed = STUDIES["seeded_full"]
    assert {k: committed[k] for k in again} == json.loads(json.dumps(again))
    assert committed["trainings"] == committed["trainings_planned"] == 102 and committed["missing"] == []


def test_the_committed_full_seeded_runs_are_on_the_recipe_in_force():
    """Every committed HGQ and HGQ2 run was trained on "bench-0.2", the recipe in force: the next
    ``make bench-seeds`` trains nothing again. Under the earlier recipe ("bench-0.1", still reachable
    by name) all of them would be superseded, and the uniform baselines (which depend on neither
    HGQ's start nor the ramp) kept."""
    cfg, _ = seeded.preset("full")
    assert cfg.study.hgq_weight_f == 3.0 and cfg.study.hgq_init_bits is None
    assert seeded.superseded(SEEDED_FULL, seeded.tasks(cfg, lambda: None, str(SEEDED_FULL))) == []
    old, _ = seeded.preset("full", "bench-0.1")
    stale = seeded.superseded(SEEDED_FULL, seeded.tasks(old, lambda: None, str(SEEDED_FULL)))
    assert sorted(stale) == sorted(f"{arch}-{config}-seed{s}" for arch in ("mlp", "cnn")
                                   for config in ("hgq", "hgq2-default", "hgq2-fair") for s in (0, 1, 2))


def test_a_run_is_superseded_when_its_recorded_recipe_differs(tmp_path, capsys):
    cfg = CFG
    todo = seeded.tasks(cfg, lambda: None, str(tmp_path))
    name, _, args = todo[0]
    plan, study = args[2], args[3]
    folder = run_folder(tmp_path, name)
    folder.mkdir(parents=True)
    (folder / RESULT).write_text(json.dumps({"name": name, "recipe": seeded.recipe_of(plan, study, args[6], args[8])}))
    (folder / "DONE").write_text("")
    assert seeded.superseded(tmp_path, todo) == []
    moved = seeded.tasks(replace(cfg, study=replace(cfg.study, learning_rate=cfg.study.learning_rate * 2)),
                         lambda: None, str(tmp_path))
    assert seeded.superseded(tmp_path, moved) == [name]
    seeded.set_aside(tmp_path, [name])
    assert not folder.exists() and (tmp_path / "superseded" / name / RESULT).is_file()
    assert "trained on another recipe" in capsys.readouterr().out


def test_interleaving_rotates_the_order_and_never_times_one_contender_twice_in_a_row():
    log: list[str] = []

    class Scripted:
        def __init__(self, name: str, times: list[float]) -> None:
            self.name, self.times = name, list(times)

        def epoch(self) -> float:
            log.append(self.name)
            return self.times.pop(0)

    # warm-up time first (100 + ...), then one per round
    fake = {name: Scripted(name, [100.0 + j] + [float(10 * j + r) for r in range(5)])
            for j, name in enumerate(("plain", "hgq", "hgq2"))}
    times = training.interleaved(fake, 5)
    assert log == ["plain", "hgq", "hgq2",                       # warm-up, untimed
                   "plain", "hgq", "hgq2", "hgq", "hgq2", "plain", "hgq2", "plain", "hgq",
                   "plain", "hgq", "hgq2", "hgq", "hgq2", "plain"]
    timed = log[3:]
    assert all(a != b for a, b in zip(timed, timed[1:]))
    assert times == {"plain": [0.0, 1.0, 2.0, 3.0, 4.0], "hgq": [10.0, 11.0, 12.0, 13.0, 14.0],
                     "hgq2": [20.0, 21.0, 22.0, 23.0, 24.0]}  # warm-ups are not in the lists
    with pytest.raises(ValueError, match="at least 5"):
        training.run(rounds=4, load=lambda n: pytest.fail("loaded data before checking the rounds"))


def test_batch_summary_takes_each_median_from_its_own_list_and_ratios_round_by_round():
    times = {"plain": [5.0, 1.0, 2.0, 9.0, 3.0], "hgq": [4.0, 8.0, 3.0, 6.0, 1.0],
             "hgq2": [12.0, 16.0, 10.0, 30.0, 9.0]}
    b = training.batch_summary(times, 1.5)
    assert (b["plain_median_s"], b["hgq_median_s"], b["hgq2_median_s"]) == (3.0, 4.0, 12.0)
    # rounds' ratios 0.8, 8, 1.5, 2/3, 1/3: median 0.8 (the ratio of the medians would be 4/3)
    assert b["ratio"] == 0.8 and b["meets_target"] is True
    assert b["ratio_quartiles"] == [0.5, 4.75]   # quartiles of the five rounds' ratios
    # HGQ2 / ours by round: 3, 2, 10/3, 5, 9: median 10/3
    assert b["hgq2_ratio"] == 10.0 / 3.0 and b["meets_hgq2_target"] is True
    assert b["plain_s"] is times["plain"] and b["hgq_s"] is times["hgq"] and b["hgq2_s"] is times["hgq2"]
    slower = training.batch_summary({**times, "hgq2": [1.0, 2.0, 3.0, 4.0, 0.5]}, 0.7)
    assert slower["hgq2_ratio"] == 0.5 and slower["meets_hgq2_target"] is False and slower["meets_target"] is False
    two_way = training.batch_summary({"plain": times["plain"], "hgq": times["hgq"]}, None)
    assert "hgq2_median_s" not in two_way and "meets_hgq2_target" not in two_way and two_way["meets_target"] is None
    with pytest.raises(ValueError, match="one time per round"):
        training.batch_summary({"plain": [1.0, 2.0], "hgq": [1.0]}, 1.5)


def test_a_slow_spell_of_the_machine_shifts_the_round_ratios_less_than_the_medians():
    # a spell twice as slow starts inside round 3, after plain's epoch and before ours: plain's median
    # is a slow epoch and ours a fast one (their ratio 0.75), while four rounds of five still read 1.5
    plain = [1.0, 1.0, 2.0, 2.0, 2.0]
    hgq = [1.5, 1.5, 1.5, 3.0, 3.0]
    b = training.batch_summary({"plain": plain, "hgq": hgq}, 2.0)
    assert b["hgq_median_s"] / b["plain_median_s"] == 0.75 and b["ratio"] == 1.5


def test_committed_training_times_are_the_medians_of_their_epochs():
    for mode in STUDIES["training_time"]["modes"].values():
        for batch, b in mode["per_batch"].items():
            again = training.batch_summary({k: b[f"{k}_s"] for k in ("plain", "hgq", "hgq2") if f"{k}_s" in b},
                                           b["target"])
            assert again == b, batch


def test_committed_multiplier_free_comparisons_follow_from_their_points():
    record = STUDIES["multiplier_free"]
    points = {name: m["points"] for name, m in record["methods"].items()}
    n_test = record["dataset"]["n_test"]
    assert multiplier_free_compare(points, n_test) == record["comparison"]
    assert [multiplier_free_compare(points, n_test, c["hgq_best_accuracy"]) for c in record["comparisons"]] \
        == record["comparisons"]
    ref = record["comparison"]["methods"]["hgq"]
    for name, row in record["comparison"]["methods"].items():
        if row["reaches"] and row["luts"]:      # a synthesised point: its LUTs are the synthesis's
            assert row["luts"] == record["synthesis"][row["label"]]["luts"], name
            assert row["lut_ratio_vs_hgq"] == ref["luts"] / row["luts"], name


def test_committed_emulator_ratios_follow_from_their_rates():
    record = STUDIES["emulator_cpp"]
    rates = record["samples_per_s"]
    assert record["ratio_to_numpy"] == {k: v / rates["numpy_emulator"] for k, v in rates.items()}


def test_ptq_targets_are_measured_not_assumed():
    mlp = json.loads(json.dumps(next(m for m in STUDIES["ptq"]["models"] if m["kind"] == "mlp")))
    for p in mlp["points"]:
        if p["bits"] == 8 and p["search"] == "easyquant":
            p["accuracy"] = mlp["float_accuracy"] - 0.004          # 0.4 points below float
        if p["bits"] == 6:
            p["accuracy"] = 0.80 if p["search"] == "minmax" else 0.809   # +0.9 points
    assert [t["met"] for t in ptq_targets(mlp)] == [False, False]
    for p in mlp["points"]:
        if p["bits"] == 8 and p["search"] == "easyquant":
            p["accuracy"] = mlp["float_accuracy"] - 0.003
        if p["bits"] == 6 and p["search"] == "easyquant":
            p["accuracy"] = 0.81
    assert [t["met"] for t in ptq_targets(mlp)] == [True, True]


def test_front_comparison_reads_every_reference_point_against_our_cheapest_as_accurate():
    ours = [{"accuracy": 0.80, "ebops": 100}, {"accuracy": 0.85, "ebops": 300}, {"accuracy": 0.84, "ebops": 400}]
    theirs = [{"accuracy": 0.79, "ebops": 150}, {"accuracy": 0.84, "ebops": 250}, {"accuracy": 0.86, "ebops": 900}]
    c = pareto.front_comparison(theirs, ours)
    assert [p["ratio"] for p in c["points"]] == [1.5, 250 / 300, None]      # 0.86: none of ours is as accurate
    assert (c["n"], c["matched"], c["cheaper"]) == (3, 2, 1)
    assert c["log_ratio_sum"] == math.log(1.5) + math.log(250 / 300)
    assert (c["reference_best"], c["ours_best"]) == (0.86, 0.85)
    other = pareto.front_comparison([{"accuracy": 0.80, "ebops": 400}], ours)   # 4x cheaper
    pooled = pareto.pooled_comparison({"0": c, "1": other})
    assert pooled["points"] == 4 and pooled["matched"] == 3 and pooled["share_cheaper"] == 2 / 4
    assert pooled["geomean_ratio"] == pytest.approx((1.5 * 250 / 300 * 4) ** (1 / 3), rel=1e-15)
    assert pooled["seeds_best_reached"] == ["1"] and pooled["seeds"] == ["0", "1"]
    assert pareto.pooled_comparison({})["geomean_ratio"] is None


def test_front_comparison_leaves_out_points_of_zero_ebops():
    """A model of 0 EBOPs (every weight pruned) has no cost to divide by: a collapsed HGQ2 run's
    chance-level point neither breaks the geometric mean nor counts against us, and is counted."""
    ours = [{"accuracy": 0.10, "ebops": 0}, {"accuracy": 0.80, "ebops": 100}]
    theirs = [{"accuracy": 0.11, "ebops": 0}, {"accuracy": 0.79, "ebops": 150}]
    c = pareto.front_comparison(theirs, ours)
    assert [p["ratio"] for p in c["points"]] == [1.5] and (c["n"], c["matched"], c["zero_ebops"]) == (1, 1, 1)
    low = pareto.front_comparison([{"accuracy": 0.05, "ebops": 40}], ours)   # our 0-EBOPs point is not a match
    assert low["points"][0]["match_ebops"] == 100 and low["points"][0]["ratio"] == 0.4
    assert pareto.pooled_comparison({"0": c, "1": low})["zero_ebops"] == 1


def test_the_front_wide_comparison_of_the_committed_full_study_is_the_issues():
    """Issue 34 read the old full study's fronts point by point: HGQ2 (default start) needs 0.90x our
    EBOPs over 58 matched points of 3 seeds (0.43 to 1.66), ours cheaper at 42 % of its points, our
    best validation accuracy at HGQ2's on 1 seed of 3. The summary computes the same from the runs
    of that study, kept in git history (commit bbed02d)."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    names = subprocess.run(["git", "-C", str(repo), "ls-tree", "--name-only", "bbed02d",
                            "bench/studies/seeded_full/runs/"], capture_output=True, text=True, check=True).stdout
    records = []
    for path in names.split():
        name = path.rsplit("/", 1)[1]
        if name.startswith("mlp-hgq"):
            text = subprocess.run(["git", "-C", str(repo), "show", f"bbed02d:{path}/{RESULT}"],
                                  capture_output=True, text=True, check=True).stdout
            records.append(json.loads(text))
    s = summary.summarise_arch(records, [0, 1, 2])
    c = s["hgq2"]["default"]["front_comparison"]
    assert (c["points"], c["matched"]) == (60, 58) and round(c["geomean_ratio"], 2) == 0.90
    assert round(c["share_cheaper"], 2) == 0.42 and c["seeds_best_reached"] == ["2"]
    ratios = [p["ratio"] for v in s["hgq2"]["default"]["front_per_seed"].values() for p in v["points"] if p["ratio"]]
    assert (round(min(ratios), 2), round(max(ratios), 2)) == (0.43, 1.66)
    assert round(s["hgq2"]["fair"]["front_comparison"]["geomean_ratio"], 2) == 1.62


def test_plan_bends_its_beta_ramp_with_held_ends():
    plan = Plan(TINY, epochs=11, beta_start=1e-8, beta_stop=1e-5)
    assert plan.beta_knots() == [(0, 1e-8), (10, 1e-5)]
    ramp = plan.beta_scheduler().schedule
    from hgq_fpga.nn.callbacks import BetaScheduler
    assert [ramp(e) for e in range(12)] == [BetaScheduler.log_ramp(1e-8, 1e-5, 11).schedule(e) for e in range(12)]
    bent = Plan(TINY, epochs=11, beta_start=1e-8, beta_stop=1e-5, beta_lead=0.2, beta_hold=0.3)
    assert bent.beta_knots() == [(0, 1e-8), (2, 1e-8), (7, 1e-5), (10, 1e-5)]
    s = bent.beta_scheduler().schedule
    assert s(1) == 1e-8 and s(8) == 1e-5 and 1e-8 < s(4) < 1e-5
    warm = Plan(TINY, epochs=11, beta_start=1e-8, beta_stop=1e-5, warmup_epochs=1, beta_hold=0.5)
    assert warm.beta_scheduler().schedule(0) == 0.0 and warm.beta_knots() == [(0, 1e-8), (5, 1e-5), (9, 1e-5)]
    with pytest.raises(ValueError, match="beta_lead, beta_hold >= 0 with a sum below 1"):
        Plan(TINY, epochs=5, beta_start=1e-8, beta_stop=1e-5, beta_lead=0.5, beta_hold=0.5)


def test_study_config_start_and_learning_rate_schedule():
    import keras

    from bench.common.training import learning_rate

    cfg = StudyConfig((PLAN,), uniform_bits=(), hgq_init_bits=None, hgq_weight_f=4.0, hgq_f_init=6.0,
                      learning_rate=2e-3, batch_size=10, lr_schedule="cosine", lr_final=0.1)
    assert cfg.hgq_start() == {"init_bits": None, "f_init": 6.0, "weight_f": 4.0}
    assert cfg.describe()["hgq_weight_f"] == 4.0 and cfg.describe()["lr_final"] == 0.1
    lr = learning_rate(cfg, Plan(TINY, epochs=3, beta_start=1e-6, beta_stop=1e-6), 95)
    assert isinstance(lr, keras.optimizers.schedules.CosineDecay) and lr.decay_steps == 3 * 10
    assert float(lr(0)) == pytest.approx(2e-3) and float(lr(30)) == pytest.approx(2e-4)
    assert "lr_schedule" not in StudyConfig((PLAN,), uniform_bits=()).describe()
    with pytest.raises(ValueError, match="exactly one of hgq_init_bits and hgq_weight_f"):
        StudyConfig((PLAN,), uniform_bits=(), hgq_init_bits=4, hgq_weight_f=4.0)
    with pytest.raises(ValueError, match="lr_schedule must be one of"):
        StudyConfig((PLAN,), uniform_bits=(), lr_schedule="step")

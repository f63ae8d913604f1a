"""Smoke runs of the benchmarks, so that they cannot rot: the suite on tiny synthetic images (its
speed benchmarks replaced by stand-ins), stored and rendered; the command line's error lines; the
baselines' width rules; and, marked slow, every other study's command at its smallest size."""

from __future__ import annotations

import gzip
import json
import statistics
import types

import numpy as np
import pytest
from click.testing import CliRunner

from bench import render, studies
from bench.cli import Output, bench, needs_dataset
from bench.common import data, presets, store
from bench.suite import run_suite

STUB = {"samples_per_s": 123456.0, "target": 200000, "meets_target": False, "batch": 10}


def _importer(name: str):
    if name == "stub.ok":
        return types.SimpleNamespace(run=lambda quick: dict(STUB, quick=quick))
    if name == "stub.norun":
        return types.SimpleNamespace()
    if name == "stub.fail":
        def run(quick):
            raise RuntimeError("boom")
        return types.SimpleNamespace(run=run)
    raise ImportError(name)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cfg = presets.smoke()
    records = run_suite(cfg, Output(out), "smoke", log=lambda *_: None, importer=_importer,
                        speed_modules={"emulator": "stub.ok", "training": "stub.norun", "csim": "stub.fail"})
    return out, records


def test_the_suite_stores_its_studies_and_renders_them(suite):
    out, records = suite
    saved = store.load(out / "results.json")
    assert saved["studies"] == records and studies.problems(saved) == []
    assert saved["suite"]["mode"] == "smoke" and saved["suite"]["command"] == "smoke"
    for key in ("cpu", "logical_cores", "ram_gib", "python", "versions", "date"):
        assert key in saved["suite"]["machine"]
    archs = records["resource"]["architectures"]
    assert set(archs) == {"mlp", "cnn"}
    for arch in archs.values():
        assert arch["hgq_front"] and arch["uniform_points"]
        assert all(isinstance(p["ebops"], int) for p in arch["hgq_points"] + arch["uniform_points"])
        assert [m["label"] for m in arch["matched"]] == [p["label"] for p in arch["uniform_points"]]
    exact = records["exactness"]
    assert exact["models_checked"] == 1 and exact["mismatches"] == 0
    assert all(r["samples"] == len(data.synthetic().x_test) for rs in exact["architectures"].values() for r in rs)
    md = (out / "BENCHMARKS.md").read_text()
    assert md == render.render(saved, store.Destination.at(out))
    assert "> Smoke mode" in md and "![mlp: accuracy against EBOPs](resource/mlp.png)" in md
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == ["resource/cnn.png", "resource/mlp.png"]


def test_speed_benchmarks_are_recorded_without_crashing(suite):
    _, records = suite
    b = records["speed"]["benchmarks"]
    assert b["emulator"]["status"] == "ok" and b["emulator"]["result"]["quick"] is True
    assert b["training"]["status"] == "not available" and "run" in b["training"]["reason"]
    assert b["csim"]["status"] == "error" and "boom" in b["csim"]["reason"]
    emu = [t for t in records["speed"]["targets"] if t["benchmark"] == "emulator"]
    assert emu[0]["measured"] == STUB["samples_per_s"] and emu[0]["meets"] is False


def test_a_run_that_fails_late_keeps_its_finished_stages(tmp_path, monkeypatch):
    from bench import suite as suite_module

    monkeypatch.setattr(suite_module.resource, "run", lambda *a, **k: ({"measured": 1}, {}))

    def exactness_fails(*args, **kwargs):
        raise RuntimeError("C simulation broke")

    monkeypatch.setattr(suite_module.exactness, "run", exactness_fails)
    with pytest.raises(RuntimeError, match="C simulation broke"):
        run_suite(presets.smoke(), Output(tmp_path), "smoke", speed_modules={}, importer=_importer, log=lambda *_: None)
    assert not (tmp_path / "results.json").exists()
    assert json.loads((tmp_path / "results.partial.json").read_text())["studies"] == {"resource": {"measured": 1}}


def test_errors_are_one_click_line(tmp_path):
    runner = CliRunner()
    got = runner.invoke(bench, ["render", "--out", str(tmp_path)])
    assert got.exit_code == 1 and got.output.splitlines()[-1].startswith(f"Error: {tmp_path}/results.json not found")
    got = runner.invoke(bench, ["run", "resource"])
    assert got.exit_code == 2 and got.output.splitlines()[-1] == "Error: No such command 'resource'."
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    with gzip.open(tmp_path / "x-idx3-ubyte.gz", "wb") as fh:
        fh.write(header + images.tobytes())
    assert np.array_equal(data.read_idx(tmp_path / "x-idx3-ubyte.gz"), images)
    import click
    with pytest.raises(click.ClickException, match="apt-get install dataset-fashion-mnist"):
        needs_dataset(lambda: data.fashion_mnist(directory=tmp_path))


def test_uniform_bits_set_widths_and_keep_the_best_validation_epoch():
    import keras

    from bench.common.models import Architecture, build
    from bench.common.uniform import KeepBestEpoch, record_ranges, set_uniform_bits

    model = build(Architecture("t", "mlp", hidden=(4,)), (3, 3, 1), "uniform")
    record_ranges(model, np.random.default_rng(0).random((32, 3, 3, 1)).astype(np.float32))
    set_uniform_bits(model, 5)
    dense = model.layers[3]
    assert not dense.kq.f.trainable
    w = np.abs(keras.ops.convert_to_numpy(dense.kernel)).max()
    f = float(keras.ops.convert_to_numpy(dense.kq.f).ravel()[0])
    assert np.floor(np.log2(w)) + 1 + f == 4  # 5 bits with the sign
    inp = model.layers[1].oq  # input pixels are not negative: no sign bit
    peak = float(keras.ops.convert_to_numpy(inp.vmax).max())
    assert np.floor(np.log2(peak)) + 1 + float(keras.ops.convert_to_numpy(inp.f).ravel()[0]) == 5
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keep = KeepBestEpoch()
    keep.set_model(model)
    keep.on_train_begin()
    snapshots = []
    for epoch, val in enumerate((0.5, 0.7, 0.6)):
        model.set_weights([np.full((2, 1), float(epoch)), np.zeros(1)])
        snapshots.append([w.copy() for w in model.get_weights()])
        keep.on_epoch_end(epoch, {"val_accuracy": val})
    keep.on_train_end()
    assert keep.best_epoch == 1 and keep.best == 0.7          # the second epoch, counted from 0
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), snapshots[1]))
    with pytest.raises(ValueError, match="no 'val_accuracy'"):
        keep.on_epoch_end(3, {"accuracy": 0.9})


def test_saturating_quantizer_clips_in_training_and_the_beta_ramp_waits():
    import keras

    from bench.common.models import MLP
    from bench.common.saturating import SaturatingQuantizer
    from bench.common.training import Plan

    q = SaturatingQuantizer(kind="activation", granularity="per_tensor", round_mode="RND", f_init=2.0)
    q.build((3,))
    assert q.set_bounds(4, signed=True) == (-2.0, 1.75)
    xq, _ = q.fake_quantize(keras.ops.convert_to_tensor(np.array([[-9.0, 0.3, 5.0]], np.float32)), training=True)
    assert np.array_equal(keras.ops.convert_to_numpy(xq), np.array([[-2.0, 0.25, 1.75]], np.float32))
    sched = Plan(MLP, epochs=5, beta_start=1e-8, beta_stop=1e-6, warmup_epochs=2).beta_scheduler().schedule
    assert [sched(e) for e in range(2)] == [0.0, 0.0]
    assert sched(2) == pytest.approx(1e-8) and sched(3) == pytest.approx(1e-7) and sched(4) == pytest.approx(1e-6)
    with pytest.raises(ValueError):
        Plan(MLP, epochs=3, beta_start=1e-8, beta_stop=1e-6, warmup_epochs=3)


def test_synthetic_jets_are_on_the_input_grid_and_learnable():
    from bench.studies.qkeras.run import INPUT_F, make_data

    jets = make_data(600, 200, 200, seed=3)
    x, y = jets["x_train"], jets["y_train"]
    assert x.shape == (600, 16) and x.dtype == np.float32 and set(np.unique(y)) == set(range(5))
    scaled = x.astype(np.float64) * 2.0 ** INPUT_F
    assert np.array_equal(scaled, np.round(scaled)) and np.abs(x).max() < 32     # ap_fixed<16,6>
    again = make_data(600, 200, 200, seed=3)
    assert all(np.array_equal(jets[k], again[k]) for k in jets)
    # class structure: nearest class mean (from training data) beats chance on validation by far
    means = np.stack([x[y == c].mean(0) for c in range(5)])
    pred = np.argmin(((jets["x_val"][:, None, :] - means[None]) ** 2).sum(-1), axis=1)
    assert np.mean(pred == jets["y_val"]) > 0.4


def _ptq(record: dict) -> None:
    [mlp] = record["models"]
    assert {(p["search"], p["bits"]) for p in mlp["points"]} == {
        ("minmax", 8), ("easyquant", 8), ("minmax", 6), ("easyquant", 6), ("easyquant+mixed", None)}
    assert all(p["mismatches"] == 0 for p in mlp["points"])          # Keras = emulator on every point
    [mixed] = [p for p in mlp["points"] if p["bits"] is None]
    eq6 = next(p for p in mlp["points"] if p["search"] == "easyquant" and p["bits"] == 6)
    assert mixed["budget"] == eq6["ebops"] and mixed["ebops"] <= mixed["budget"]


def _multiplier_free(record: dict) -> None:
    assert set(record["methods"]) == {"hgq", "nhot2", "nhot2+adders10", "ternary4-post", "ternary4-ft"}
    for method in record["methods"].values():
        assert method["points"] and all(isinstance(p["adders"], int) and isinstance(p["ebops"], int)
                                        for p in method["points"])
    assert record["config"]["gamma_runs"] == [["nhot2", 10.0]]
    ref = record["comparison"]["methods"]["hgq"]
    assert isinstance(ref["luts"], int) and ref["luts"] > 0 and ref["lut_ratio_vs_hgq"] == 1.0


def _rtl(record: dict) -> None:
    ours = record["models"]["small"]["ours"]
    assert ours["mismatches"] == 0 and ours["compared"] == 2000 * 5
    assert ours["resources"]["LUT"] > 0 and ours["longest_path_cells"] > 0
    assert ours["latency_both_registered"] == ours["latency_cycles"] + 1


def _training_time(record: dict) -> None:
    for mode in record["modes"].values():
        for b in mode["per_batch"].values():
            assert len(b["plain_s"]) == len(b["hgq_s"]) == 5 and b["hgq_median_s"] == sorted(b["hgq_s"])[2]
            rounds = [h / q for h, q in zip(b["hgq_s"], b["plain_s"])]     # the median of the rounds' ratios
            assert b["ratio"] == statistics.median(rounds)
            assert b["meets_target"] == (b["ratio"] <= b["target"])


def _seeded(record: dict) -> None:
    assert record["trainings"] == 2 * 3 and not record["missing"] and not record["failed"]
    mlp = record["architectures"]["mlp"]
    assert set(mlp["uniform"]) == {"uniform-sat-4b"} and mlp["headline_config"] == "uniform-sat-4b"
    for c in mlp["uniform"].values():
        ratios = [m["ratio"] for m in c["per_seed"].values() if m["ratio"] is not None]
        assert c["seeds_matched"] == len(ratios) == c["ratio"]["n"]
        if len(ratios) >= 2:
            mean = sum(ratios) / len(ratios)
            assert c["ratio"]["mean"] == pytest.approx(mean, rel=0, abs=1e-12)


def _ii_training(record: dict) -> None:
    assert set(record["arms"]) == {"ebops", "ii4", "ii4_beta_x4"} and len(record["chosen"]) == 3 == 3 * len(record["floors"])
    for c in record["chosen"]:
        assert c["val_accuracy"] >= c["floor"] and c["epoch"] in record["arms"][c["arm"]]["front"]
        assert c["rtl"]["4"]["resources"]["LUT"] > 0 and c["rtl"]["1"]["resources"]["LUT"] > 0
        assert c["ebops_per_ii"] < c["ebops"]        # the folded layers cost less per cycle


#: each study's command at its smallest size, and what its record must show (QKeras needs minutes of
#: Yosys on two jet taggers: it is run by hand)
SMOKE = {"ptq": (["--smoke", "--models", "mlp", "--calib", "64", "--mixed-samples", "32"], _ptq),
         "multiplier_free": (["--mode", "smoke"], _multiplier_free),
         "rtl": (["--models", "small", "--parts", "ours"], _rtl),
         "emulator_cpp": (["--quick"], lambda record: None),
         "training_time": (["--n-train", "256", "--rounds", "5", "--no-hgq2"], _training_time),
         "seeded": (["--preset", "smoke"], _seeded),
         "ii_training": (["--epochs", "2", "--hidden", "4", "--floors", "1"], _ii_training)}


@pytest.mark.slow   # minutes each: training, Yosys, g++
@pytest.mark.parametrize("name", SMOKE)
def test_every_study_runs_stores_and_renders_at_its_smallest(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)           # the studies' default work folders are under build/
    options, check = SMOKE[name]
    got = CliRunner().invoke(bench, ["run", name, *options, "--out", str(tmp_path / "out")])
    assert got.exit_code == 0, got.output
    saved = store.load(tmp_path / "out" / "results.json")
    assert list(saved["studies"]) == [name] and studies.problems(saved) == []
    check(saved["studies"][name])
    md = (tmp_path / "out" / "BENCHMARKS.md").read_text()
    assert md == render.render(saved, store.Destination.at(tmp_path / "out")) and "\n## " in md
    if name == "seeded":   # a rerun trains nothing
        before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("result.json")}
        assert CliRunner().invoke(bench, ["run", name, *options, "--out", str(tmp_path / "out")]).exit_code == 0
        assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("result.json")} == before


def test_the_ii_studys_highest_floor_is_reached_by_its_weakest_arm():
    from bench.studies.ii_training.run import cheapest, floors

    arms = {"weak": {"checkpoints": [{"epoch": 1, "val_accuracy": 0.1234567, "ebops_per_ii": 5.0}], "front": [1]},
            "strong": {"checkpoints": [{"epoch": 1, "val_accuracy": 0.9, "ebops_per_ii": 9.0}], "front": [1]}}
    top = floors(arms, 2)[0]
    assert top == 0.1234567                       # not rounded up past the weak arm's best (0.123457)
    assert cheapest(arms["weak"], top)["epoch"] == 1

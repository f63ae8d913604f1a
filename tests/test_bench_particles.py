"""The particle study's parts (bench/studies/particles, bench/contenders/hgq2_particles*.py,
hgq2_firmware.py): an HGQ2 export rebuilt as our model exactly, the firmware mismatch count, the
summary's front-wide comparison and its section; end to end on the smoke preset (slow: HGQ2's venvs)."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

import hgq_fpga
from bench.contenders import hgq2_firmware, hgq2_particles
from bench.contenders.hgq2_front import HGQ2FrontError
from bench.studies import Page
from bench.studies.particles import run as study
from bench.studies.particles import section

N, F, HIDDEN, CLASSES = 4, 3, 4, 3


def _deep_sets_graph() -> dict:
    """``graph.json`` of a small Deep Sets as HGQ2's worker describes it (inputs quantized per layer)."""
    def layer(name, cls, inbound, config, oq=False):
        return {"name": name, "class": cls, "inbound": inbound, "config": config, "iq": True, "oq": oq}

    return {"layers": [{"name": "particles", "class": "InputLayer", "inbound": [], "config": {}, "iq": False,
                        "oq": False},
                       layer("phi", "QDense", ["particles"], {"units": HIDDEN, "use_bias": True, "activation": "relu"}),
                       layer("sum", "QSum", ["phi"], {"axes": [1], "keepdims": False}),
                       layer("logits", "QDense", ["sum"], {"units": CLASSES, "use_bias": True,
                                                           "activation": "linear"}, oq=True)],
            "input_shape": [N, F], "outputs": ["logits"]}


def _kif(rng, shape, pruned: int = 0) -> dict:
    k, i = np.ones(shape), np.full(shape, 3.0)
    f = rng.integers(2, 7, shape).astype(np.float64)
    flat = f.reshape(-1)
    flat[:pruned] = -3.0                         # k + i + f = 1 + 3 - 3 ... made <= 0 below
    i.reshape(-1)[:pruned] = 0.0
    k.reshape(-1)[:pruned] = 0.0
    return {"k": k, "i": i, "f": f}


def _export(rng) -> dict:
    out = {}
    for key, shape, pruned in (("phi.iq0", (1, N, F), 2), ("sum.iq0", (1, N, HIDDEN), 1),
                               ("logits.iq0", (1, HIDDEN), 0), ("logits.oq", (1, CLASSES), 0)):
        for field, v in _kif(rng, shape, pruned).items():
            out[f"{key}.{field}"] = v
    for name, shape in (("phi", (F, HIDDEN)), ("logits", (HIDDEN, CLASSES))):
        out[f"{name}.kernel"] = rng.integers(-40, 40, shape) / 64.0
        out[f"{name}.bias"] = rng.integers(-8, 8, shape[1:]) / 32.0
    return {**out, "val_accuracy": np.float64(0.5), "ebops": np.float64(1e4)}


def test_an_hgq2_particle_export_rebuilt_as_ours_is_exact_and_prunes_what_hgq2_pruned():
    rng = np.random.default_rng(0)
    graph, ex = _deep_sets_graph(), _export(rng)
    model = hgq2_particles.to_ours(graph, ex)
    x = rng.uniform(-1, 1, (300, N, F)).astype(np.float32)
    assert hgq_fpga.calibrate(model, x) > 0
    hgq2_particles.check_weights(model, ex)
    quantize = model.get_layer("phi_iq0")
    k, i, f = (np.asarray(a).reshape(N, F) for a in quantize.oq.fixed_types())
    widths = (k + i + f).reshape(-1)
    assert (widths[:2] == 0).all() and (widths[2:] > 0).all()          # HGQ2's pruned inputs: no bits here
    assert (f.reshape(-1)[2:] == ex["phi.iq0.f"].reshape(-1)[2:]).all()
    assert hgq2_particles.zero_width_activations(graph, ex) == 3
    # the logits keep HGQ2's output quantizer; the other outputs are wide
    assert (np.asarray(model.get_layer("logits").oq.fixed_types()[2]).reshape(-1) == ex["logits.oq.f"][0]).all()
    assert (np.asarray(model.get_layer("phi").oq.f) == hgq2_particles.WIDE_F).all()
    changed = {**ex, "logits.kernel": ex["logits.kernel"] + 2.0 ** -12}
    with pytest.raises(HGQ2FrontError, match="kernel values differ"):
        hgq2_particles.check_weights(model, changed)
    short = {**ex, **{f"phi.iq0.{field}": ex[f"phi.iq0.{field}"][:, :2] for field in "kif"}}
    with pytest.raises(HGQ2FrontError, match=r"phi.iq0: HGQ2 has 6 widths, our quantizer"):
        hgq2_particles.to_ours(graph, short)                  # never a silent broadcast of part of them
    unknown = _deep_sets_graph()
    unknown["layers"][2]["class"] = "QConv1D"
    with pytest.raises(HGQ2FrontError, match="no hgq_fpga counterpart.*QConv1D"):
        hgq2_particles.to_ours(unknown, ex)


def test_firmware_mismatches_are_counted_with_equality():
    ref = np.array([[0.5, 0.25], [1.0, -2.0], [0.0, 3.0]])
    got = ref.copy()
    assert hgq2_firmware.mismatches(ref, got) == {"values": 0, "samples": 0, "compared": 6, "max_abs_diff": 0.0}
    got[1, 0] += 2.0 ** -40                      # any difference counts, however small
    got[2, 1] = np.nan
    m = hgq2_firmware.mismatches(ref, got)
    assert m["values"] == 2 and m["samples"] == 2 and m["max_abs_diff"] == math.inf
    with pytest.raises(ValueError, match="shape"):
        hgq2_firmware.mismatches(ref, got[:2])


def test_the_workers_never_import_hgq_fpga():
    tree = ast.parse(hgq2_particles.WORKER.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "hgq_fpga" not in names and "bench" not in names and {"hgq", "alkaid", "hls4ml"} <= names
    assert {"hgq2==0.2.0", "alkaid==0.8.2", "hls4ml==1.3.0"} <= set(hgq2_firmware.PACKAGES)


def _point(label, val, test, ebops, **extra) -> dict:
    if "hgq2_val_accuracy" in extra:
        extra["hgq2_ebops"] = 2.0 * ebops
    return {"label": label, "epoch": int(label.rpartition("-e")[2]), "accuracy": test, "calibrated_val_accuracy": val,
            "ebops": ebops, **extra}


def _records(cfg) -> dict:
    """Two seeds of one architecture: seed 0 ours cheaper everywhere, seed 1 one HGQ2 point unmatched."""
    ours = {0: [_point("ours-e1", 0.60, 0.61, 100), _point("ours-e2", 0.70, 0.69, 200)],
            1: [_point("ours-e1", 0.60, 0.60, 100), _point("ours-e2", 0.65, 0.66, 150)]}
    hgq2 = {0: [_point("hgq2-e1", 0.60, 0.59, 400, hgq2_val_accuracy=0.6),
                _point("hgq2-e2", 0.70, 0.70, 800, hgq2_val_accuracy=0.7),
                _point("hgq2-e3", 0.55, 0.55, 900, hgq2_val_accuracy=0.55)],      # off HGQ2's front
            1: [_point("hgq2-e1", 0.60, 0.60, 50, hgq2_val_accuracy=0.6),
                _point("hgq2-e2", 0.68, 0.67, 300, hgq2_val_accuracy=0.68)]}
    out = {}
    for seed in (0, 1):
        exact = {"x": {"values": 0, "compared": 20}, "x4": {"values": 0, "compared": 20}}
        out[study.run_name("jets", "transformer", "ours", seed)] = {
            "points": ours[seed], "facts": {"exactness_of": "ours-e2", "exactness": exact}, "seconds": 1.0}
        out[study.run_name("jets", "transformer", "hgq2", seed)] = {
            "points": hgq2[seed], "facts": {"kept": "hgq2-e2"}, "seconds": 2.0}
    out[study.run_name("jets", "transformer", "firmware", 0)] = {"tools": {
        "alkaid": {"ok": True, "x": {"values": 0, "compared": 20}, "x4": {"values": 3, "compared": 20}},
        "hls4ml": {"ok": False, "error": "Exception: unsupported layer"}}}
    return out


def test_the_summary_compares_hgq2s_front_with_ours_on_validation_accuracy(tmp_path):
    cfg = study.ParticleConfig(datasets={"jets": (4, 100)}, architectures=("transformer",), seeds=(0, 1), epochs=2,
                               ours_variants={"beta4": {"beta_scale": 4.0}})
    records = _records(cfg)
    exact = {"x": {"values": 0, "compared": 20}, "x4": {"values": 0, "compared": 20}}
    records[study.run_name("jets", "transformer", "ours-beta4", 0)] = {      # seed 0 only: cheaper still
        "points": [_point("ours-e1", 0.60, 0.6, 50), _point("ours-e2", 0.70, 0.7, 100)],
        "facts": {"exactness_of": "ours-e2", "exactness": exact}, "seconds": 1.0}
    summary = study.summarise(cfg, records, {})
    e = summary["results"]["jets"]["transformer"]
    s0, s1 = e["per_seed"]["0"], e["per_seed"]["1"]
    assert [p["ratio"] for p in s0["points"]] == [4.0, 4.0]                    # 400/100, 800/200; e3 off the front
    assert [p["ratio"] for p in s1["points"]] == [0.5, None]                   # 50/100; 0.68 unmatched
    c = e["front_comparison"]
    assert c["points"] == 4 and c["matched"] == 3 and c["share_cheaper"] == 0.5
    assert c["geomean_ratio"] == pytest.approx((4.0 * 4.0 * 0.5) ** (1 / 3))
    assert c["seeds_best_reached"] == ["0"]
    assert s0["ours_best_model"]["test_accuracy"] == 0.69 and s0["hgq2_best_model"]["label"] == "hgq2-e2"
    assert e["firmware"]["0"]["alkaid"]["x4"]["values"] == 3
    scaled = e["variants"]["beta4"]
    assert [p["ratio"] for p in scaled["per_seed"]["0"]["points"]] == [8.0, 8.0] and "1" not in scaled["per_seed"]
    assert scaled["front_comparison"]["geomean_ratio"] == pytest.approx(8.0) and "0, beta4" in e["ours_exactness"]
    assert "jets-transformer-ours-beta4-seed1" in summary["not_run"]
    record = study.record(summary, "smoke", 1.0)
    assert section.problems(record) == []
    text = section.render(record, Page({}, tmp_path, tmp_path))
    assert "| transformer | 3 / 4 | 2.00× | 50.00 % |" in text
    # the low end: medians over seeds of each front's cheapest model (HGQ2's 400 and 50), all in the last 2 epochs
    assert ("| toy jets (synthetic) | transformer | HGQ2: 225 (60.0 %); ours: 100 (60.0 %); β × 4: 50 (60.0 %) "
            "| 3 / 3 |") in text
    longer = {**record, "config": {**record["config"], "epochs": 10}}   # the same epochs, now far from the end
    assert section._low_end_rows(longer)[0][-1] == "0 / 3"
    assert e["hgq2_count_ratio"] == pytest.approx(2.0)              # hgq2_ebops twice ours on every model
    assert "| transformer | β × 4 | 2 / 2 | 8.00× | 100.00 % |" in text
    assert "| 1 / 2 | 2.00× |" in text             # seeds where our best reached HGQ2's, the count ratio
    assert "| transformer | 0 | HGQ2 → alkaid | 0 / 20 | 3 / 20 |" in text
    assert "refused: Exception: unsupported layer" in text
    assert "Ours: 0 differing values in every check" in text
    assert "| transformer | 0, 1; 2 recipes, 3 models | ours: Keras = emulator = C++ | 0 / 60 | 0 / 60 |" in text
    assert "alkaid 0.8.2 LUTs" in text and "not run" in text
    assert "![fronts](jets_fronts.png)" in text
    rtl_not_yet = section.RTL_NOT_YET.format(rtl="python -m bench run particles --preset smoke --rtl")  # its preset
    assert rtl_not_yet in text and summary["rtl_not_run"] == ["jets-transformer-rtl-seed0"]   # the first seed only
    records[study.run_name("jets", "transformer", "rtl", 0)] = {"rtl": {
        "resources": {"LUT": 1234, "FF": 567, "DSP": 0}, "latency_cycles": 4, "latency_ns": 20.0, "clock_ns": 5.0,
        "yosys_s": 3.2, "mismatches": 0, "compared": 600}}
    with_rtl = section.render(study.record(study.summarise(cfg, records, {}), "smoke", 1.0), Page({}, tmp_path, tmp_path))
    assert "| toy jets (synthetic) | transformer | 0 | ours-e2 | 200 | 1,234 | 567 | 0 | 4 (20 ns) | 3 | 0 / 600 |" in with_rtl
    assert "at 200 MHz" in with_rtl and rtl_not_yet not in with_rtl
    mlp = {"ebops": 5000, "ours": {"resources": {"LUT": 4000}}}
    figs = section.figures(study.record(study.summarise(cfg, records, {}), "smoke", 1.0),
                           Page({"studies": {"rtl": {"models": {"jet": mlp}}}}, tmp_path, tmp_path))
    (ax,) = figs["lut_vs_ebops.png"].axes
    assert [list(map(list, c.get_offsets())) for c in ax.collections] == [[[5000, 4000]], [[200, 1234]]]
    (fig,) = section.figures(record, Page({}, tmp_path, tmp_path)).values()
    (ax,) = fig.axes
    lines = {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.lines}
    assert lines["ours, seed 0"] == ([100, 200], [60.0, 70.0])
    assert lines["HGQ2, seed 0"] == ([400, 800], [60.0, 70.0])              # HGQ2's front only
    assert lines["HGQ2, seed 1"][0] == [50, 300] and "2.00×" in ax.get_title()


def test_our_exactness_is_summed_over_models_and_an_error_is_never_summed_away():
    checks = [{"values": 0, "compared": 20}, {"values": 2, "compared": 20}]
    assert section._mismatch_cell(*checks) == "2 / 40"
    assert section._mismatch_cell(*checks, {"error": "g++ failed"}) == "failed (g++ failed)"
    assert section._ours_models({"0": {}, "1": {}, "0, beta4": {}, "1, beta4": {}}) == "0, 1; 2 recipes, 4 models"
    assert section._ours_models({"2": {}}) == "2"


def test_presets_and_the_plan_of_runs():
    quick = study.PRESETS["quick"]
    assert quick.architectures == study.ARCHS and quick.seeds == (0,) and set(quick.datasets) == {"jets"}
    full = study.PRESETS["full"]
    assert len(full.seeds) == 3 and set(full.datasets) == {"jets", "fashion_mnist"}
    betas = quick.betas()
    assert len(betas) == quick.epochs and betas[0] == pytest.approx(quick.beta_start)
    assert betas[-1] == pytest.approx(quick.beta_stop) and all(a < b for a, b in zip(betas, betas[1:]))
    runs = study.plan_runs(quick)
    assert runs[:3] == [("jets", "deep_sets", "ours", 0), ("jets", "deep_sets", "hgq2", 0),
                        ("jets", "deep_sets", "firmware", 0)]
    assert len(runs) == 5 * len(study.ARCHS)
    assert runs[3:5] == [("jets", "deep_sets", "ours-beta4", 0), ("jets", "deep_sets", "ours-start-0.2", 0)]
    assert study.plan_runs(quick, rtl=True)[5] == ("jets", "deep_sets", "rtl", 0)
    hardware = [r for r in study.plan_runs(full, rtl=True) if r[2] in ("rtl", "alkaid")]
    assert len(hardware) == 2 * 2 * len(study.ARCHS) and {r[3] for r in hardware} == {0}    # the first seed only
    assert study.wants_firmware("transformer", None)
    kept = {"points": [{"label": "hgq2-e1", "zero_width_activations": 2}], "facts": {"kept": "hgq2-e1"}}
    assert study.wants_firmware("deep_sets", kept)
    kept["points"][0]["zero_width_activations"] = 0
    assert not study.wants_firmware("deep_sets", kept)
    with pytest.raises(ValueError, match="unknown architectures"):
        study.ParticleConfig(architectures=("resnet",))


@pytest.mark.slow
def test_the_smoke_preset_runs_end_to_end(tmp_path):
    """HGQ2's venvs (created from PyPI on first use): both sides trained, HGQ2's firmware paths checked."""
    summary = study.run(study.PRESETS["smoke"], tmp_path / "runs", log=lambda *a: None)
    assert not summary["failed"] and not summary["not_run"]
    for arch, e in summary["results"]["jets"].items():
        assert e["front_comparison"]["points"] >= 1
        assert all(check["values"] == 0 for checks in e["ours_exactness"].values()
                   for check in checks.values() if isinstance(check, dict))
    fw = summary["results"]["jets"]["transformer"]["firmware"]["0"]
    assert set(fw) >= {"alkaid", "hls4ml"}
    runs = tmp_path / "runs" / "runs"
    assert (runs / study.run_name("jets", "transformer", "hgq2", 0) / "hgq2.keras").is_file()
    import keras

    ours = keras.saving.load_model(runs / study.run_name("jets", "transformer", "ours", 0) / "ours.keras", compile=False)
    x = study.held_out(study.load_split("jets", 8, 400), study.PRESETS["smoke"])
    assert np.array_equal(hgq_fpga.to_firmware(ours).predict(x), np.asarray(ours(x, training=False)))


def test_an_architecture_where_ours_never_reaches_hgq2_is_a_missed_goal(tmp_path):
    cfg = study.ParticleConfig(datasets={"jets": (4, 100)}, architectures=("transformer",), seeds=(0,), epochs=2,
                               ours_variants={})
    records = {k: v for k, v in _records(cfg).items() if "seed1" not in k}
    ours = records[study.run_name("jets", "transformer", "ours", 0)]
    ours["points"] = [_point("ours-e1", 0.30, 0.3, 10)]          # below every HGQ2 point: nothing matched
    record = study.record(study.summarise(cfg, records, {}), "smoke", 1.0)
    assert record["results"]["jets"]["transformer"]["front_comparison"]["geomean_ratio"] is None
    text = section.render(record, Page({}, tmp_path, tmp_path))
    assert "| transformer | 0 / 2 | n/a |" in text
    assert "transformer (jets) ❌" in text


def _arch_record(arch: str, seconds: float, preset: str = "smoke") -> dict:
    """A study record of one architecture (the records of :func:`_records`, renamed)."""
    cfg = study.ParticleConfig(datasets={"jets": (4, 100)}, architectures=(arch,), seeds=(0, 1), epochs=2,
                               ours_variants={})
    records = {k.replace("transformer", arch): {**v, "seconds": seconds} for k, v in _records(cfg).items()}
    return study.record(study.summarise(cfg, records, {}), preset, seconds)


def test_a_run_of_some_architectures_replaces_only_theirs_in_the_stored_record():
    stored = {"studies": {"particles": _arch_record("deep_sets", 10.0)}}
    first = _arch_record("transformer", 3.0)
    study.merged_into_store(first, ("transformer",))(stored)
    rec = stored["studies"]["particles"]
    assert list(rec["results"]["jets"]) == ["deep_sets", "transformer"]
    assert rec["config"]["architectures"] == ["deep_sets", "transformer"]
    assert sum("deep_sets" in n for n in rec["runs_done"]) == 5 and sum("transformer" in n for n in rec["runs_done"]) == 5
    assert rec["run_seconds"] == 5 * 10.0 + 5 * 3.0
    again = _arch_record("transformer", 7.0)                     # the transformer run again: replaced, not added
    study.merged_into_store(again, ("transformer",))(stored)
    rec = stored["studies"]["particles"]
    assert rec["run_seconds"] == 5 * 10.0 + 5 * 7.0 and len(rec["runs_done"]) == 10
    assert rec["results"]["jets"]["deep_sets"] == _arch_record("deep_sets", 10.0)["results"]["jets"]["deep_sets"]
    old = {**_arch_record("deep_sets", 10.0)}
    old.pop("run_seconds_each")                                   # a record from before per-run seconds
    stored = {"studies": {"particles": old}}
    study.merged_into_store(first, ("transformer",))(stored)
    rec = stored["studies"]["particles"]
    assert rec["run_seconds"] == 50.0 + 15.0 and rec["run_seconds_includes_replaced"]
    other = {"studies": {"particles": _arch_record("deep_sets", 10.0, preset="quick")}}
    study.merged_into_store(first, ("transformer",))(other)        # another preset: not mixed in
    assert list(other["studies"]["particles"]["results"]["jets"]) == ["transformer"]


def test_the_full_preset_is_recorded_apart_and_its_section_says_what_is_still_to_run(tmp_path):
    from bench.studies.particles_full import section as full_section

    quick = _arch_record("deep_sets", 10.0, preset="quick")
    stored = {"studies": {"particles": quick}}
    full = _arch_record("deep_sets", 20.0, preset="full")
    study.merged_into_store(full, ("deep_sets",))(stored)
    assert stored["studies"]["particles"] is quick                    # the quick record is not replaced
    assert stored["studies"]["particles_full"]["preset"] == "full"
    study.merged_into_store(_arch_record("mlp_mixer", 5.0, preset="full"), ("mlp_mixer",))(stored)
    rec = stored["studies"]["particles_full"]
    assert list(rec["results"]["jets"]) == ["deep_sets", "mlp_mixer"]
    study.merged_into_store(_arch_record("deep_sets", 20.0, preset="full"), ("deep_sets",))(stored)   # run again
    assert list(rec["results"]["jets"]) == ["deep_sets", "mlp_mixer"]               # the study's order kept
    assert full_section.still_to_run(rec) == ["interaction_network", "transformer"]
    part_way = {**rec, "not_run": ["fashion_mnist-mlp_mixer-ours-seed2"]}    # stopped and summarised part-way
    assert full_section.still_to_run(part_way) == ["interaction_network", "mlp_mixer", "transformer"]
    text = full_section.render(rec, Page({}, tmp_path, tmp_path))
    assert text.startswith("## Particle taggers, full study (in progress: 2 of 4 architectures done, still to run: "
                           "interaction_network, transformer)")
    assert "--preset full --archs interaction_network" in text
    assert full_section.problems({}) and all(p.startswith("particles_full:") for p in full_section.problems({}))


def test_archs_names_an_architecture_of_the_preset():
    from click.testing import CliRunner

    got = CliRunner().invoke(study.main, ["--preset", "smoke", "--archs", "mlp_mixer"])
    assert got.exit_code == 2 and "--archs" in got.output
    assert "'mlp_mixer' is not an architecture of preset 'smoke'" in got.output

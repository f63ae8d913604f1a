"""The HGQ2 contender of the seeded resource study (bench/hgq2_front.py): an HGQ2 export rebuilt as
our model keeps every quantized value exactly, charges a weight the bits its value needs, prunes
what HGQ2 pruned; the seeded summary's HGQ2 ratio; the Dask tasks' arguments. The HGQ2 venv itself
is needed only by the `slow` end-to-end case."""

from __future__ import annotations

import inspect
import math
import os
from pathlib import Path

import numpy as np
import pytest

import hgq_fpga
from hgq_fpga import fixed
from bench import hgq2_front, seeded_study
from bench.models import Architecture
from bench.resource_study import Plan, StudyConfig

TINY = Architecture("tiny", "mlp", hidden=(5,), classes=3)
SHAPE = (6,)


def test_fewest_fractional_bits_reads_the_mantissa():
    v = np.array([0.75, 4.0, 0.0, -0.375, 2.0 ** -20, 3.0, -1.0, 1536.0, 0.1015625])
    assert hgq2_front.fewest_fractional_bits(v, -8).tolist() == [2, -2, -8, 3, 20, 0, 0, -8, 7]
    rng = np.random.default_rng(1)
    F = rng.integers(-5, 30, 500)
    m = 2 * rng.integers(-1000, 1000, 500) + 1               # odd: exactly F fractional bits
    assert (hgq2_front.fewest_fractional_bits(np.ldexp(m.astype(np.float64), -F), -8) == F).all()


def _export(rng) -> dict[str, np.ndarray]:
    """A synthetic HGQ2 export of TINY: dyadic weights of mixed precision (some zero), activation
    widths with two pruned inputs and one pruned hidden unit."""
    def dyadic(shape, fmax):
        F = rng.integers(0, fmax, shape)
        w = np.ldexp(rng.integers(-7, 8, shape).astype(np.float64), -F)
        w[rng.random(shape) < 0.2] = 0.0
        return w

    ex = {"kernel0": dyadic((6, 5), 9), "bias0": dyadic((5,), 6), "kernel1": dyadic((5, 3), 9),
          "bias1": dyadic((3,), 6),
          "f_in0": np.array([3.0, 4, 2, 5, 4, -3]), "i_in0": np.array([1.0, 1, 1, 1, -4, 1]),
          "f_in1": np.array([4.0, 3, 2, 4, -2]), "i_in1": np.array([2.0, 2, 2, 2, 1]),
          "f_out": np.array([3.0, 3, 4]), "i_out": np.array([3.0, 3, 3]),
          "val_accuracy": np.float64(0.5), "ebops": np.float64(1e4)}
    return ex


def test_an_export_rebuilt_as_ours_is_exact_and_prunes_what_hgq2_pruned():
    rng = np.random.default_rng(0)
    ex = _export(rng)
    model = hgq2_front.to_ours(Plan(TINY, epochs=1, beta_start=1e-6, beta_stop=1e-6), SHAPE, ex)
    x = rng.uniform(-1, 1, (400, 6)).astype(np.float32)
    ebops = hgq_fpga.calibrate(model, x)
    hgq2_front.check_exact(model, ex)
    quantize = model.layers[1]
    dense = [layer for layer in model.layers if hasattr(layer, "kq")]
    k, i, f = quantize.oq.fixed_types()
    widths = k + i + f
    assert widths[4] == 0 and widths[5] == 0             # relu(i + f) = 0 in HGQ2: pruned here too
    assert (widths[:4] > 0).all() and (f[:4] == ex["f_in0"][:4]).all()
    k, i, f = dense[0].oq.fixed_types()
    assert (k + i + f)[4] == 0
    live = (k + i + f) > 0
    assert (f[live] == ex["f_in1"][live]).all()
    # a weight is charged the bits of its value: a zero weight nothing, an odd code its bit length
    kk, ki, kf = dense[0].kq.fixed_types()
    w = ex["kernel0"]
    assert ((kk + ki + kf)[w == 0] == 0).all()
    nz = w != 0
    code = np.abs(np.ldexp(w, kf))
    assert (code[nz] % 2 == 1).all()                      # no trailing zero bit is charged
    # EBOPs (docs/method.md §3): sum of (magnitude bits of the weight's code) x (input width)
    widths_in = [quantize.oq.fixed_types(), dense[0].oq.fixed_types()]
    expected = 0
    for layer, j, (ak, ai, af) in zip(dense, (0, 1), widths_in):
        magnitude = np.abs(np.ldexp(ex[f"kernel{j}"], hgq2_front.fewest_fractional_bits(ex[f"kernel{j}"], -8)))
        bits = fixed.bit_length(magnitude.astype(np.int64))
        expected += int((bits * (ak + ai + af)[:, None]).sum())
    assert ebops == expected > 0


def test_check_exact_refuses_a_changed_value():
    rng = np.random.default_rng(2)
    ex = _export(rng)
    model = hgq2_front.to_ours(Plan(TINY, epochs=1, beta_start=1e-6, beta_stop=1e-6), SHAPE, ex)
    hgq_fpga.calibrate(model, rng.uniform(-1, 1, (100, 6)).astype(np.float32))
    changed = {**ex, "kernel1": ex["kernel1"] + 2.0 ** -12}
    with pytest.raises(hgq2_front.HGQ2FrontError, match="kernel values differ"):
        hgq2_front.check_exact(model, changed)


def test_a_wrong_architecture_is_refused():
    ex = _export(np.random.default_rng(3))
    wide = Architecture("wide", "mlp", hidden=(5, 4), classes=3)
    with pytest.raises(hgq2_front.HGQ2FrontError, match="kernels"):
        hgq2_front.to_ours(Plan(wide, epochs=1, beta_start=1e-6, beta_stop=1e-6), SHAPE, ex)


def _record(config: str, seed: int, points: list[tuple[float, float]]) -> dict:
    return {"config": config, "seed": seed, "arch": "mlp",
            "points": [{"label": f"{config}-e{k}", "accuracy": acc - 0.01, "calibrated_val_accuracy": acc,
                        "ebops": e} for k, (acc, e) in enumerate(points)]}


def test_summary_ratio_is_hgq2_ebops_over_ours_at_its_best_accuracy():
    records = [_record("hgq", 0, [(0.70, 100), (0.80, 250), (0.85, 900)]),
               _record("hgq", 1, [(0.80, 300), (0.90, 2000)]),
               _record("hgq2-fair", 0, [(0.75, 400), (0.80, 1000)]),
               _record("hgq2-fair", 1, [(0.80, 600)]),
               _record("hgq2-default", 0, [(0.95, 5000)])]          # ours never reaches it
    s = seeded_study.summarise_arch(records, [0, 1])
    fair, default = s["hgq2"]["fair"], s["hgq2"]["default"]
    assert fair["per_seed"]["0"]["ratio"] == 1000 / 250 and fair["per_seed"]["1"]["ratio"] == 600 / 300
    assert fair["ratio"]["mean"] == 3.0 and math.isclose(fair["ratio"]["se"], math.sqrt(2) / math.sqrt(2))
    assert default["seeds_matched"] == 0 and default["ratio"]["mean"] is None
    # at our best (0.85 at 900 EBOPs in seed 0): HGQ2's front never gets there; default's does (5000)
    assert fair["seeds_matched_at_ours_best"] == 0
    assert default["per_seed"]["0"]["at_ours_best"]["ratio"] == 5000 / 900
    assert s["hgq2_headline_init"] == "fair" and s["uniform"] == {}


def test_hgq2_tasks_bind_their_start_and_the_engine_topic():
    plan = Plan(TINY, epochs=1, beta_start=1e-6, beta_stop=1e-6)
    cfg = seeded_study.SeededConfig(StudyConfig((plan,), uniform_bits=(4,)), seeds=(0, 1),
                                    uniform_styles=("saturating",), hgq2_inits=("fair",))
    tasks = seeded_study.tasks(cfg, lambda: None, "/out")
    names = [t[0] for t in tasks]
    assert names == ["tiny-hgq-seed0", "tiny-hgq-seed1", "tiny-uniform-sat-4b-seed0", "tiny-uniform-sat-4b-seed1",
                     "tiny-hgq2-fair-seed0", "tiny-hgq2-fair-seed1"]
    for name, fn, args in tasks:
        bound = inspect.signature(fn).bind(*args, "TOPIC").arguments   # the engine appends the topic
        assert bound["topic"] == "TOPIC"
        assert bound["hgq2_init"] == ("fair" if "hgq2" in name else None)
    with pytest.raises(ValueError, match="unknown HGQ2 start"):
        seeded_study.SeededConfig(StudyConfig((plan,), uniform_bits=()), hgq2_inits=("warm",))


@pytest.mark.slow
def test_hgq2_trains_and_every_epoch_rebuilds_exactly(tmp_path):
    """End to end: the HGQ2 venv (created from PyPI on first use), two epochs on the synthetic images."""
    from bench import data

    split = data.synthetic()
    arch = Architecture("mlp", "mlp", hidden=(8,), classes=int(split.y_train.max()) + 1)
    plan = Plan(arch, epochs=2, beta_start=1e-6, beta_stop=1e-5)
    study = StudyConfig((plan,), uniform_bits=(), batch_size=64, n_calibration=200, hgq_init_bits=4,
                        hgq_f_init=4.0)
    models, facts = hgq2_front.train_hgq2(plan, split, study, str(tmp_path), init="fair")
    assert [m.label for m in models] == ["hgq2-fair-e1", "hgq2-fair-e2"] and facts["epochs"] == 2
    assert all(m.ebops > 0 and 0 <= m.accuracy <= 1 for m in models)
    assert not os.listdir(tmp_path)       # the staging folder is gone

"""examples/particles: the data sets (toy jets, point clouds, the hls4ml loader) and each reference
architecture, small, trained one epoch and proven Keras = emulator = every backend with ``==``."""

from __future__ import annotations

import numpy as np
import pytest

from examples.particles import data as datasets
from examples.particles.models import ARCHITECTURES

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_toy_jets_are_seeded_padded_and_consistent():
    x, y = datasets.toy_jets(250, 12, seed=3)
    again, _ = datasets.toy_jets(250, 12, seed=3)
    assert np.array_equal(x, again) and not np.array_equal(x, datasets.toy_jets(250, 12, seed=4)[0])
    assert x.shape == (250, 12, 5) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [50] * 5                       # every class in equal parts
    pt, deta, dphi, logpt, dr = np.moveaxis(x, -1, 0)
    live = pt > 0
    assert np.all(np.diff(pt, axis=1) <= 0)                           # hardest first
    assert np.all(pt.sum(axis=1) <= 1 + 1e-6)                        # fractions of the jet
    assert np.all(x[~live] == 0)                                      # padding is all zero
    assert np.allclose(dr[live], np.hypot(deta, dphi)[live], rtol=1e-5)
    assert np.allclose(logpt[live], np.log(pt[live]), rtol=1e-5)
    # prongs show: top jets (3 prongs) spread their momentum more than quark jets (1 prong)
    lead = {c: pt[y == k, 0].mean() for k, c in enumerate(datasets.JET_CLASSES)}
    assert lead["q"] > lead["W"] > lead["t"]
    with pytest.raises(ValueError, match="unknown jet classes \\['H'\\]"):
        datasets.toy_jets(10, classes=("q", "H"))


def test_point_clouds_keep_the_brightest_pixels():
    images = np.zeros((2, 3, 3))
    images[0, 0, 0], images[0, 2, 1], images[1, 1, 1] = 4, 8, 2
    clouds = datasets.point_cloud_images(images, n_particles=2)
    assert clouds.tolist() == [[[1.0, 0.0, 1.0], [0.5, -1.0, -1.0]], [[0.25, 0.0, 0.0], [0.0, 0.0, 0.0]]]
    x, y = datasets.digits_point_clouds(16)
    assert x.shape == (1797, 16, 3) and y.shape == (1797,) and np.all(np.diff(x[..., 0], axis=1) <= 0)


def test_hls4ml_particle_file_is_read_in_the_same_layout(tmp_path):
    import h5py

    names = ["j1_px", "j1_pt", "j1_etarel", "j1_phirel"]
    particles = np.zeros((2, 4, 4))
    particles[0, :3] = [[0, 30, 0.1, 0.0], [0, 60, -0.1, 0.05], [0, 10, 0.2, -0.2]]
    particles[1, :1] = [[0, 100, 0.0, 0.0]]
    jets = np.zeros((2, 7))
    jets[0, 4], jets[1, 6] = 1, 1                                     # W, t
    path = tmp_path / "jets.h5"
    with h5py.File(path, "w") as f:
        f["jetConstituentList"] = particles
        f["particleFeatureNames"] = np.array([n.encode() for n in names])
        f["jets"] = jets
        f["jetFeatureNames"] = np.array([n.encode() for n in ["j_pt", "j_eta", "j_g", "j_q", "j_w", "j_z", "j_t"]])
    x, y = datasets.load_hls4ml_particles(path, n_particles=3)
    assert y.tolist() == [2, 4] and x.shape == (2, 3, 5)
    assert np.allclose(x[0, :, 0], [0.6, 0.3, 0.1]) and np.array_equal(x[1, 1:], np.zeros((2, 5)))
    assert np.allclose(x[0, 0, 1], -0.1 - (0.6 * -0.1 + 0.3 * 0.1 + 0.1 * 0.2))   # Δη from the pT-weighted axis
    (tmp_path / "other.h5").write_bytes(b"")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match="not an hls4ml particle file"):
        datasets.load_hls4ml_particles(tmp_path / "other.h5")


@pytest.mark.parametrize("name, options", [("deep_sets", {"hidden": 6}), ("interaction_network", {"hidden": 4}),
                                           ("mlp_mixer", {"hidden": 4}), ("transformer", {"dim": 4})])
def test_reference_architecture_is_bit_exact_through_every_backend(name, options, tmp_path):
    import keras

    from hgq_fpga.app.design import build_design

    x, y = datasets.toy_jets(160, 4, seed=7)
    keras.utils.set_random_seed(0)
    model = ARCHITECTURES[name](n=4, f=5, classes=5, **options)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:128], y[:128], epochs=1, batch_size=32, verbose=0)
    design = build_design(model, x[:128], tmp_path / name, name=name, backends="hls,rtl", progress=False,
                          checks={"held-out": x[128:], "held-out x4": 4 * x[128:]})
    assert design.ok, str(design)
    assert [r.mismatches for r in (design.verification, *design.checks)] == [0, 0]
    assert design.verification.implementations == ["Keras", "emulator", "C++", "RTL"]

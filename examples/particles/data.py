"""Particle data sets for the particle-based trigger networks: every array is ``(events, N, features)``,
zero-padded, particles sorted by their first feature (largest first), with integer class labels.

Three sources, one layout:

* :func:`toy_jets` - a **synthetic** jet generator, seeded and fast (see below for what it models);
* :func:`point_cloud_images` - a standard set-learning benchmark: each image becomes the set of its
  ``N`` brightest pixels, each a particle ``(intensity, x, y)``; scikit-learn's bundled digits or
  Fashion-MNIST from Debian's ``dataset-fashion-mnist``;
* :func:`load_hls4ml_particles` - the hls4ml LHC jet data set of particle lists (the HDF5 files of
  ``hls4ml_LHCjet_*p`` on Zenodo), for users who have them; nothing is downloaded.

**What the toy jets are, and are not.** A jet of transverse momentum ``pT`` (about 1 TeV) is made of
``n`` prongs (1 for light-quark and gluon jets, 2 for W and Z bosons, 3 for top quarks). The prongs
of an ``n``-prong jet share the jet's momentum by a random split and sit at the angular separation
that the decaying particle's mass gives, ``ΔR ≈ m / (pT·sqrt(z(1 - z)))``; each prong showers into a
Poisson number of particles whose momentum fractions follow a Dirichlet split and whose angles from
the prong follow an exponential profile (gluon showers wider and more numerous than quark showers);
a few soft particles are spread uniformly over the jet cone. The features of a particle are its
momentum fraction ``pT_i / pT_jet``, ``Δη`` and ``Δφ`` from the ``pT``-weighted jet axis, and two
derived ones, ``log(pT_i / pT_jet)`` and ``ΔR``. The generator models the *prong structure* and
multiplicity differences that taggers exploit. It does **not** model QCD matrix elements, parton
showers with angular ordering, colour connection, hadronization, pile-up, detector response, or the
W/Z mass resolution; its class separation is not that of real data, and nothing measured on it is
a physics result. It exists so that particle architectures can be trained, converted and proven
bit-exact on data of the right shape without downloading anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: class names of the toy jets, as the hls4ml jet data sets name them
JET_CLASSES = ("g", "q", "W", "Z", "t")
#: features of a toy or hls4ml jet particle, in order
JET_FEATURES = ("pt_fraction", "delta_eta", "delta_phi", "log_pt_fraction", "delta_r")
#: features of a point-cloud image particle, in order
IMAGE_FEATURES = ("intensity", "x", "y")

#: per class: prongs and, for decays, the mass (GeV) that sets their separation
_PRONGS = {"g": (1, 0.0), "q": (1, 0.0), "W": (2, 80.4), "Z": (2, 91.2), "t": (3, 172.7)}
#: mean particles per prong and the angular width of its shower (radians), quark-like or gluon-like
_SHOWER = {"quark": (8.0, 0.02), "gluon": (16.0, 0.035)}
JET_PT = 1000.0
JET_RADIUS = 0.8
SOFT_PARTICLES = 4.0   # mean number of soft particles spread over the cone
SOFT_FRACTION = 0.02   # their share of the jet's momentum


def _split(rng: np.random.Generator, n: int) -> np.ndarray:
    """Momentum fractions of ``n`` prongs, none below 10 % (a resolved decay)."""
    if n == 1:
        return np.ones(1)
    while True:
        z = rng.dirichlet(np.full(n, 2.0))
        if z.min() >= 0.1:
            return z


def _prong_axes(rng: np.random.Generator, z: np.ndarray, mass: float) -> np.ndarray:
    """``(n, 2)`` directions ``(η, φ)`` of the prongs around the jet axis, at the decay's separation."""
    n = len(z)
    if n == 1:
        return np.zeros((1, 2))
    if n == 2:
        dr = min(mass / (JET_PT * np.sqrt(z[0] * z[1])), 0.7 * JET_RADIUS)
        angle = rng.uniform(0, 2 * np.pi)
        # the pT-weighted centre of the two prongs is the jet axis
        offsets = np.array([[z[1] * dr, 0.0], [-z[0] * dr, 0.0]])
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return offsets @ rot.T
    # three prongs (top): a W pair at its own separation, and the b opposite the W's centre
    w = z[1:] / z[1:].sum()
    pair = _prong_axes(rng, w, _PRONGS["W"][1])
    zb, zw = z[0], z[1:].sum()
    dr = min(mass / (JET_PT * np.sqrt(zb * zw)), 0.7 * JET_RADIUS)
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    return np.vstack([zw * dr * direction, pair - zb * dr * direction])


def _shower(rng: np.random.Generator, axis: np.ndarray, pt: float, kind: str) -> np.ndarray:
    """Particles ``(pT, η, φ)`` of one prong's shower."""
    mean, width = _SHOWER[kind]
    n = max(1, rng.poisson(mean))
    share = rng.dirichlet(np.full(n, 0.6)) * pt
    # softer particles spread wider (harder ones stay near the prong's axis)
    radius = np.minimum(rng.exponential(width, n) * np.sqrt(share.mean() / share), JET_RADIUS)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([share, axis[0] + radius * np.cos(angle), axis[1] + radius * np.sin(angle)])


def _one_jet(rng: np.random.Generator, label: str) -> np.ndarray:
    """``(particles, 3)``: ``pT, η, φ`` of one toy jet (jet axis near the origin)."""
    prongs, mass = _PRONGS[label]
    z = _split(rng, prongs)
    axes = _prong_axes(rng, z, mass)
    kind = "gluon" if label == "g" else "quark"
    hard = (1.0 - SOFT_FRACTION) * JET_PT
    parts = [_shower(rng, axis, hard * zi, kind) for axis, zi in zip(axes, z)]
    n_soft = rng.poisson(SOFT_PARTICLES)
    if n_soft:
        r = JET_RADIUS * np.sqrt(rng.uniform(0, 1, n_soft))
        a = rng.uniform(0, 2 * np.pi, n_soft)
        parts.append(np.column_stack([rng.dirichlet(np.ones(n_soft)) * SOFT_FRACTION * JET_PT,
                                      r * np.cos(a), r * np.sin(a)]))
    return np.vstack(parts)


def jet_features(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """``(particles, 5)`` features of :data:`JET_FEATURES` from momenta and directions."""
    total = pt.sum()
    frac = pt / total
    deta = eta - (frac * eta).sum()
    dphi = phi - (frac * phi).sum()
    return np.column_stack([frac, deta, dphi, np.log(frac), np.hypot(deta, dphi)])


def _padded(rows: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` rows with the largest first feature, largest first, zero-padded to ``n`` rows."""
    order = np.argsort(-rows[:, 0], kind="stable")[:n]
    out = np.zeros((n, rows.shape[1]), np.float32)
    out[:len(order)] = rows[order]
    return out


def toy_jets(n_jets: int, n_particles: int = 16, seed: int = 0,
             classes: tuple[str, ...] = JET_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """``n_jets`` synthetic jets of ``classes`` in equal parts, shuffled: ``(x, y)`` with ``x`` of shape
    ``(n_jets, n_particles, 5)`` (:data:`JET_FEATURES`; padding particles are all zero) and ``y`` the
    index of each jet's class in ``classes``. The same seed gives the same jets. See the module doc for
    what the jets do and do not model."""
    if n_jets < 1 or n_particles < 1:
        raise ValueError(f"n_jets and n_particles must be >= 1, got {n_jets} and {n_particles}")
    unknown = [c for c in classes if c not in _PRONGS]
    if unknown:
        raise ValueError(f"unknown jet classes {unknown}; choose from {', '.join(JET_CLASSES)}")
    rng = np.random.default_rng(seed)
    y = np.arange(n_jets) % len(classes)
    rng.shuffle(y)
    x = np.zeros((n_jets, n_particles, len(JET_FEATURES)), np.float32)
    for j, label in enumerate(y):
        pt, eta, phi = _one_jet(rng, classes[label]).T
        x[j] = _padded(jet_features(pt, eta, phi), n_particles)
    return x, y.astype(np.int64)


def point_cloud_images(images: np.ndarray, n_particles: int = 32) -> np.ndarray:
    """Images ``(events, height, width)`` as sets of their ``n_particles`` brightest pixels:
    ``(events, n_particles, 3)`` with :data:`IMAGE_FEATURES` (intensity scaled to [0, 1] by the image's
    maximum possible value, ``x`` and ``y`` in [-1, 1] across the image); darker images are zero-padded."""
    images = np.asarray(images, np.float64)
    if images.ndim != 3:
        raise ValueError(f"images must be (events, height, width), got shape {images.shape}")
    _, h, w = images.shape
    scale = images.max() if images.max() > 0 else 1.0
    ys, xs = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    out = np.zeros((len(images), n_particles, 3), np.float32)
    for n, image in enumerate(images):
        rows = np.column_stack([image.ravel() / scale, xs.ravel(), ys.ravel()])
        out[n] = _padded(rows[rows[:, 0] > 0], n_particles)
    return out


def digits_point_clouds(n_particles: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits as point clouds (nothing is downloaded)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return point_cloud_images(x.reshape(-1, 8, 8), n_particles), y.astype(np.int64)


FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def fashion_mnist_point_clouds(n_particles: int = 32, split: str = "train",
                               folder: Path = FASHION_MNIST) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST (Debian's ``dataset-fashion-mnist``) as point clouds of the brightest pixels."""
    import gzip

    prefix = {"train": "train", "test": "t10k"}[split]
    images, labels = folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz"
    if not images.is_file():
        raise FileNotFoundError(f"{images} not found: install Debian's dataset-fashion-mnist "
                                "(apt-get install dataset-fashion-mnist)")
    with gzip.open(images) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return point_cloud_images(x, n_particles), y.astype(np.int64)


#: columns of the hls4ml particle files that give :data:`JET_FEATURES`
_HLS4ML_COLUMNS = {"pt": "j1_pt", "eta": "j1_etarel", "phi": "j1_phirel"}
_HLS4ML_LABELS = ("j_g", "j_q", "j_w", "j_z", "j_t")


def load_hls4ml_particles(path: str | Path, n_particles: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """The hls4ml LHC jet particle lists (an ``hls4ml_LHCjet_*p`` HDF5 file) in this module's layout.

    The file holds ``jetConstituentList`` ``(jets, particles, features)`` named by
    ``particleFeatureNames``, and ``jets`` whose columns ``jetFeatureNames`` include the one-hot labels
    ``j_g, j_q, j_w, j_z, j_t``. Particles with zero ``pT`` are padding. Returns ``(x, y)`` as
    :func:`toy_jets` does, classes in :data:`JET_CLASSES` order.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with h5py.File(path, "r") as f:
        missing = [k for k in ("jetConstituentList", "particleFeatureNames", "jets", "jetFeatureNames") if k not in f]
        if missing:
            raise ValueError(f"{path} is not an hls4ml particle file: it has no {', '.join(missing)}")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["particleFeatureNames"][()]]
        jet_names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["jetFeatureNames"][()]]
        particles = np.asarray(f["jetConstituentList"][()], np.float64)
        jets = np.asarray(f["jets"][()], np.float64)
    lacking = [c for c in (*_HLS4ML_COLUMNS.values(),) if c not in names] + \
              [c for c in _HLS4ML_LABELS if c not in jet_names]
    if lacking:
        raise ValueError(f"{path} lacks the columns {', '.join(lacking)}")
    onehot = jets[:, [jet_names.index(c) for c in _HLS4ML_LABELS]]
    y = onehot.argmax(axis=1).astype(np.int64)
    x = np.zeros((len(particles), n_particles, len(JET_FEATURES)), np.float32)
    cols = [names.index(_HLS4ML_COLUMNS[k]) for k in ("pt", "eta", "phi")]
    for j, jet in enumerate(particles):
        pt, eta, phi = jet[:, cols].T
        live = pt > 0
        if live.any():
            x[j] = _padded(jet_features(pt[live], eta[live], phi[live]), n_particles)
    return x, y

"""Keras-level exactness corpus: random HGQ architectures, random bit widths, zero mismatches.

Each case builds a small model from a seed, drawing layers from the whole HGQ layer set (HQuantize,
HDense/HDenseBatchNorm, HConv1D/2D with valid/same padding and strides, HActivation, HAdd and
HConcatenate branches, HFlatten/HReshape, max pooling, and average pooling and the fused conv batch
norms where hgq_fpga.nn.layers has them), random per-quantizer rounding (TRN/RND) and overflow
(WRAP/SAT), random ``f`` bit widths and random (untrained) weights.  After calibration on one data
set, :func:`hgq_fpga.verify` must find 0 mismatches between Keras and the emulator on

* (a) the calibration data;
* (b) that data ×4, which drives WRAP and SAT quantizers out of their calibrated range;
* (c) exact half-step ties of the input types, where TRN and RND differ;

and the IR's EBOPs must equal ``hgq_fpga.ebops(model)`` (for models without max pooling: see the
strict xfail in ``tests/test_ir_ebops.py``).  :class:`ParticleArchitecture` draws particle networks
the same way: Deep Sets (per-particle dense layers, batch norms, sums and global poolings), mixing
across particles, pair products, attention blocks with residuals, broadcasting adds and products,
permutes, and softmax in the middle of the network and at its output.  The default run keeps the
models small; ``-m slow`` adds an extended set.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras

# TensorFlow's tensors warn on numpy 2's copy keyword whenever Keras converts them; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

import hgq_fpga  # noqa: E402
from hgq_fpga.nn import layers as L  # noqa: E402


#: non-quantizer variables given random values (batch-norm statistics and affine parameters)
_RANDOM_VARIABLES = {
    "bias": lambda rng, s: rng.normal(0.0, 0.5, s),
    "gamma": lambda rng, s: rng.uniform(0.5, 1.5, s),
    "bn_beta": lambda rng, s: rng.normal(0.0, 0.5, s),
    "moving_mean": lambda rng, s: rng.normal(0.0, 0.5, s),
    "moving_var": lambda rng, s: rng.uniform(0.5, 2.0, s),
    "moving_variance": lambda rng, s: rng.uniform(0.5, 2.0, s),
}


def _one(xs: list):
    """A list of several items, or its only item (the structure Keras models are built with)."""
    return xs if len(xs) > 1 else xs[0]


class Architecture:
    """Draws one random model; every choice comes from ``rng`` so a seed reproduces it."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed

    # -------------------------------------------------------------------- draws
    def pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def modes(self) -> dict:
        return {"round_mode": self.pick(["TRN", "RND"]), "overflow_mode": self.pick(["WRAP", "SAT"])}

    def weight_layer_options(self) -> dict:
        """Random modes for the three quantizers of a Dense/Conv layer, and a random bias."""
        options = {n: self.modes() for n in ("kernel_quantizer", "bias_quantizer", "output_quantizer")}
        return dict(options, bias_initializer="random_normal", activation=self.pick([None, "relu"]))

    # ------------------------------------------------------------------- blocks
    def quantize(self, x):
        return L.HQuantize(output_quantizer=self.modes())(x)

    def dense(self, h, units: int | None = None, batch_norm: bool | None = None):
        if batch_norm is None:
            batch_norm = self.rng.random() < 0.3
        cls = L.HDenseBatchNorm if batch_norm else L.HDense
        units = units or int(self.rng.integers(2, 6))
        return cls(units, **self.weight_layer_options())(h)

    def conv(self, h, rank: int, same_shape: bool = False):
        spatial = h.shape[1:1 + rank]
        kernel = tuple(int(self.rng.integers(1, min(3, n) + 1)) for n in spatial)
        if same_shape:
            strides, padding, filters = (1,) * rank, "same", int(h.shape[-1])
        else:
            strides = tuple(int(self.rng.integers(1, 3)) for _ in spatial)
            padding, filters = self.pick(["valid", "same"]), int(self.rng.integers(2, 4))
        fused = self.rng.random() < 0.35
        cls = (getattr(L, f"HConv{rank}DBatchNorm") if fused else getattr(L, f"HConv{rank}D"))
        return cls(filters, kernel, strides=strides, padding=padding, **self.weight_layer_options())(h)

    def activation(self, h):
        return L.HActivation(self.pick(["relu", "tanh", "sigmoid", "linear"]),
                             output_quantizer=self.modes())(h)

    def pool(self, h, rank: int):
        spatial = h.shape[1:1 + rank]
        if min(spatial) < 2:
            return h
        pool = tuple(int(self.rng.integers(1, 3)) if n >= 2 else 1 for n in spatial)
        strides = tuple(int(self.rng.integers(1, 3)) for _ in spatial)
        padding = self.pick(["valid", "same"])
        if self.rng.random() < 0.5:
            cls = getattr(L, f"HAveragePooling{rank}D")
            return cls(pool, strides=strides, padding=padding, c_f=int(self.rng.integers(3, 19)),
                       output_quantizer=self.modes())(h)
        return getattr(L, f"HMaxPooling{rank}D")(pool, strides=strides, padding=padding)(h)

    def merge(self, a, b):
        if self.rng.random() < 0.5 and tuple(a.shape) == tuple(b.shape):
            return L.HAdd(output_quantizer=self.modes())([a, b])
        return L.HConcatenate(axis=-1)([a, b])

    # -------------------------------------------------------------------- models
    def vector_model(self):
        n = int(self.rng.integers(4, 9))
        if self.rng.random() < 0.25:                       # two inputs, concatenated
            inputs = [keras.Input((n,)), keras.Input((int(self.rng.integers(2, 5)),))]
            h = L.HConcatenate()([self.quantize(x) for x in inputs])
        else:
            inputs = [keras.Input((n,), dtype=self.pick(["float32", "float64"]))]
            h = self.quantize(inputs[0])
        outputs = []
        for _ in range(int(self.rng.integers(2, 4))):
            block = self.pick(["dense", "activation", "branch", "positions"])
            if block == "dense":
                h = self.dense(h)
            elif block == "activation":
                h = self.activation(self.dense(h))
            elif block == "branch":
                units = int(self.rng.integers(2, 5))
                h = self.merge(self.activation(self.dense(h, units)), self.dense(h, units))
            else:                                           # Dense applied per position
                width = int(h.shape[-1])
                parts = 2 if width % 2 == 0 else 1
                h = L.HReshape((parts, width // parts))(h)
                h = L.HFlatten()(self.dense(h))
            if self.rng.random() < 0.2:
                outputs.append(self.dense(h, 2))
        return inputs, outputs + [self.dense(h, int(self.rng.integers(2, 5)))]

    def spatial_model(self, rank: int):
        shape = tuple(int(self.rng.integers(5, 9 if rank == 1 else 7)) for _ in range(rank))
        inputs = [keras.Input(shape + (int(self.rng.integers(1, 3)),),
                              dtype=self.pick(["float32", "float64"]))]
        h = self.conv(self.quantize(inputs[0]), rank)
        if self.rng.random() < 0.5:
            h = self.activation(h)
        if self.rng.random() < 0.6:
            h = self.pool(h, rank)
        if self.rng.random() < 0.6:                         # residual / parallel branch
            h = self.merge(self.activation(self.conv(h, rank, same_shape=True)), h)
        flat = L.HFlatten()(h) if self.rng.random() < 0.6 else \
            L.HReshape((int(np.prod(h.shape[1:])),))(h)
        outputs = [self.dense(flat, int(self.rng.integers(2, 5)))]
        if self.rng.random() < 0.2:
            outputs.append(self.dense(L.HFlatten()(self.activation(h)), 2))
        return inputs, outputs

    def build(self) -> keras.Model:
        keras.utils.set_random_seed(self.seed)          # the kernel initialisers draw from it
        kind = self.seed % 3
        inputs, outputs = self.vector_model() if kind == 0 else self.spatial_model(kind)
        model = keras.Model(_one(inputs), _one(outputs))
        self.randomize(model)
        return model

    def randomize(self, model: keras.Model) -> None:
        """Random ``f`` for every quantizer and random batch-norm / bias values."""
        for layer in L.hgq_layers(model):
            for q in layer.quantizers():
                lo, hi = (1, 7) if q.kind == "weight" else (-1, 7)
                f = self.rng.integers(lo, hi, q.f.shape) + self.rng.uniform(-0.45, 0.45, q.f.shape)
                q.f.assign(f.astype(np.float32))
            for v in layer.weights:
                make = _RANDOM_VARIABLES.get(v.name)
                if make is not None and not any(v is q for q in layer.quantizers()):
                    v.assign(make(self.rng, v.shape).astype(v.dtype))

    def calibration_data(self, model: keras.Model) -> list[np.ndarray]:
        data = []
        for t in model.inputs:
            x = self.rng.normal(0.0, self.rng.uniform(0.5, 2.0), (48,) + tuple(t.shape[1:]))
            data.append(np.abs(x) if self.rng.random() < 0.25 else x)
        return data


def tie_data(model: keras.Model, rng, n: int = 48) -> list[np.ndarray]:
    """Exact half-step ties ``(m + 1/2)·2^-f`` of each input's quantized type, over its code range."""
    data = []
    for t in model.inputs:
        quantizer = next(node.operation for node in t._keras_history.operation._outbound_nodes)
        k, i, f = quantizer.output_types()
        w = k + i + f
        lo = np.where(k == 1, -(2.0 ** np.maximum(w - 1, 0)), 0.0) - 2
        hi = 2.0 ** np.maximum(w - k, 0) + 2
        m = np.floor(lo + (hi - lo) * rng.random((n,) + k.shape))
        data.append((m + 0.5) * np.ldexp(1.0, -f))
    return data


class MultiplierFreeArchitecture(Architecture):
    """The same draws, with every kernel quantized by a random n-hot or ternary quantizer
    (``docs/method.md`` §8)."""

    def weight_layer_options(self) -> dict:
        from hgq_fpga.nn.quantizers.nhot import nhot
        from hgq_fpga.nn.quantizers.ternary import ternary
        options = super().weight_layer_options()
        if self.rng.random() < 0.5:
            kq = nhot(int(self.rng.integers(1, 4)), init_bits=int(self.rng.integers(2, 7)))
        else:
            kq = ternary(self.pick([1, 3, 4, 16]), alpha_bits=int(self.rng.integers(1, 6)))
        return dict(options, kernel_quantizer=kq)


class ParticleArchitecture(Architecture):
    """Random particle networks on ``(batch, particles, features)`` inputs (see the module doc)."""

    def particle_block(self, h):
        n, width = int(h.shape[1]), int(h.shape[2])
        block = self.pick(["deep_sets", "mixing", "pairs", "attention", "softmax", "broadcast",
                           "permute"])
        opts = {"output_quantizer": self.modes()}
        if block == "deep_sets":
            h = self.dense(h, int(self.rng.integers(2, 5)), batch_norm=False)
            if self.rng.random() < 0.5:
                h = L.HBatchNormalization(**{k: self.modes() for k in ("kernel_quantizer", "bias_quantizer",
                                                                       "output_quantizer")})(h)
        elif block == "mixing":
            m = int(self.rng.integers(2, 5))
            h = L.HEinsumDense("bnf,nm->bmf", (m, width), bias_axes=self.pick(["m", "f", "mf", None]),
                               activation=self.pick([None, "relu"]), **opts)(h)
        elif block == "pairs":
            pairs = L.HEinsum("bnf,bmf->bnm", **opts)([h, self.dense(h, width, batch_norm=False)])
            h = L.HEinsum("bnm,bmf->bnf", output_quantizer=self.modes())([pairs, h])
        elif block == "attention":
            att = L.HMultiHeadAttention(int(self.rng.integers(1, 3)), int(self.rng.integers(1, 3)),
                                        softmax={"output_quantizer": self.modes()})(h, h)
            h = L.HAdd(**opts)([h, att])
        elif block == "softmax":
            axis = self.pick([1, -1])
            h = L.HMultiply(**opts)([L.HSoftmax(axis=axis, output_quantizer=self.modes())(h), h])
        elif block == "broadcast":
            event = L.HSum(1, keepdims=True, **opts)(h) if self.rng.random() < 0.5 \
                else L.HGlobalMaxPooling1D(keepdims=True)(h)
            h = L.HAdd(output_quantizer=self.modes())([h, event])
        else:
            h = L.HPermute((2, 1))(self.dense(L.HPermute((2, 1))(h), n, batch_norm=False))
        return h

    def build(self) -> keras.Model:
        keras.utils.set_random_seed(self.seed)
        shape = (int(self.rng.integers(3, 6)), int(self.rng.integers(2, 4)))
        inputs = [keras.Input(shape, dtype=self.pick(["float32", "float64"]))]
        h = self.quantize(inputs[0])
        for _ in range(int(self.rng.integers(1, 4))):
            h = self.particle_block(h)
        pool = self.pick(["sum", "average", "max", "flatten"])
        if pool == "sum":
            h = L.HSum(1, output_quantizer=self.modes())(h)
        elif pool == "average":
            h = L.HGlobalAveragePooling1D(c_f=int(self.rng.integers(3, 19)), output_quantizer=self.modes())(h)
        elif pool == "max":
            h = L.HGlobalMaxPooling1D()(h)
        else:
            h = L.HFlatten()(h)
        out = self.dense(h, int(self.rng.integers(2, 5)))
        if self.rng.random() < 0.4:
            out = L.HSoftmax(output_quantizer=self.modes())(out)
        model = keras.Model(inputs[0], out)
        self.randomize(model)
        return model


def check_architecture(seed: int, kind: type = Architecture) -> None:
    arch = kind(seed)
    model = arch.build()
    calib = arch.calibration_data(model)
    exact_ebops = hgq_fpga.calibrate(model, _one(calib))
    fw = hgq_fpga.to_firmware(model)
    assert exact_ebops == hgq_fpga.ebops(model)
    assert fw.resources().ebops == exact_ebops
    cases = {"calibration": calib, "x4": [4 * x for x in calib], "ties": tie_data(model, arch.rng)}
    for name, xs in cases.items():
        report = hgq_fpga.verify(model, _one(xs), firmware=fw)
        assert report.mismatches == 0, f"seed {seed}, {name} data:\n{report}\n{fw.summary()}"
        assert report.samples == len(xs[0])


@pytest.mark.parametrize("seed", range(30))
def test_random_architecture_is_exact(seed):
    check_architecture(seed)


@pytest.mark.parametrize("seed", range(6))
def test_random_multiplier_free_architecture_is_exact(seed):
    check_architecture(1000 + seed, MultiplierFreeArchitecture)


@pytest.mark.parametrize("seed", range(12))
def test_random_particle_architecture_is_exact(seed):
    check_architecture(2000 + seed, ParticleArchitecture)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(30, 150))
def test_random_architecture_is_exact_extended(seed):
    check_architecture(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(12, 60))
def test_random_particle_architecture_is_exact_extended(seed):
    check_architecture(2000 + seed, ParticleArchitecture)


def test_corpus_covers_the_layer_set():
    """The default corpus draws every layer class it claims to (and the optional ones present)."""
    seen = set()
    for seed in range(30):
        model = Architecture(seed).build()
        seen |= {type(layer).__name__ for layer in model.layers}
        for layer in model.layers:
            if type(layer).__name__ == "HActivation":
                seen.add(f"HActivation:{layer.activation}")
            if hasattr(layer, "padding"):
                seen.add(f"padding:{layer.padding}")
            if max(getattr(layer, "strides", (1,)) or (1,)) > 1:
                seen.add("strides>1")
    want = {"HQuantize", "HDense", "HDenseBatchNorm", "HConv1D", "HConv2D", "HAdd", "HConcatenate",
            "HFlatten", "HReshape", "HMaxPooling1D", "HMaxPooling2D", "HActivation:relu",
            "HActivation:tanh", "HActivation:sigmoid", "HActivation:linear", "padding:valid",
            "padding:same", "strides>1", "HAveragePooling1D", "HAveragePooling2D",
            "HConv1DBatchNorm", "HConv2DBatchNorm"}
    assert want <= seen, sorted(want - seen)


def test_particle_corpus_covers_the_particle_layers():
    seen = set()
    for seed in range(12):
        model = ParticleArchitecture(2000 + seed).build()
        seen |= {type(layer).__name__ for layer in model.layers}
        for layer in model.layers:
            if isinstance(layer, L.HSoftmax):
                seen.add("HSoftmax:output" if layer.output in model.outputs else "HSoftmax:mid")
    want = {"HDense", "HBatchNormalization", "HEinsumDense", "HEinsum", "HMultiply", "HSum", "HAdd",
            "HGlobalMaxPooling1D", "HGlobalAveragePooling1D", "HPermute", "HSoftmax:output",
            "HSoftmax:mid", "HFlatten"}
    assert want <= seen, sorted(want - seen)

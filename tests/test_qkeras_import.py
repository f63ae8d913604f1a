"""QKeras import: QKeras's own float32 predict == our imported model == the emulator (== the C++), bit for bit.

The QKeras models are built, trained for one short epoch, saved and run by QKeras itself in one
legacy subprocess (tests/qkeras_legacy_models.py); this process only ever runs Keras 3. Every
model is compared on its training inputs, on those inputs times 4 (overflow, clipping) and on
inputs whose products land exactly on rounding ties of the activation quantizers.
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hgq_fpga
from hgq_fpga.nn.importers.qkeras.description import ModelDescription
from hgq_fpga.nn.importers.qkeras.runner import legacy_env, qkeras_tables
from hgq_fpga.nn.importers.qkeras.builder import build_from_description, missing_tables, store_tables
from hgq_fpga.nn.importers.qkeras.quantizers import QKerasImportError

HERE = Path(__file__).resolve().parent
Q6 = "quantized_bits(6,0,alpha=1)"


def grid(x: np.ndarray, f: int) -> np.ndarray:
    return (np.round(np.asarray(x, np.float64) * 2.0 ** f) / 2.0 ** f).astype(np.float32)


def data_sets(rng: np.random.Generator, shape: tuple[int, ...], n: int, f: int, tie_f: int) -> dict:
    """Training inputs on the grid 2^-f, the same times 4, and inputs in [-3, 3] on the grid 2^-tie_f,
    coarse enough that products land exactly halfway between two quantization steps."""
    train = grid(rng.normal(size=(n,) + shape), f)
    m = 3 << tie_f
    ties = (rng.integers(-m, m + 1, size=(n // 2,) + shape) / 2.0 ** tie_f).astype(np.float32)
    return {"train": train, "x4": (train * 4).astype(np.float32), "ties": ties}


def jet_spec() -> dict:
    """The hls4ml tutorial's jet-tagging network, 16-64-32-32-5 (without its final softmax)."""
    layers = []
    for units in (64, 32, 32):
        layers += [{"type": "QDense", "units": units, "kernel_quantizer": Q6, "bias_quantizer": Q6,
                    "name": f"fc{len(layers) // 2 + 1}"},
                   {"type": "QActivation", "activation": "quantized_relu(6)", "name": f"relu{len(layers) // 2 + 1}"}]
    layers.append({"type": "QDense", "units": 5, "kernel_quantizer": Q6, "bias_quantizer": Q6, "name": "output"})
    return {"name": "jet", "input_shape": [16], "input_type": "ap_fixed<16,6>", "f": 10, "tie_f": 2,
            "layers": layers}


def mlp_spec(rng: np.random.Generator, name: str) -> dict:
    """Input quantizer, then dense layers with random bits and several weight quantizers."""
    b = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    weights = [f"quantized_bits({b(3, 8)},{b(0, 1)},alpha=1)",
               f"quantized_bits({b(3, 8)},0,symmetric=1,alpha='auto_po2')",
               f"quantized_po2({b(3, 5)})", "ternary(alpha=1)", "binary(alpha=1)",
               "stochastic_ternary(alpha='auto_po2')", f"quantized_bits({b(4, 8)},{b(0, 2)},keep_negative=True)"]
    kq = [weights[j] for j in rng.permutation(len(weights))[:3]]
    in_bits, in_int = b(4, 10), b(1, 3)
    layers = [{"type": "QActivation", "activation": f"quantized_bits({in_bits},{in_int},alpha=1)", "name": "inq"},
              # at most 7 channels into the batch norm: TensorFlow's CPU rsqrt is approximate on full
              # 8-float packets (rsqrt(1) = 0.99999988 there) and exact only on the scalar remainder, so
              # 8 or more channels would not keep po2_batch_norm's power-of-two scales
              {"type": "QDense", "units": b(4, 7), "kernel_quantizer": kq[0],
               "bias_quantizer": f"quantized_bits({b(4, 8)},{b(0, 2)},alpha=1)",
               "activation": f"quantized_relu({b(2, 8)},{b(0, 3)})", "name": "d1"},
              {"type": "QBatchNormalization", "epsilon": 1e-9, "name": "bn"},
              {"type": "QDense", "units": b(4, 12), "kernel_quantizer": kq[1], "name": "d2", "use_bias": False,
               "activation": "relu"},
              {"type": "QActivation", "activation":
               f"quantized_bits({b(3, 8)},{b(0, 3)},symmetric={b(0, 1)},keep_negative={bool(b(0, 1))},alpha=1)",
               "name": "a2"},
              {"type": "Dropout", "rate": 0.1, "name": "drop"},
              {"type": "QDense", "units": b(2, 6), "kernel_quantizer": kq[2],
               "bias_quantizer": f"quantized_bits({b(3, 8)},{b(0, 2)},alpha=1)", "name": "d3"}]
    return {"name": name, "input_shape": [b(3, 10)], "input_type": None, "f": 12, "tie_f": in_bits - 1 - in_int + 1,
            "layers": layers}


def cnn_spec(rng: np.random.Generator, name: str) -> dict:
    """Conv2D, folded batch norm, pooling, a branch with Add and Concatenate, Flatten, Reshape, Conv1D."""
    b = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    qb = lambda: f"quantized_bits({b(3, 6)},{b(0, 1)},alpha=1)"  # noqa: E731
    qr = lambda: f"quantized_relu({b(3, 6)},{b(0, 2)})"  # noqa: E731
    layers = [
        {"type": "QConv2D", "filters": b(2, 4), "kernel_size": 3, "padding": "same", "kernel_quantizer": qb(),
         "bias_quantizer": qb(), "name": "c1"},                                                   # 0
        {"type": "QBatchNormalization", "epsilon": 1e-9, "name": "bn"},                           # 1
        {"type": "QActivation", "activation": qr(), "name": "r1"},                                # 2
        {"type": "MaxPooling2D", "pool_size": 2, "name": "mp"},                                   # 3
        {"type": "QConv2DBatchnorm", "filters": 4, "kernel_size": 2, "padding": "same",
         "kernel_quantizer": qb(), "bias_quantizer": qb(), "activation": qr(), "name": "cbn"},    # 4
        {"type": "QConv2D", "filters": 4, "kernel_size": 1, "kernel_quantizer": qb(), "inputs": [3], "use_bias": False,
         "activation": qr(), "name": "c1x1"},                                                     # 5
        {"type": "Add", "inputs": [4, 5], "name": "add"},                                         # 6
        {"type": "QAveragePooling2D", "pool_size": 2, "activation": qr(), "name": "ap"},          # 7
        {"type": "Activation", "activation": "relu", "inputs": [6], "name": "relu_act"},          # 8
        {"type": "MaxPooling2D", "pool_size": 2, "name": "mp2"},                                  # 9
        {"type": "Concatenate", "inputs": [7, 9], "name": "cat"},                                 # 10
        {"type": "Flatten", "name": "flat"},                                                      # 11
        {"type": "Reshape", "target_shape": [8, -1], "name": "reshape"},                          # 12
        {"type": "QConv1D", "filters": 3, "kernel_size": 2, "kernel_quantizer": qb(), "bias_quantizer": qb(),
         "activation": qr(), "name": "c1d"},                                                      # 13
        {"type": "MaxPooling1D", "pool_size": 2, "name": "mp1d"},                                 # 14
        {"type": "Flatten", "name": "flat2"},                                                     # 15
        {"type": "QDense", "units": 3, "kernel_quantizer": qb(), "bias_quantizer": qb(), "name": "out"},
    ]
    f_in = b(2, 4)   # inputs times 4 must stay within the input type: QKeras does not clip them
    return {"name": name, "input_shape": [8, 8, 1], "input_type": f"ap_fixed<{6 + f_in},6>", "f": f_in,
            "tie_f": 1, "layers": layers}


#: (tanh, sigmoid) activation quantizers of the table corpus: hard and real functions, a few widths
TABLE_SETTINGS = [("quantized_tanh(4)", "quantized_sigmoid(4)", "binary(alpha=1)"),
                  ("quantized_tanh(6,symmetric=1,use_real_tanh=1)", "quantized_sigmoid(6,use_real_sigmoid=1)",
                   "ternary(alpha=0.5,threshold=0.25)"),
                  ("quantized_tanh(8,use_real_tanh=1)", "quantized_sigmoid(3,symmetric=1)", "quantized_po2(4)")]


def table_spec(rng: np.random.Generator, name: str, tanh: str, sigmoid: str, sign: str) -> dict:
    """quantized_tanh on a Dense accumulator, quantized_sigmoid, a hard swish and a binary, ternary
    or po2 on QActivations: each an exact table of QKeras's own float32 function over every code of its input."""
    b = lambda lo, hi: int(rng.integers(lo, hi + 1))  # noqa: E731
    qw = lambda: f"quantized_bits({b(3, 5)},0,alpha=1)"  # noqa: E731
    in_bits, in_int = b(5, 7), b(1, 2)
    layers = [{"type": "QActivation", "activation": f"quantized_bits({in_bits},{in_int},alpha=1)", "name": "inq"},
              {"type": "QDense", "units": b(4, 8), "kernel_quantizer": qw(), "bias_quantizer": qw(),
               "activation": tanh, "name": "d1"},
              {"type": "QDense", "units": b(4, 8), "kernel_quantizer": qw(), "bias_quantizer": qw(), "name": "d2"},
              {"type": "QActivation", "activation": sigmoid, "name": "sig"},
              {"type": "QDense", "units": 4, "kernel_quantizer": qw(), "bias_quantizer": qw(), "name": "d3"},
              {"type": "QActivation", "activation": "quantized_bits(6,2,alpha=1)", "name": "d3q"},
              {"type": "QActivation", "activation": "quantized_hswish(6,2)", "name": "hswish"},
              {"type": "QDense", "units": 4, "kernel_quantizer": qw(), "bias_quantizer": qw(), "name": "d4"},
              {"type": "QActivation", "activation": sign, "name": "sign"},
              {"type": "QDense", "units": 3, "kernel_quantizer": qw(), "bias_quantizer": qw(), "name": "out"}]
    return {"name": name, "input_shape": [b(4, 8)], "input_type": None, "f": 8,
            "tie_f": in_bits - 1 - in_int + 1, "layers": layers}


#: activation quantizers probed on float32 values of every magnitude: (QKeras string, our cast)
PROBES = [("quantized_bits(6,0,alpha=1)", (1, 0, 5, "SAT")), ("quantized_bits(8,2,1,alpha=1)", (1, 2, 5, "SAT_SYM")),
          ("quantized_bits(5,1,keep_negative=False,alpha=1)", (0, 1, 4, "SAT")),
          ("quantized_relu(6)", (0, 0, 6, "SAT")), ("quantized_relu(4,2)", (0, 2, 2, "SAT"))]


def probe_inputs(rng: np.random.Generator) -> np.ndarray:
    """float32 values of every magnitude from 2^-30 to 2^40, both signs, plus exact ties."""
    mag = np.ldexp(rng.uniform(1, 2, 20000), rng.integers(-30, 41, 20000))
    ties = (rng.integers(-200, 200, 4000) + 0.5) / 2.0 ** rng.integers(0, 8, 4000)
    x = np.concatenate([mag * rng.choice([-1, 1], mag.size), ties, [0.0, -0.0]])
    return x.astype(np.float32)


def run_corpus(specs: list[dict], folder: Path, n: int, seed: int) -> list[dict]:
    """Write the data, then build/train/save/predict every model in one legacy subprocess
    (which also applies the :data:`PROBES` quantizers to :func:`probe_inputs`)."""
    rng = np.random.default_rng(seed)
    for s in specs:
        s["seed"] = int(rng.integers(1 << 30))
        s["data"] = {}
        for key, x in data_sets(rng, tuple(s["input_shape"]), n, s["f"], s["tie_f"]).items():
            path = folder / f"{s['name']}.{key}.npy"
            np.save(path, x)
            s["data"][key] = str(path)
    job = folder / "job.json"
    np.save(folder / "probe.x.npy", probe_inputs(rng))
    probes = [{"quantizer": q, "x": str(folder / "probe.x.npy"), "out": str(folder / f"probe{j}.npy")}
              for j, (q, _) in enumerate(PROBES)]
    job.write_text(json.dumps({"folder": str(folder), "models": specs, "probes": probes}))
    done = subprocess.run([sys.executable, str(HERE / "qkeras_legacy_models.py"), str(job)], env=legacy_env(),
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    return specs


def compare(spec: dict, folder: Path, cxx: bool = False) -> dict:
    """Import one corpus model and count mismatches against QKeras on every data set."""
    desc = ModelDescription.load(folder / f"{spec['name']}.desc")
    model = build_from_description(desc, input_type=spec["input_type"], tables=_no_subprocess).model
    fw = hgq_fpga.to_firmware(model)
    counts = {}
    project = None
    if cxx:
        from hgq_fpga.backends.hls.writer import write_project
        project = write_project(fw, folder / f"{spec['name']}_hls")
        project.compile(macs="ap_fixed")
    for key, path in spec["data"].items():
        x = np.load(path)
        ref = np.load(folder / f"{spec['name']}.{key}.pred.npy").astype(np.float64)
        ours = np.asarray(model.predict(x, verbose=0), np.float64)
        emu = fw.predict(x)
        counts[key] = int((ours != ref).sum()) + int((emu != ref).sum())
        if project is not None:
            counts[key] += int((np.asarray(project.predict(x)) != ref).sum())
        assert ref.size > 0 and np.any(ref != 0), f"{spec['name']}/{key}: QKeras output is all zero"
    return counts


def shared_corpus(tmp_path_factory, tag: str, specs: list[dict], n: int, then=None) -> tuple[dict, Path]:
    """Build a corpus once per test run, also when pytest-xdist workers share the module;
    ``then(specs, folder)`` runs once after it is built."""
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if uid is None:
        folder = tmp_path_factory.mktemp(f"qkeras_{tag}")
        run_corpus(specs, folder, n, seed=1)
        if then is not None:
            then(specs, folder)
        return {s["name"]: s for s in specs}, folder
    folder = tmp_path_factory.getbasetemp().parent / f"qkeras_{tag}_{uid}"
    folder.mkdir(exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = folder / "specs.json"
        if not done.exists():
            run_corpus(specs, folder, n, seed=1)
            if then is not None:
                then(specs, folder)
            done.write_text(json.dumps(specs))
        specs = json.loads(done.read_text())
    return {s["name"]: s for s in specs}, folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(16)
    specs = [jet_spec()] + [mlp_spec(rng, f"mlp{j}") for j in range(3)] + [cnn_spec(rng, f"cnn{j}") for j in range(2)]
    return shared_corpus(tmp_path_factory, "default", specs, n=400)


@pytest.fixture(scope="module")
def table_corpus(tmp_path_factory):
    rng = np.random.default_rng(1616)
    specs = [table_spec(rng, f"table{j}", *s) for j, s in enumerate(TABLE_SETTINGS)]
    return shared_corpus(tmp_path_factory, "tables", specs, n=400, then=add_tables)


def add_tables(specs: list[dict], folder: Path) -> None:
    """Evaluate the tables every model of the corpus asks for, in one legacy subprocess, and store them."""
    descs = {s["name"]: ModelDescription.load(folder / f"{s['name']}.desc") for s in specs}
    requests = {n: missing_tables(d) for n, d in descs.items()}
    assert all(len(r) == 4 for r in requests.values()), requests
    merged = [{**r, "key": f"{n}:{r['key']}"} for n, rs in requests.items() for r in rs]
    tables = qkeras_tables(merged)
    for n, d in descs.items():
        store_tables(d, requests[n], {k.split(":", 1)[1]: v for k, v in tables.items() if k.startswith(n + ":")})
        d.save(folder / f"{n}.desc")


@pytest.mark.parametrize("name", [f"table{j}" for j in range(len(TABLE_SETTINGS))])
def test_tanh_sigmoid_tables_bit_exact_with_cxx(table_corpus, name):
    """QKeras's predict == import == emulator == C++ with tanh, sigmoid and hard-swish tables."""
    specs, folder = table_corpus
    assert compare(specs[name], folder, cxx=True) == {"train": 0, "x4": 0, "ties": 0}
    desc = ModelDescription.load(folder / f"{name}.desc")
    fw = hgq_fpga.to_firmware(build_from_description(desc, tables=_no_subprocess).model)
    kinds = [op.kind for op in fw.ops]
    assert kinds.count("table") == 4, kinds


def _no_subprocess(requests):
    raise AssertionError(f"tables {requests} should have been stored in the description")


def test_table_domain_too_large_is_refused(corpus):
    """A tanh on the jet model's first accumulator (16-bit inputs) would need millions of codes."""
    specs, folder = corpus
    desc = ModelDescription.load(folder / "jet.desc")
    desc.layer("relu1").quantizers["activation"] = {"class": "quantized_tanh", "config": {"bits": 4},
                                                    "text": "quantized_tanh(4)"}
    with pytest.raises(QKerasImportError, match=r"relu1.*quantized_tanh\(4\).*more than the 65,536.*"
                                                r"quantize the input of this activation"):
        build_from_description(desc, input_type="ap_fixed<16,6>", tables=_no_subprocess)
    desc.layer("relu1").quantizers["activation"] = {"class": "quantized_sigmoid", "config": {"bits": 0},
                                                    "text": "quantized_sigmoid(0)"}
    with pytest.raises(QKerasImportError, match=r"relu1.*bits=0"):
        build_from_description(desc, input_type="ap_fixed<16,6>", tables=_no_subprocess)


def test_jet_model_bit_exact_with_cxx(corpus):
    specs, folder = corpus
    assert compare(specs["jet"], folder, cxx=True) == {"train": 0, "x4": 0, "ties": 0}


@pytest.mark.parametrize("name", ["mlp0", "mlp1", "mlp2", "cnn0", "cnn1"])
def test_corpus_bit_exact(corpus, name):
    specs, folder = corpus
    assert compare(specs[name], folder) == {"train": 0, "x4": 0, "ties": 0}


def test_ties_really_happen(corpus):
    """The tie inputs put accumulators exactly halfway between two steps of relu6 (else the test is weak)."""
    specs, folder = corpus
    desc = ModelDescription.load(folder / "jet.desc")
    x = np.load(specs["jet"]["data"]["ties"]).astype(np.float64)
    w, bias = desc.arrays["fc1/kernel"].astype(np.float64), desc.arrays["fc1/bias"].astype(np.float64)
    acc = x @ w + bias
    assert np.mean((acc * 64) % 1 == 0.5) > 0.1


def test_refuses_inexact_and_unknown(corpus):
    specs, folder = corpus
    desc = ModelDescription.load(folder / "jet.desc")
    with pytest.raises(QKerasImportError, match="input_type"):
        build_from_description(desc)
    with pytest.raises(QKerasImportError, match="fc1.*float32.*significant bits"):
        build_from_description(desc, input_type="ap_fixed<24,8>")
    model = build_from_description(desc, input_type="ap_fixed<24,8>", allow_float={"fc1": "ap_fixed<18,8>"})
    assert model.inexact_layers == ["fc1"] and any("NOT QKeras-exact" in n for n in model.notes)
    relu = desc.layer("relu1")
    relu.quantizers["activation"] = {"class": "quantized_bits", "config": {"bits": 6, "alpha": "auto"},
                                     "text": "quantized_bits(6,0,alpha='auto')"}
    with pytest.raises(QKerasImportError, match="relu1.*alpha='auto'.*batch"):
        build_from_description(desc, input_type="ap_fixed<16,6>")
    relu.quantizers["activation"] = {"class": "quantized_ulaw", "config": {}, "text": "quantized_ulaw(8)"}
    with pytest.raises(QKerasImportError, match="relu1.*quantized_ulaw"):
        build_from_description(desc, input_type="ap_fixed<16,6>")
    relu.quantizers["activation"] = {"function": "softmax"}
    with pytest.raises(QKerasImportError, match="relu1.*softmax"):
        build_from_description(desc, input_type="ap_fixed<16,6>")
    desc.layer("fc2").quantizers.pop("kernel")
    with pytest.raises(QKerasImportError, match="fc2.*kernel_quantizer"):
        build_from_description(desc, input_type="ap_fixed<16,6>", allow_float={"relu1": "ap_ufixed<6,0>"})


def test_imported_model_saves_calibrates_and_keeps_types(corpus, tmp_path):
    import keras

    specs, folder = corpus
    spec = specs["jet"]
    model = build_from_description(ModelDescription.load(folder / "jet.desc"), spec["input_type"]).model
    x = np.load(spec["data"]["x4"])
    before = np.asarray(model.predict(x, verbose=0))
    hgq_fpga.calibrate(model, np.load(spec["data"]["train"]))      # must keep QKeras's types
    model.save(tmp_path / "jet.keras")
    loaded = keras.models.load_model(tmp_path / "jet.keras", compile=False)
    ref = np.load(folder / "jet.x4.pred.npy").astype(np.float64)
    assert int((np.asarray(loaded.predict(x, verbose=0), np.float64) != ref).sum()) == 0
    assert np.array_equal(before, np.asarray(model.predict(x, verbose=0)))


@pytest.mark.slow   # 2 min; the jet model's bit-exactness with C++ stays in the default suite
def test_cli_import_and_convert_from_qkeras(corpus, tmp_path):
    from click.testing import CliRunner

    from hgq_fpga.app.cli import main

    specs, folder = corpus
    spec = specs["jet"]
    h5, data = folder / "jet.h5", spec["data"]["ties"]
    out = tmp_path / "jet.keras"
    run = CliRunner().invoke(main, ["import-qkeras", str(h5), "--out", str(out), "--input-type",
                                    spec["input_type"], "--check", data])
    assert run.exit_code == 0, run.output
    assert "0 of 1,000 values differ" in run.output and out.is_file()
    run = CliRunner().invoke(main, ["import-qkeras", str(h5), "--out", str(out), "--input-type", spec["input_type"]])
    assert run.exit_code == 1 and "--force" in run.output
    run = CliRunner().invoke(main, ["convert", str(h5), "--from", "qkeras", "--input-type", spec["input_type"],
                                    "--calib", spec["data"]["x4"], "--out", str(tmp_path / "fw")])
    assert run.exit_code == 0, run.output
    assert "0 of 2,000 values differ" in run.output and "0 (Keras = emulator = C++" in run.output
    run = CliRunner().invoke(main, ["verify", str(tmp_path / "fw"), "--data", data])
    assert run.exit_code == 0 and "0 mismatches" in run.output, run.output


def test_float32_characterisation_of_activation_quantizers(corpus):
    """QKeras's float32 quantized_bits equals the ideal RND_CONV/SAT cast exactly for |x| <= 2^(24-f),
    and beyond that bound it does not (so the bound the importer enforces is needed); quantized_relu
    equals it for every float32 input. The casts are the ones the importer maps the strings to."""
    from hgq_fpga.fixed import quantize
    from hgq_fpga.nn.importers.qkeras.quantizers import activation_cast

    _, folder = corpus
    x = np.load(folder / "probe.x.npy").astype(np.float64)
    for j, (text, (k, i, f, ovf)) in enumerate(PROBES):
        name, args = text.split("(", 1)
        got = np.load(folder / f"probe{j}.npy").astype(np.float64)
        ideal = quantize(x, k, i, f, round="RND_CONV", overflow=ovf)
        spec = activation_cast("probe", {"class": name, "config": _config(name, args), "text": text})
        t = spec.type
        assert (t.k, t.i, t.f, t.round, t.overflow) == (k, i, f, "RND_CONV", ovf)
        if spec.float32_input_bound is None:
            assert int((got != ideal).sum()) == 0, text
        else:
            inside = np.abs(x) <= spec.float32_input_bound
            assert int((got[inside] != ideal[inside]).sum()) == 0, text
            assert int((got[~inside] != ideal[~inside]).sum()) > 0, text
        assert np.sum(np.abs(x * 2.0 ** f) % 1 == 0.5) > 200      # ties were probed


def _config(name: str, args: str) -> dict:
    """The get_config of a probe quantizer string (positional and keyword arguments)."""
    names = {"quantized_bits": ["bits", "integer", "symmetric"], "quantized_relu": ["bits", "integer"]}[name]
    config: dict = {}
    for n, part in enumerate(a.strip() for a in args.rstrip(")").split(",")):
        key, sep, value = part.partition("=")
        config[key if sep else names[n]] = ast.literal_eval(value if sep else key)
    return config


SLOW_NAMES = [f"mlp{j}" for j in range(12)] + [f"cnn{j}" for j in range(8)]


@pytest.fixture(scope="module")
def large_corpus(tmp_path_factory):
    rng = np.random.default_rng(2016)
    specs = [mlp_spec(rng, n) if n.startswith("mlp") else cnn_spec(rng, n) for n in SLOW_NAMES]
    return shared_corpus(tmp_path_factory, "large", specs, n=1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_NAMES)
def test_large_corpus_bit_exact_with_cxx(large_corpus, name):
    specs, folder = large_corpus
    assert compare(specs[name], folder, cxx=True) == {"train": 0, "x4": 0, "ties": 0}


def test_batch_norm_only_with_power_of_two_scales(corpus):
    specs, folder = corpus
    desc = ModelDescription.load(folder / "mlp0.desc")
    scale = desc.arrays["bn/bn_scale"]
    assert np.all(np.frexp(scale)[0] == 0.5)           # the corpus gave it power-of-two scales
    desc.arrays["bn/bn_scale"] = scale * np.float32(0.75)
    with pytest.raises(QKerasImportError, match="bn.*not a power of two") as err:
        build_from_description(desc)
    assert "np.float" not in str(err.value)                  # the scale as a plain number


def manual_block(after: str) -> str:
    """The first ```python block of the QKeras manual (docs/qkeras.md) after the text ``after``."""
    text = (HERE.parent / "docs" / "qkeras.md").read_text()
    start = text.index("```python\n", text.index(after)) + len("```python\n")
    return text[start:text.index("```", start)]


@pytest.mark.slow   # 40 s; uncalibrate() of imports itself is covered by the table and corpus tests
def test_qkeras_manual_retrain_recipe_runs(corpus, monkeypatch):
    """The manual's HGQ retrain recipe, run as written on the corpus's jet model: it starts from the
    imported widths, trains, calibrates and converts to a firmware that equals the Keras model."""
    import keras

    from hgq_fpga.nn.calibration import uncalibrate

    specs, folder = corpus
    spec = specs["jet"]
    x = np.load(spec["data"]["train"])
    imported = build_from_description(ModelDescription.load(folder / "jet.desc"), spec["input_type"]).model
    start = uncalibrate(imported)
    for name in ("fc1", "fc2", "output"):
        assert np.array_equal(start.get_layer(name).kq.f.numpy(), imported.get_layer(name).kq.fixed_types()[2])
        assert np.array_equal(start.get_layer(name).kernel.numpy(), imported.get_layer(name).kernel.numpy())
    y = np.argmax(np.load(folder / "jet.train.pred.npy"), axis=1)
    monkeypatch.chdir(folder)
    scope = {"x_train": x, "y_train": y}
    exec(manual_block("## Retraining an import with HGQ"), scope)
    model, fw = scope["model"], scope["fw"]
    from hgq_fpga.nn.layers import hgq_layers
    from hgq_fpga.nn.quantizers.fixed import FixedQuantizer

    assert not any(isinstance(q, FixedQuantizer) for layer in hgq_layers(model) for q in layer.quantizers())
    assert np.array_equal(fw.predict(x), np.asarray(model.predict(x, verbose=0), np.float64))
    assert hgq_fpga.ebops(model) != hgq_fpga.ebops(imported)
    assert isinstance(model, keras.Model)


def test_table_activation_saves_loads_and_converts(tmp_path):
    """A description with a quantized_tanh table (values given here, not by QKeras): the builder asks
    for exactly the input codes, and the model keeps its table through save/load and to_firmware."""
    import keras

    from hgq_fpga.nn.importers.qkeras.description import LayerDescription

    qb = {"class": "quantized_bits", "config": {"bits": 5, "integer": 1, "alpha": 1}, "text": "quantized_bits(5,1)"}
    qt = {"class": "quantized_tanh", "config": {"bits": 4}, "text": "quantized_tanh(4)"}
    desc = ModelDescription("tiny", [("x", (3,))], [("t", 0)],
                            [LayerDescription("x", "InputLayer", []),
                             LayerDescription("q", "QActivation", [("x", 0)], quantizers={"activation": qb}),
                             LayerDescription("t", "QActivation", [("q", 0)], quantizers={"activation": qt})], {})
    asked = []

    def tables(requests):
        asked.extend(requests)
        f, lo, hi = requests[0]["domain"]
        x = np.arange(lo, hi + 1) / 2.0 ** f
        return {"t": (np.round(np.tanh(x) * 8) / 8).clip(-1, 0.875).astype(np.float32)}

    model = build_from_description(desc, tables=tables).model
    assert [r["domain"] for r in asked] == [[3, -16, 15]]          # ap_fixed<5,2>: codes -16..15 of 2^-3
    x = np.random.default_rng(0).uniform(-3, 3, (200, 3)).astype(np.float32)
    y = np.asarray(model.predict(x, verbose=0), np.float64)
    ideal = np.clip(np.round(np.tanh(np.clip(np.round(x * 8), -16, 15) / 8) * 8) / 8, -1, 0.875)
    assert int((y != ideal).sum()) == 0
    fw = hgq_fpga.to_firmware(model)
    assert int((fw.predict(x) != y).sum()) == 0 and [op.kind for op in fw.ops].count("table") == 1
    model.save(tmp_path / "tiny.keras")
    loaded = keras.models.load_model(tmp_path / "tiny.keras", compile=False)
    assert int((np.asarray(loaded.predict(x, verbose=0), np.float64) != y).sum()) == 0
    assert build_from_description(desc, tables=_no_subprocess).model is not None   # stored in desc

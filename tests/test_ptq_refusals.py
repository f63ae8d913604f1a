"""Post-training quantization: every argument is checked up front and a bad one is refused in one
line naming it (the Python argument, or the flag of ``convert --from float``); the model is built
in float32 whatever Keras's global dtype policy, and stays bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

import keras

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

from hgq_fpga.nn.ptq import UnmappableLayerError, quantize_float, quantize_float_budgets  # noqa: E402

L = keras.layers


def small(activation: str = "relu", seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), L.Dense(6, activation=activation, name="hidden"),
                             L.Dense(3, name="out")], name="small")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(8)
    return rng.normal(size=(96, 8)).astype(np.float32), rng.integers(0, 3, 96)


def refused(call, kind=ValueError) -> str:
    with pytest.raises(kind) as err:
        call()
    text = str(err.value)
    assert "\n" not in text and len(text) < 300, text
    return text


# ------------------------------------------------------------------------------- dtype policy

@pytest.fixture
def policy(request):
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(request.param)
    yield request.param
    keras.config.set_dtype_policy(before)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
def test_mixed_precision_policy_builds_float32_and_stays_exact(policy, data):
    from hgq_fpga.nn.freeze import to_firmware

    x, _ = data
    model = small("tanh")                            # the float model itself computes in 16 bits
    result = quantize_float(model, x, 6, 6)
    assert keras.config.dtype_policy().name == policy
    assert {layer.dtype_policy.name for layer in result.model.layers} == {"float32"}
    fw = to_firmware(result.model)
    for xs in (x, 4 * x):
        assert int((np.asarray(result.model.predict(xs, verbose=0), np.float64) != fw.predict(xs)).sum()) == 0


# ------------------------------------------------------------------------------- arguments

BAD = [  # (keyword arguments, the argument the refusal names, what else it says)
    ({"weight_bits": 1}, "weight_bits=1", "2 to 24"),
    ({"act_bits": 40}, "act_bits=40", "2 to 32"),
    ({"granularity": "per_layer"}, "granularity='per_layer'", "per_channel"),
    ({"search": "kl"}, "search='kl'", "easyquant"),
    ({"clip_steps": 2.5}, "clip_steps=2.5", "whole number"),
    ({"rounds": 0}, "rounds=0", "at least 1"),
    ({"drop_softmax": "no"}, "drop_softmax='no'", "True or False"),
    ({"ebops_budget": -5}, "ebops_budget=-5", "at least 1"),
    ({"ebops_budget": float("nan")}, "ebops_budget=nan", "at least 1"),
    ({"ebops_budget": True}, "ebops_budget=True", "number"),
    ({"ebops_budget": "1000"}, "ebops_budget='1000'", "number"),
    ({"ebops_budget": 100, "min_bits": 0}, "min_bits=0", "at least 1"),
    ({"ebops_budget": 100, "min_bits": 9}, "min_bits=9", "no width"),
    ({"ebops_budget": 100, "mixed_samples": 0.5}, "mixed_samples=0.5", "whole number"),
    ({"max_accuracy_loss": -1, "x_val": "X", "y_val": "Y"}, "max_accuracy_loss=-1", "from 0 to 1"),
    ({"max_accuracy_loss": float("nan"), "x_val": "X", "y_val": "Y"}, "max_accuracy_loss=nan", "from 0 to 1"),
    ({"max_accuracy_loss": 0.1, "x_val": "X", "y_val": "Y", "metric": "acc"}, "metric='acc'", "callable"),
    ({"max_accuracy_loss": 0.1, "x_val": "X", "y_val": "onehot"}, "y_val", "y_val.argmax(axis=1)"),
    ({"max_accuracy_loss": 0.1, "x_val": "X", "y_val": "short"}, "y_val", "50 labels for 96 samples"),
    ({"max_accuracy_loss": 0.1, "x_val": "X", "y_val": "half"}, "y_val", "integer class labels"),
    ({"max_accuracy_loss": 0.1, "x_val": "X", "y_val": "class 3"}, "y_val", "0 to 2"),
    ({"max_accuracy_loss": 0.1, "x_val": "narrow", "y_val": "Y"}, "x_val", "(samples, 8)"),
    ({"x_val": "X", "y_val": "Y"}, "x_val", "max_accuracy_loss"),
]


@pytest.mark.parametrize("kwargs, name, says", BAD, ids=[b[1] for b in BAD])
def test_bad_argument_is_refused_naming_it(data, kwargs, name, says):
    x, y = data
    values = {"X": x, "Y": y, "onehot": np.eye(3)[y], "short": y[:50], "half": y + 0.5, "class 3": y + 1,
              "narrow": x[:, :4]}
    kwargs = {k: values.get(v, v) if isinstance(v, str) and k in ("x_val", "y_val") else v
              for k, v in kwargs.items()}
    text = refused(lambda: quantize_float(small(), x, **{"weight_bits": 6, "act_bits": 6, **kwargs}))
    assert text.startswith(name) and says in text, text


def test_calibration_data_and_model_are_checked(data):
    x, _ = data
    model = small()
    assert refused(lambda: quantize_float("model.keras", x), TypeError).startswith("model: ")
    assert "keras.models.load_model" in refused(lambda: quantize_float("model.keras", x), TypeError)
    assert "a Dense" in refused(lambda: quantize_float(L.Dense(3), x), TypeError)
    assert "complex" in refused(lambda: quantize_float(model, x.astype(np.complex64)))
    assert "text" in refused(lambda: quantize_float(model, "data.npy"))
    assert "Input" in refused(lambda: quantize_float(keras.Sequential([L.Dense(3)]), x))
    assert refused(lambda: quantize_float_budgets(model, x, [100, -1])).startswith("budgets=[100, -1]")
    assert refused(lambda: quantize_float_budgets(model, x, [])).startswith("budgets=[]")


def test_fractional_budget_is_the_whole_budget_below_it(data):
    x, _ = data
    model = small()
    budget = quantize_float(model, x, 6, 6).ebops * 0.6
    r = quantize_float(model, x, 6, 6, ebops_budget=budget)
    assert r.ebops <= budget and r.ebops == quantize_float(model, x, 6, 6, ebops_budget=int(budget)).ebops


def test_reused_layer_is_named(data):
    x, _ = data
    shared = L.Dense(8, name="shared")
    inp = keras.Input((8,))
    model = keras.Model(inp, L.Dense(3)(shared(shared(inp))))
    text = refused(lambda: quantize_float(model, x), UnmappableLayerError)
    assert "layer 'shared' is called 2 times" in text


def test_variable_length_input_is_refused_naming_it(data):
    x, _ = data
    inp = keras.Input((None, 8), name="seq")
    text = refused(lambda: quantize_float(keras.Model(inp, L.Dense(3)(inp)), x[:, None, :]), UnmappableLayerError)
    assert "model input 'seq' has shape (None, 8)" in text and "fixed shapes" in text


def test_table_activation_wider_than_a_table_is_refused_up_front(data):
    x, _ = data
    text = refused(lambda: quantize_float(small("tanh"), x, 8, 22))
    assert text.startswith("act_bits=22") and "'hidden'" in text and "act_bits <= 20" in text
    assert quantize_float(small("relu"), x, 8, 22).model is not None     # no table: any width


def test_cli_names_the_flags(tmp_path, data):
    from click.testing import CliRunner

    from hgq_fpga.app.cli import main

    x, _ = data
    small("tanh").save(tmp_path / "float.keras")
    np.save(tmp_path / "calib.npy", x)
    run = lambda *a: CliRunner().invoke(main, [str(v) for v in a])  # noqa: E731
    base = ("convert", tmp_path / "float.keras", "--from", "float", "--calib", tmp_path / "calib.npy",
            "--out", tmp_path / "design")
    for flags, needle in [(("--act-bits", "22"), "--act-bits 22: layer 'hidden'"),
                          (("--bits", "22"), "--bits 22: layer 'hidden'"),
                          (("--bits", "30"), "--bits 30: must be"),
                          (("--weight-bits", "0"), "--weight-bits 0: must be"),    # was taken as --bits
                          (("--act-bits", "0"), "--act-bits 0: must be"),
                          (("--ebops-budget", "0"), "--ebops-budget 0: must be at least 1")]:
        result = run(*base, *flags)
        lines = [l for l in result.output.splitlines() if l.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith(f"Error: {needle}"), result.output
        assert "_bits" not in lines[0] and "ebops_budget" not in lines[0]
    assert not (tmp_path / "design").exists()


def test_held_out_split_of_a_two_input_model(data):
    """x_val is a list, one array per input, as x_calib (before: the two arrays were stacked into one)."""
    from hgq_fpga.nn.freeze import to_firmware

    x, y = data
    keras.utils.set_random_seed(2)
    a, b = keras.Input((8,), name="a"), keras.Input((8,), name="b")
    model = keras.Model([a, b], L.Dense(3)(L.Concatenate()([L.Dense(4)(a), L.Dense(4)(b)])))
    xs = [x, x[::-1].copy()]
    r = quantize_float(model, xs, 3, 3, max_accuracy_loss=0.0, x_val=xs, y_val=y)
    fw = to_firmware(r.model)
    ours = np.asarray(r.model.predict(xs, verbose=0), np.float64)
    assert int((fw.predict(xs) != ours).sum()) == 0
    assert r.ebops > 0

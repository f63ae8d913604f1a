"""Run inside the alkaid 0.8.2 virtual environment (no hgq_fpga there): rebuild a firmware IR that
``bench/contenders/alkaid_rtl.py`` exported (``program.json`` + ``arrays.npz``: the same per-element
input types, integer weights, biases and casts) with alkaid's tracing API, write alkaid's Verilog, and
evaluate alkaid's own interpreter on the exported test inputs, so that the bench can check that both
designs compute the same function before it compares their LUTs.

    /work/venvs/alkaid/bin/python bench/contenders/alkaid_emit.py EXPORT_DIR OUT_DIR STAGES

Every op kind of :data:`KINDS` is rebuilt with the exact arithmetic of alkaid's ``FVArray``: dense
layers and constant contractions (``einsum_dense``) as constant matrix-vector products, products
of two activations (``einsum``) as alkaid's variable products, sums and maxima over axes,
transposes and reshapes, broadcasting adds and subtractions, ReLU, casts (``quantize``: TRN / RND,
WRAP / SAT / SAT_SYM), average pooling (window sums times the IR's constant, then its cast) and
tables (the IR's own entries over the codes alkaid knows an element takes, looked up with alkaid's
``lookup``). Anything else (convolutions, max pooling, concatenation, other rounding or overflow
modes) is refused with an error naming the op: never approximated. Several inputs / outputs are
flattened side by side into alkaid's one input / output vector.

``STAGES``: alkaid's pipeline stages between its input and output registers (``n_stages``), chosen
by the bench so that alkaid's latency in clock cycles equals ours (matched pipelines); 0 for a
purely combinational design. alkaid's defaults stay on (1-bit LUT packing, ternary adders).

Writes ``OUT_DIR/meta.json``: the Verilog sources, the top module, the latency in clock cycles
and the path of the outputs of alkaid's interpreter (``alkaid_outputs.npy``).
"""

import json
import sys
from pathlib import Path

import numpy as np
from alkaid.codegen import RTLModel
from alkaid.trace import FVArray, FVArrayInput, trace

#: the IR's rounding / overflow modes that alkaid's quantize offers
ROUND = {"TRN": "TRN", "RND": "RND"}
OVERFLOW = {"WRAP": "WRAP", "SAT": "SAT", "SAT_SYM": "SAT_SYM"}


def _modes(op: dict) -> dict:
    if op["round"] not in ROUND or op["overflow"] not in OVERFLOW:
        raise SystemExit(f"alkaid has no {op['round']}/{op['overflow']} cast (op {op['name']})")
    return {"round_mode": ROUND[op["round"]], "overflow_mode": OVERFLOW[op["overflow"]]}


def _value(arrays, name: str, field: str) -> np.ndarray:
    """The exact values ``raw·2^-f`` of an exported constant (float64 holds these codes exactly)."""
    return np.ldexp(arrays[f"{name}.{field}_raw"].astype(np.float64), -arrays[f"{name}.{field}_f"])


def _broadcast_einsum(equation: str, a, b):
    """``einsum(equation, a, b)`` with each operand's size-1 axes stretched to the other's size of
    the same letter (the IR's rule; alkaid's einsum wants equal sizes)."""
    letters = equation.split("->")[0].split(",")
    size: dict[str, int] = {}
    for names, t in zip(letters, (a, b)):
        for letter, n in zip(names, np.shape(t)):
            size[letter] = max(size.get(letter, 1), n)
    a, b = (np.broadcast_to(t, tuple(size[c] for c in names)) for names, t in zip(letters, (a, b)))
    return np.einsum(equation, a, b)


def _dense(op, xs, arrays):
    return xs[0] @ _value(arrays, op["name"], "w") + _value(arrays, op["name"], "b")


def _einsum_dense(op, xs, arrays):
    return _broadcast_einsum(op["equation"], xs[0], _value(arrays, op["name"], "w")) + _value(arrays, op["name"], "b")


def _einsum(op, xs, arrays):
    return _broadcast_einsum(op["equation"], xs[0], xs[1])


def _add(op, xs, arrays):
    y = xs[0]
    for x in xs[1:]:
        y = y + x
    return y


def _reduce(combine):
    def run(op, xs, arrays):
        y = combine(xs[0], axis=tuple(op["axes"]), keepdims=op["keepdims"])
        return y if isinstance(y, FVArray) else FVArray(np.array([y]).reshape(()), xs[0].solver_options)
    return run


def _avgpool(op, xs, arrays):
    """Window sums (padding excluded), times the per-output constant, cast: the IR's three steps."""
    flat, window = xs[0].ravel(), arrays[f"{op['name']}.window"]
    c = _value(arrays, op["name"], "c").reshape(-1)
    p, _, channels = window.shape
    sums = [np.sum(flat[[j for j in window[q, :, ch] if j >= 0]]) for q in range(p) for ch in range(channels)]
    products = FVArray(np.array([s * float(k) for s, k in zip(sums, c)], dtype=object).reshape(op["shape"]),
                       xs[0].solver_options, hwconf=xs[0].hwconf)
    a = lambda field: arrays[f"{op['name']}.{field}"]  # noqa: E731
    return products.quantize(a("k"), a("i"), a("f"), **_modes(op))


def _table(op, xs, arrays):
    """Every element looks its own table up over the values alkaid knows it can take (a subset of
    its IR input type's codes, on the same grid): alkaid's lookup on exactly the IR's entries."""
    a = lambda field: arrays[f"{op['name']}.{field}"]  # noqa: E731
    tid, values = a("table_id").ravel(), a("values")
    base, lo, size = (a(field)[tid] for field in ("start", "lo", "size"))
    fin, fout = a("in_f").ravel(), a("f").ravel()
    out = []
    for e, v in enumerate(np.asarray(xs[0]).ravel()):
        low, high, step = (float(np.ldexp(t, int(fin[e]))) for t in v.qint)     # in codes of the IR type
        stride = step if high > low else 1.0
        codes = np.arange(low, high + stride / 2, stride)
        if (not all(c == round(c) for c in (low, high, stride)) or codes[-1] != high
                or low < lo[e] or high > lo[e] + size[e] - 1):
            raise SystemExit(f"alkaid's range of element {e} of {op['inputs'][0]} is off the IR table "
                             f"of op {op['name']}: refused")
        entries = np.ldexp(values[base[e] + codes.astype(np.int64) - lo[e]].astype(np.float64), -int(fout[e]))
        out.append(v.lookup(entries))
    return FVArray(np.array(out, dtype=object).reshape(op["shape"]), xs[0].solver_options, hwconf=xs[0].hwconf)


def _cast(op, xs, arrays):
    a = lambda field: arrays[f"{op['name']}.{field}"]  # noqa: E731
    return xs[0].quantize(a("k"), a("i"), a("f"), **_modes(op))


#: the IR kinds alkaid rebuilds exactly, each from (op entry, input arrays, exported arrays)
KINDS = {
    "dense": _dense, "einsum_dense": _einsum_dense, "einsum": _einsum, "cast": _cast,
    "relu": lambda op, xs, arrays: xs[0].relu(),
    "reshape": lambda op, xs, arrays: xs[0].reshape(*op["shape"]),
    "transpose": lambda op, xs, arrays: xs[0].transpose(*op["perm"]),
    "add": _add, "subtract": lambda op, xs, arrays: xs[0] - xs[1],
    "sum": _reduce(np.sum), "max": _reduce(np.max), "avgpool": _avgpool, "table": _table,
}


def build(program: dict, arrays) -> tuple[list, list]:
    """The traced inputs and outputs of the exported program."""
    inputs, env = [], {}
    for spec in program["inputs"]:
        inp = FVArrayInput(tuple(spec["shape"]))
        inputs.append(inp)
        # the input port carries codes of exactly the IR input type (quantized upstream)
        env[spec["name"]] = inp.quantize(*(arrays[f"{spec['name']}.{field}"] for field in "kif"))
    for op in program["ops"]:
        if op["kind"] not in KINDS:
            raise SystemExit(f"no alkaid translation for op kind {op['kind']!r} ({op['name']})")
        y = KINDS[op["kind"]](op, [env[x] for x in op["inputs"]], arrays)
        if tuple(y.shape) != tuple(op["shape"]):
            raise SystemExit(f"alkaid's {op['kind']} gave shape {y.shape}, the IR's op {op['name']} {op['shape']}")
        env[op["name"]] = y
    return inputs, [env[name] for name in program["outputs"]]


def _flat(arrays: list) -> list:
    """The variables of several arrays, flattened and side by side (one port vector)."""
    return [v for a in arrays for v in np.asarray(a).ravel()]


def main() -> int:
    export, out, stages = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    program = json.loads((export / "program.json").read_text())
    arrays = np.load(export / "arrays.npz")
    inputs, outputs = build(program, arrays)
    comb = trace(_flat(inputs), _flat(outputs))
    x = arrays["test_inputs"]
    predicted = out.parent / f"{out.name}_outputs.npy"
    np.save(predicted, np.asarray(comb.predict(x.reshape(len(x), -1))))
    model = RTLModel(comb, out, prj_name="alkaid_net", n_stages=stages if stages > 0 else -1)
    model.write()
    latency = model.latency
    # the wrapper is for alkaid's own simulation; everything else in src/ is the design
    srcs = sorted(str(p) for p in (out / "src").rglob("*.v") if not p.name.endswith("_wrapper.v"))
    (out / "meta.json").write_text(json.dumps({
        "sources": srcs, "top": "alkaid_net", "n_stages": stages,
        "latency_cycles": int(latency) if latency is not None else 0, "outputs": str(predicted)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

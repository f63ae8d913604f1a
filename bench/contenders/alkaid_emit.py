"""Run inside the alkaid 0.8.2 virtual environment (no hgq_fpga there): rebuild a firmware IR that
``bench/contenders/alkaid_rtl.py`` exported (``program.json`` + ``arrays.npz``: the same per-element
input types, integer weights, biases, casts and ReLUs) with alkaid's tracing API, write alkaid's
Verilog, and evaluate alkaid's own interpreter on the exported test inputs, so that the bench can
check that both designs compute the same function before it compares their LUTs.

    /work/venvs/alkaid/bin/python bench/contenders/alkaid_emit.py EXPORT_DIR OUT_DIR STAGES

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
from alkaid.trace import FVArrayInput, trace

#: the IR's rounding / overflow modes that alkaid's quantize offers
ROUND = {"TRN": "TRN", "RND": "RND"}
OVERFLOW = {"WRAP": "WRAP", "SAT": "SAT", "SAT_SYM": "SAT_SYM"}


def _modes(op: dict) -> dict:
    if op["round"] not in ROUND or op["overflow"] not in OVERFLOW:
        raise SystemExit(f"alkaid has no {op['round']}/{op['overflow']} cast (op {op['name']})")
    return {"round_mode": ROUND[op["round"]], "overflow_mode": OVERFLOW[op["overflow"]]}


def build(program: dict, arrays) -> tuple:
    """The traced input and output of the exported program."""
    (spec,) = program["inputs"]
    inp = FVArrayInput(tuple(spec["shape"]))
    # the input port carries codes of exactly the IR input type (quantized upstream)
    env = {spec["name"]: inp.quantize(arrays[f"{spec['name']}.k"], arrays[f"{spec['name']}.i"],
                                      arrays[f"{spec['name']}.f"])}
    for op in program["ops"]:
        x = env[op["inputs"][0]]
        a = lambda field: arrays[f"{op['name']}.{field}"]  # noqa: E731
        if op["kind"] == "dense":
            w = np.ldexp(a("w_raw").astype(np.float64), -a("w_f"))
            b = np.ldexp(a("b_raw").astype(np.float64), -a("b_f"))
            y = x @ w + b
        elif op["kind"] == "cast":
            y = x.quantize(a("k"), a("i"), a("f"), **_modes(op))
        elif op["kind"] == "relu":
            y = x.relu()
        elif op["kind"] == "reshape":
            y = x.reshape(*op["shape"])
        else:
            raise SystemExit(f"no alkaid translation for op kind {op['kind']!r} ({op['name']})")
        env[op["name"]] = y
    (out,) = program["outputs"]
    return inp, env[out]


def main() -> int:
    export, out, stages = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    program = json.loads((export / "program.json").read_text())
    arrays = np.load(export / "arrays.npz")
    inp, y = build(program, arrays)
    comb = trace(inp, y)
    x = arrays["test_inputs"]
    outputs = out.parent / f"{out.name}_outputs.npy"
    np.save(outputs, np.asarray(comb.predict(x.reshape(len(x), -1))))
    model = RTLModel(comb, out, prj_name="alkaid_net", n_stages=stages if stages > 0 else -1)
    model.write()
    latency = model.latency
    # the wrapper is for alkaid's own simulation; everything else in src/ is the design
    srcs = sorted(str(p) for p in (out / "src").rglob("*.v") if not p.name.endswith("_wrapper.v"))
    (out / "meta.json").write_text(json.dumps({
        "sources": srcs, "top": "alkaid_net", "n_stages": stages,
        "latency_cycles": int(latency) if latency is not None else 0, "outputs": str(outputs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run inside the da4ml 0.6.0 virtual environment (no hgq_fpga there): rebuild a firmware IR that
``bench/contenders/da4ml_rtl.py`` exported (``program.json`` + ``arrays.npz``: the same per-element input
types, integer weights, biases, casts and ReLUs) with da4ml's tracing API, write da4ml's Verilog,
and evaluate da4ml's own interpreter on the exported test inputs, so that the bench can check that
both designs compute the same function before it compares their LUTs.

    /work/venvs/da4ml/bin/python bench/contenders/da4ml_emit.py EXPORT_DIR OUT_DIR [latency_cutoff]

Writes ``OUT_DIR/meta.json``: the Verilog sources, the top module, the latency in clock cycles
(input register, one register per pipeline stage, output register) and the path of the outputs
of da4ml's interpreter (``da4ml_outputs.npy``).
"""

import json
import sys
from pathlib import Path

import numpy as np
from da4ml.codegen import VerilogModel
from da4ml.trace import FixedVariableArrayInput, comb_trace

#: the IR's rounding / overflow modes that da4ml's quantize offers
ROUND = {"TRN": "TRN", "RND": "RND"}
OVERFLOW = {"WRAP": "WRAP", "SAT": "SAT", "SAT_SYM": "SAT_SYM"}


def _modes(op: dict) -> dict:
    if op["round"] not in ROUND or op["overflow"] not in OVERFLOW:
        raise SystemExit(f"da4ml has no {op['round']}/{op['overflow']} cast (op {op['name']})")
    return {"round_mode": ROUND[op["round"]], "overflow_mode": OVERFLOW[op["overflow"]]}


def build(program: dict, arrays) -> tuple:
    """The traced input and outputs of the exported program."""
    (spec,) = program["inputs"]
    inp = FixedVariableArrayInput(tuple(spec["shape"]))
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
            raise SystemExit(f"no da4ml translation for op kind {op['kind']!r} ({op['name']})")
        env[op["name"]] = y
    (out,) = program["outputs"]
    return inp, env[out]


def main() -> int:
    export, out = Path(sys.argv[1]), Path(sys.argv[2])
    cutoff = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    program = json.loads((export / "program.json").read_text())
    arrays = np.load(export / "arrays.npz")
    inp, y = build(program, arrays)
    comb = comb_trace(inp, y)
    x = arrays["test_inputs"]
    np.save(out.parent / f"{out.name}_outputs.npy", np.asarray(comb.predict(x.reshape(len(x), -1))))
    model = VerilogModel(comb, "da4ml_net", out, latency_cutoff=cutoff)
    model.write()
    stages = len(model._pipe.solutions) if model._pipe is not None else 0
    # the wrapper is for da4ml's own simulation; the ROM module needs memory files this MLP has none of
    srcs = sorted(str(p) for p in (out / "src").rglob("*.v")
                  if not p.name.endswith("_wrapper.v") and p.name != "lookup_table.v")
    (out / "meta.json").write_text(json.dumps({
        "sources": srcs, "top": "da4ml_net", "pipeline_stages": stages,
        "latency_cycles": stages + 1 if stages else 0, "latency_cutoff": cutoff,
        "outputs": str(out.parent / f"{out.name}_outputs.npy")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

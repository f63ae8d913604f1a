"""Run inside the da4ml 0.6.0 virtual environment: write da4ml's Verilog for the MLP whose
integer weights ``bench/bench_rtl.py`` saved (same input types, weights, biases and activation
casts as our IR), and ``meta.json`` with the sources, top module and latency.

    /work/venvs/da4ml/bin/python bench/da4ml_emit.py weights.npz out_dir [latency_cutoff]
"""

import json
import sys
from pathlib import Path

import numpy as np
from da4ml.codegen import VerilogModel
from da4ml.trace import FixedVariableArrayInput, comb_trace


def main() -> int:
    data = np.load(sys.argv[1])
    out = Path(sys.argv[2])
    cutoff = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    n = len([k for k in data.files if k.startswith("w")])
    n_in = data["w0"].shape[0]
    inp = FixedVariableArrayInput((n_in,))
    h = inp.quantize(1, 2, 5)                                  # the IR input type (k, i, f)
    for layer in range(n):
        w = data[f"w{layer}"].astype(np.float64) * 2.0 ** -3   # w_f = 3
        b = data[f"b{layer}"].astype(np.float64) * 2.0 ** -2   # b_f = 2
        h = h @ w + b
        if layer < n - 1:
            h = h.quantize(1, 3, 4, overflow_mode="SAT", round_mode="RND").relu()
    comb = comb_trace(inp, h)
    model = VerilogModel(comb, "da4ml_net", out, latency_cutoff=cutoff)
    model.write()
    # the wrapper is for da4ml's own simulation; the ROM module needs memory files this MLP has none of
    srcs = sorted(str(p) for p in (out / "src").rglob("*.v")
                  if not p.name.endswith("_wrapper.v") and p.name != "lookup_table.v")
    lat = None
    meta_path = out / "metadata.json"
    if meta_path.is_file():
        lat = json.loads(meta_path.read_text()).get("latency")
    (out / "meta.json").write_text(json.dumps({"sources": srcs, "top": "da4ml_net", "latency_cycles": lat}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

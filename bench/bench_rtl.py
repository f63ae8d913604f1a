"""RTL backend benchmark (not run in CI): Yosys LUTs/FFs/CARRY, latency and timings of our
Verilog, with and without product sharing, and against da4ml 0.6.0 on the same integer weights.

    python bench/bench_rtl.py [--out build/bench_rtl] [--da4ml-python /work/venvs/da4ml/bin/python]

da4ml is installed in a separate virtual environment (``pip install da4ml==0.6.0``); its Verilog
is written there by ``bench/da4ml_emit.py`` from the same integer weights and input types, and
synthesised here by the same Yosys with the same ``synth_xilinx`` options.  Writes
``results.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hgq_fpga.backends.rtl import write_project
from hgq_fpga.backends.rtl.synth_report import parse_yosys_stat
from hgq_fpga.ir import FirmwareBuilder

ROOT = Path(__file__).resolve().parents[1]
YOSYS_SCRIPT = ("read_verilog {src}; synth_xilinx -family xcup -top {top} -flatten -nodsp -noiopad "
                "-noclkbuf; tee -q -o {out} stat -json")


#: our option sets compared
VARIANTS = {"ours_plain": {"cse": False}, "ours_cse": {}, "ours_share": {"cse": False, "share_products": True}}


def mlp(sizes: tuple[int, ...], seed: int = 0, w_bits: int = 5, pruned: float = 0.3):
    """An HGQ-like MLP: 8-bit inputs, ``w_bits``-bit weights (some pruned), RND/SAT 8-bit
    activations after every hidden ReLU.  Returns the IR and the per-layer integer weights."""
    rng = np.random.default_rng(seed)
    b = FirmwareBuilder()
    h = b.input("x", (sizes[0],), k=1, i=2, f=5)
    layers = []
    for n, (a, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.integers(-(1 << (w_bits - 1)) + 1, 1 << (w_bits - 1), (a, o))
        w[rng.random((a, o)) < pruned] = 0
        bias = rng.integers(-8, 8, o)
        layers.append({"w": w, "w_f": 3, "b": bias, "b_f": 2})
        h = b.dense(h, w, 3, bias, 2)
        if n < len(sizes) - 2:
            h = b.relu(b.cast(h, 1, 3, 4, "RND", "SAT"))
    return b.build([h]), layers


def yosys_stat(src: Path, top: str, out: Path) -> tuple[dict, float]:
    t = time.perf_counter()
    subprocess.run(["yosys", "-q", "-p", YOSYS_SCRIPT.format(src=src, top=top, out=out)], check=True)
    return parse_yosys_stat(out), time.perf_counter() - t


def ours(fw, out: Path, **options) -> dict:
    t = time.perf_counter()
    prj = write_project(fw, out, replace=True, **options)
    t_write = time.perf_counter() - t
    t = time.perf_counter()
    prj.compile()
    t_compile = time.perf_counter() - t
    x = np.random.default_rng(1).normal(0, 2, (2000, fw.inputs[0].shape[0]))
    mismatches = int(np.sum(prj.predict(x) != fw.predict(x)))
    counts, t_syn = yosys_stat(prj.path / "src" / "hgq_net.v", "hgq_net", out / "stat.json")
    return {"resources": counts, "latency_cycles": prj.latency, "mismatches": mismatches,
            "write_s": t_write, "verilator_s": t_compile, "yosys_s": t_syn}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="build/bench_rtl")
    ap.add_argument("--da4ml-python", default="/work/venvs/da4ml/bin/python")
    ap.add_argument("--models", default="small,jet")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    zoo = {"small": (16, 16, 5), "jet": (16, 64, 32, 32, 5)}
    results = {}
    for name in args.models.split(","):
        fw, layers = mlp(zoo[name])
        row = {"sizes": zoo[name]}
        for variant in args.variants.split(","):
            row[variant] = ours(fw, out / f"{name}_{variant}", **VARIANTS[variant])
        da = Path(args.da4ml_python)
        if da.is_file():
            np.savez(out / f"{name}_weights.npz", **{f"w{n}": l["w"] for n, l in enumerate(layers)},
                     **{f"b{n}": l["b"] for n, l in enumerate(layers)})
            vdir = out / f"{name}_da4ml"
            t = time.perf_counter()
            subprocess.run([str(da), str(ROOT / "bench" / "da4ml_emit.py"), str(out / f"{name}_weights.npz"),
                            str(vdir)], check=True)
            t_emit = time.perf_counter() - t
            meta = json.loads((vdir / "meta.json").read_text())
            counts, t_syn = yosys_stat(" ".join(meta["sources"]), meta["top"], vdir / "stat.json")
            row["da4ml"] = {"resources": counts, "latency_cycles": meta.get("latency_cycles"),
                            "emit_s": t_emit, "yosys_s": t_syn}
        results[name] = row
        print(json.dumps({name: row}, indent=1), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

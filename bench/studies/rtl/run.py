"""RTL backend study (not run in CI): Yosys LUT/FF/CARRY/DSP, latency, RTL-simulation mismatches and
Yosys time of our Verilog, *before* this version (the RTL of an earlier commit, ``--before REV``), now,
and alkaid 0.8.2 (the successor of da4ml) on the same integer weights; LUT/FF/latency against the
initiation interval (``ii`` 1, 2, 4, 8); write and Verilator-compile time, and Verilator predict
throughput against the HLS C simulation.

    python -m bench run rtl [--models binary,two,small,jet,mlp6,demo,fmnist] [--work build/bench_rtl]
    python -m bench run rtl --parts ii --models mlp6,fmnist    # the II curve only
    python -m bench run rtl --collect              # store the per-model results measured so far
    python -m bench run rtl --time-demo --models '' # time a whole `make demo` run (idle machine!)

Models: ``binary`` (64-32-5, 1-bit inputs and hidden activations, random 5-bit weights 30 %
pruned) and ``two`` (the same with 2 bits), the few-bit models that LUT6 packing is for;
``small`` (16-16-5) and ``jet`` (16-64-32-32-5): HGQ-like MLPs with random integer weights (5-bit,
30 % pruned, per-layer 8-bit RND/SAT ReLU activations); ``mlp6`` (64-32-10, 6-bit inputs, weights
and activations); no accuracy for these, there is no data; ``demo`` (the chosen checkpoint of
``make demo``, read from ``--demo DIR``, trained by running the demo when that folder is missing);
``fmnist``: the Pareto front of a 784-64-32-32-10 HGQ MLP trained here on a Fashion-MNIST subset
(``--fmnist-train`` images, ``--fmnist-epochs``; the resource study keeps points, not models), of
which the ``--fmnist-points`` smallest are synthesized.

Parts (``--parts``): ``ours`` (this tree's RTL at II = 1, simulated and synthesized), ``before``
(``bench/studies/rtl/before_worker.py`` run on ``git archive REV``: that commit's RTL of the same
IR, synthesized by the same script), ``alkaid`` and ``ii`` (our RTL at each ``--ii-values``,
simulated and synthesized; by default for ``mlp6`` and ``fmnist`` only).

alkaid (:mod:`bench.contenders.alkaid_rtl`) runs in its own virtual environment (``--alkaid-venv``,
created with ``python -m venv`` and ``pip install alkaid==0.8.2`` when missing); its interpreter must
give our emulator's outputs on the test inputs (counted as ``alkaid.mismatches``), so both designs
compute the same function. Its pipeline is matched to ours: ``n_stages`` is our latency with both
ports registered, as alkaid registers them. Every design is synthesized by the same Yosys with the
same script (:func:`hgq_fpga.backends.rtl.tools.yosys_commands`), and Yosys ``ltp -noff`` gives
each design's longest register-to-register path in cells.

Each model's record goes to ``WORK/<model>.<part>.json`` as it finishes (parts and models can run
in parallel processes); the end of every run stores all of them as the study's record. A part
whose record is already there is kept, so an interrupted run resumes (the II curve point by point:
delete a point from ``WORK/<model>.ii.json`` to measure it again). ``--time-demo`` runs the demo
(``python -m hgq_fpga.app.demo``, HLS + RTL + Yosys) once into a scratch folder and records its
wall and CPU time and the load average (``WORK/demo_run.json``).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from bench.cli import out_option
from bench.contenders.alkaid_rtl import ALKAID, AlkaidError, emit, ensure_alkaid, flat_outputs
from bench.render import put
from hgq_fpga.backends.rtl import write_project
from hgq_fpga.backends.rtl.synth_report import parse_yosys_stat
from hgq_fpga.backends.rtl.tools import version, yosys_commands
from hgq_fpga.ir import FirmwareBuilder

ROOT = Path(__file__).resolve().parents[3]
#: the clock of the study (ns)
CLOCK_NS = 5.0
#: the commit whose RTL is "before": main as issue 33 began (II = 1 only, no LUT6 packing)
BEFORE_REV = "da5e29b"
#: the initiation intervals of the II curve, and the models it is measured on by default
II_VALUES = (1, 2, 4, 8)
II_MODELS = ("mlp6", "fmnist")
#: samples simulated per design of the II curve (one Verilator build each)
N_SIM_II = 300
#: samples simulated per model (RTL and alkaid's interpreter against our emulator)
N_SIM = 2000
#: predict-throughput comparison: samples per call, interleaved repeats
N_SPEED, REPEATS = 20000, 5


def mlp(sizes: tuple[int, ...], seed: int = 0, w_bits: int = 5, pruned: float = 0.3,
        x_type: tuple[int, int, int] = (1, 2, 5), act: tuple[int, int, int] | None = (1, 3, 4)):
    """An HGQ-like MLP: inputs of type ``x_type`` (k, i, f; default 8 bits), ``w_bits``-bit weights
    (some pruned), after every hidden layer a RND/SAT cast to ``act`` and a ReLU, or with ``act``
    None a RND/SAT cast to 1 bit unsigned (``k=0, i=1, f=0``: a binary activation)."""
    rng = np.random.default_rng(seed)
    b = FirmwareBuilder()
    h = b.input("x", (sizes[0],), *x_type)
    for n, (a, o) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.integers(-(1 << (w_bits - 1)) + 1, 1 << (w_bits - 1), (a, o))
        w[rng.random((a, o)) < pruned] = 0
        h = b.dense(h, w, 3, rng.integers(-8, 8, o), 2)
        if n < len(sizes) - 2:
            h = b.relu(b.cast(h, *act, "RND", "SAT")) if act[0] else b.cast(h, *act, "RND", "SAT")
    return b.build([h])


#: the random-weight models: (sizes, options of :func:`mlp`)
RANDOM_MODELS = {
    "binary": ((64, 32, 5), dict(x_type=(0, 1, 0), act=(0, 1, 0))),
    "two": ((64, 32, 5), dict(x_type=(0, 2, 0), act=(0, 2, 0))),
    "small": ((16, 16, 5), {}),
    "jet": ((16, 64, 32, 32, 5), {}),
    "mlp6": ((64, 32, 10), dict(w_bits=6, x_type=(1, 1, 4), act=(1, 2, 3))),
}


# ----------------------------------------------------------------------------- tools

def yosys(sources: str, top: str, out: Path) -> dict:
    """Synthesize with the project's Yosys script; resources, longest path (cells) and time."""
    stat = out / "yosys_stat.json"
    script = yosys_commands(sources, top, "xcup", str(stat)) + "; ltp -noff"
    t, c = time.perf_counter(), _cpu()
    proc = subprocess.run(["yosys", "-p", script], capture_output=True, text=True, check=True)
    seconds, cpu = time.perf_counter() - t, _cpu() - c
    m = re.findall(r"Longest topological path in \S+ \(length=(\d+)\)", proc.stdout)
    return {"resources": parse_yosys_stat(stat), "longest_path_cells": int(m[-1]) if m else None,
            "yosys_s": round(seconds, 2), "yosys_cpu_s": round(cpu, 2)}


def _float_inputs(fw, n: int, seed: int = 1) -> np.ndarray:
    """Values spread over (and beyond) the input types' ranges: saturation and wrapping occur."""
    t = fw.inputs[0].type
    lo, hi = (np.ldexp(b.astype(np.float64), -t.f) for b in t.bounds())
    rng = np.random.default_rng(seed)
    return lo + (hi - lo) * rng.uniform(-0.1, 1.1, (n, *fw.inputs[0].shape))


# ----------------------------------------------------------------------------- alkaid

def alkaid_row(fw, x: np.ndarray, python: Path, out: Path, stages: int, x4: bool = False) -> dict:
    """alkaid's design of ``fw`` (``stages`` pipeline stages) synthesized, and its interpreter's
    mismatches against our emulator on ``x`` (with ``x4``, also on ``4 x``: ``mismatches_x4``)."""
    checks = (x, 4 * x) if x4 else (x,)
    meta, theirs, emit_s = emit(fw, np.concatenate(checks), python, out, stages)
    ours = flat_outputs(fw, np.concatenate(checks))
    row = yosys(" ".join(meta["sources"]), meta["top"], out / "alkaid")
    row.update(latency_cycles=meta["latency_cycles"], n_stages=stages, emit_s=round(emit_s, 2))
    for n, suffix in enumerate(("", "_x4")[:len(checks)]):
        part = slice(n * len(x), (n + 1) * len(x))
        row[f"mismatches{suffix}"] = int(np.sum(theirs[part] != ours[part]))
        row[f"compared{suffix}"] = int(ours[part].size)
    return row


# ----------------------------------------------------------------------------- before

def before_row(fw, out: Path, rev: str) -> dict:
    """The RTL of commit ``rev`` for ``fw``, synthesized (:mod:`bench.studies.rtl.before_worker`)."""
    out = out.resolve()
    tree = out.parent / f"before_{rev}"
    if not (tree / "hgq_fpga").is_dir():
        tmp = tree.with_suffix(".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        (tmp / "hgq_fpga" / "templates").symlink_to("../templates")       # where the wheel puts them
        os.replace(tmp, tree)
    fw.save(out / "ir")
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("before_worker.py")), str(out / "ir"),
                           str(out / "before"), str(CLOCK_NS)], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree)
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "rev": rev}


# ----------------------------------------------------------------------------- ours

def _cpu() -> float:
    """CPU seconds of this process and its finished children (wall time is misleading on a shared machine)."""
    import resource
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def ours_row(fw, x: np.ndarray, out: Path, cache: str, **options) -> tuple[dict, object]:
    """Write, cold-compile (empty cache ``cache``), simulate and synthesize our RTL of ``fw``."""
    t, c = time.perf_counter(), _cpu()
    prj = write_project(fw, out / "rtl", clock_period=CLOCK_NS, replace=True, cache_dir=cache, **options)
    t_write, c_write = time.perf_counter() - t, _cpu() - c
    t, c = time.perf_counter(), _cpu()
    prj.compile()
    t_compile, c_compile = time.perf_counter() - t, _cpu() - c
    got = np.asarray(prj.predict(x)).reshape(len(x), -1)
    want = np.asarray(fw.predict(x)).reshape(len(x), -1)
    row = yosys(" ".join(str(p) for p in prj.sources()), prj.top, out / "rtl")
    row.update(latency_cycles=prj.latency, levels_per_stage=prj.info["levels_per_stage"],
               lut_estimate=prj.info.get("lut_estimate"),
               mismatches=int(np.sum(got != want)), compared=int(want.size),
               write_s=round(t_write, 2), verilator_s=round(t_compile, 2),
               write_cpu_s=round(c_write, 2), verilator_cpu_s=round(c_compile, 2))
    # alkaid registers both its inputs and its outputs: our latency with the same convention
    row["latency_both_registered"] = (prj.latency + (not prj.info["register_inputs"])
                                      + (not prj.info["register_outputs"]))
    return row, prj


def speed_row(fw, prj, row: dict, out: Path, cache: str) -> dict:
    """RTL write + cold Verilator compile (from ``row``), and predict throughput of the RTL
    simulation against the HLS C simulation (one thread each) on the same inputs, interleaved."""
    from hgq_fpga.backends.hls.writer import write_project as write_hls
    x = _float_inputs(fw, N_SPEED, seed=3)
    hls = write_hls(fw, out / "speed_hls", replace=True)
    t = time.perf_counter()
    hls.compile(cache_dir=cache)
    t_hls = time.perf_counter() - t
    rtl_s, csim_s = [], []
    for _ in range(REPEATS):
        t = time.perf_counter()
        y_rtl = prj.predict(x)
        rtl_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        y_c = hls.predict(x, threads=1)
        csim_s.append(time.perf_counter() - t)
    med_r, med_c = float(np.median(rtl_s)), float(np.median(csim_s))
    return {"samples": N_SPEED, "repeats": REPEATS, "write_s": row["write_s"],
            "verilator_compile_cold_s": row["verilator_s"],
            "write_compile_cold_s": round(row["write_s"] + row["verilator_s"], 2),
            "csim_compile_s": round(t_hls, 2), "rtl_predict_s": rtl_s, "csim_predict_s": csim_s,
            "rtl_samples_per_s": N_SPEED / med_r, "csim_samples_per_s": N_SPEED / med_c,
            "rtl_over_csim_throughput": med_c / med_r,
            "rtl_vs_csim_mismatches": int(np.sum(np.asarray(y_rtl) != np.asarray(y_c)))}


# ----------------------------------------------------------------------------- models

def demo_firmware(design: Path):
    """The demo's chosen model: from its design folder, trained by the demo if missing."""
    from hgq_fpga.checks.design_folder import open_design
    if not (design / "hgq_fpga.json").is_file():
        print(f"{design} missing: running the demo", flush=True)
        subprocess.run([sys.executable, "-m", "hgq_fpga.app.demo", "--out", str(design)], check=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    found = open_design(design)
    return found.firmware(), {"test accuracy": found.run.get("metrics", {}).get("test accuracy")}


def fmnist_front(out: Path, n_train: int, epochs: int, points: int):
    """(label, firmware, info) of the ``points`` smallest-EBOPs checkpoints of the Pareto front of a
    Fashion-MNIST MLP trained here.

    The front is trained once per setting (index ``OUT/fmnist_front.json``, written last and
    atomically) and each chosen checkpoint's calibrated firmware is saved in
    ``OUT/fmnist_front/<label>/`` (its ``info.json`` last): a second process (``--parts alkaid``
    beside ``--parts ours``) or a later run with more ``--fmnist-points`` reuses the same models."""
    from hgq_fpga.ir.model import load_firmware
    index = out / "fmnist_front.json"
    setting = {"n_train": n_train, "epochs": epochs}
    if not (index.is_file() and json.loads(index.read_text())["setting"] == setting):
        _atomic_json(index, {"setting": setting, **_train_fmnist_front(out, n_train, epochs)})
    trained = json.loads(index.read_text())
    found, split = [], None
    for p in sorted(trained["front"], key=lambda p: p["ebops"])[:points]:
        label = f"fmnist_e{p['epoch']}"
        d = out / "fmnist_front" / label
        if not (d / "info.json").is_file():
            split = split or _fmnist_split(n_train)
            fw, test_accuracy = _fmnist_firmware(out / p["path"], split)
            fw.save(d / "ir")
            _atomic_json(d / "info.json", {"epoch": p["epoch"], "val_accuracy": p["metric"],
                                           "test_accuracy": test_accuracy, "n_test": len(split.y_test),
                                           "n_train": n_train,
                                           "epochs": epochs, "train_s": trained["train_s"]})
        found.append((label, load_firmware(d / "ir"), json.loads((d / "info.json").read_text())))
    return found


def _atomic_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _fmnist_split(n_train: int):
    from bench.common.data import fashion_mnist
    return fashion_mnist(n_train=n_train, n_val=2000, n_test=2000, seed=0)


def _train_fmnist_front(out: Path, n_train: int, epochs: int) -> dict:
    """Train the MLP; ``{"front": [point dicts, paths relative to out], "train_s"}``."""
    from bench.common.models import MLP, build
    from hgq_fpga.nn.recipe import train_pareto
    split = _fmnist_split(n_train)
    model = build(MLP, (28, 28, 1), "hgq", seed=0, init_bits=4, f_init=4.0)
    t = time.perf_counter()
    outcome = train_pareto(model, split.x_train, split.y_train, validation_data=(split.x_val, split.y_val),
                           epochs=epochs, checkpoint_dir=out / "fmnist_checkpoints", beta=(1e-6, 1e-4),
                           batch_size=128)
    front = [{**p.to_dict(), "path": os.path.relpath(p.path, out)} for p in outcome.front]
    return {"front": front, "train_s": round(time.perf_counter() - t, 1)}


def _fmnist_firmware(checkpoint: Path, split):
    """The calibrated firmware of one checkpoint, and its test accuracy."""
    import keras

    import hgq_fpga
    import hgq_fpga.nn.layers  # noqa: F401  (registers the layers that load_model finds)
    from hgq_fpga.nn.recipe import accuracy
    m = keras.models.load_model(checkpoint, compile=False)
    hgq_fpga.calibrate(m, split.x_train[:5000])
    fw = hgq_fpga.to_firmware(m)
    return fw, accuracy(fw.predict(split.x_test), split.y_test)


def time_demo_run(out: Path) -> dict:
    """Wall and CPU seconds of one whole demo run (after installation), with the load around it."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="demo_timed.", dir=out) as d:
        c, t = _cpu(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "hgq_fpga.app.demo", "--out", str(Path(d) / "demo")],
                       check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
        wall, cpu = time.perf_counter() - t, _cpu() - c
    run = {"command": "python -m hgq_fpga.app.demo", "wall_s": round(wall, 1), "cpu_s": round(cpu, 1),
           "load_average_before": round(load_before, 2), "load_average_after": round(os.getloadavg()[0], 2)}
    (out / "demo_run.json").write_text(json.dumps(run, indent=1) + "\n")
    print(json.dumps({"demo_run": run}), flush=True)
    return run


def ii_row(fw, out: Path, ii: int, cache: str) -> dict:
    """Our RTL of ``fw`` at initiation interval ``ii``: written, simulated against the emulator
    (inputs at the declared cadence) and synthesized."""
    x = _float_inputs(fw, N_SIM_II, seed=2)
    t, c = time.perf_counter(), _cpu()
    prj = write_project(fw, out / f"ii{ii}", clock_period=CLOCK_NS, replace=True, cache_dir=cache, ii=ii)
    t_write, c_write = time.perf_counter() - t, _cpu() - c
    got = np.asarray(prj.predict(x)).reshape(len(x), -1)
    want = np.asarray(fw.predict(x)).reshape(len(x), -1)
    row = yosys(" ".join(str(p) for p in prj.sources()), prj.top, out / f"ii{ii}")
    row.update(ii=ii, latency_cycles=prj.latency, folding=prj.info.get("folding", {}),
               lut_estimate=prj.info.get("lut_estimate"),
               mismatches=int(np.sum(got != want)), compared=int(want.size),
               write_s=round(t_write, 2), write_cpu_s=round(c_write, 2))
    return row


def run_model(label: str, fw, info: dict, out: Path, python: Path | None, speed: bool,
              parts: tuple[str, ...] = ("ours", "before", "alkaid"), before: str = BEFORE_REV,
              ii_values: tuple[int, ...] = II_VALUES) -> dict:
    """Measure ``parts`` of one model; each part's record goes to ``WORK/<label>.<part>.json`` as it
    finishes (so that parts can run in parallel processes), merged by :func:`collect`."""
    d = out / label
    d.mkdir(parents=True, exist_ok=True)
    x = _float_inputs(fw, N_SIM)
    shape = [int(s.shape[0]) if len(s.shape) == 1 else list(s.shape) for s in fw.inputs]
    row = {"info": info, "inputs": shape, "ebops": int(fw.resources().ebops)}
    head = {k: row[k] for k in ("info", "inputs", "ebops")}
    done = {part: out / f"{label}.{part}.json" for part in parts if (out / f"{label}.{part}.json").is_file()}
    curve = json.loads(done["ii"].read_text())["ii_curve"] if "ii" in done else {}
    if "ii" in done and not all(str(ii) in curve for ii in ii_values):
        del done["ii"]                     # some points missing: measure those (kept points stay)
    for part, path in done.items():
        print(f"[{label}] {part}: kept {path} (delete it to measure again)", flush=True)
    parts = tuple(p for p in parts if p not in done)
    if "ours" in parts:
        with tempfile.TemporaryDirectory(prefix="rtl_bench_cache.") as cache:   # cold builds
            print(f"[{label}] ours", flush=True)
            load = os.getloadavg()[0]
            row["ours"], prj = ours_row(fw, x, d, cache)
            row["ours"]["load_average"] = round((load + os.getloadavg()[0]) / 2, 2)
            if speed:
                print(f"[{label}] speed", flush=True)
                row["speed"] = speed_row(fw, prj, row["ours"], d, cache)
        _save(out, label, "ours", row)
    if "before" in parts:
        print(f"[{label}] before ({before})", flush=True)
        row["before"] = before_row(fw, d, before)
        _save(out, label, "before", {**head, "before": row["before"]})
    if python is not None and "alkaid" in parts:
        ours = row.get("ours") or json.loads((out / f"{label}.ours.json").read_text())["ours"]
        stages = ours["latency_both_registered"]
        print(f"[{label}] alkaid ({stages} stages)", flush=True)
        try:
            load = os.getloadavg()[0]
            al = alkaid_row(fw, x, python, d, stages)
            al["load_average"] = round((load + os.getloadavg()[0]) / 2, 2)
        except (AlkaidError, subprocess.CalledProcessError) as err:
            al = {"error": f"{err}"}
        _save(out, label, "alkaid", {**head, "alkaid": al})
        row["alkaid"] = al
    if "ii" in parts:
        with tempfile.TemporaryDirectory(prefix="rtl_bench_cache.") as cache:
            for ii in ii_values:
                if str(ii) in curve:
                    print(f"[{label}] ii = {ii}: kept (delete it from {label}.ii.json to measure again)", flush=True)
                    continue
                print(f"[{label}] ii = {ii}", flush=True)
                curve[str(ii)] = ii_row(fw, d, ii, cache)
                curve = dict(sorted(curve.items(), key=lambda kv: int(kv[0])))
                _save(out, label, "ii", {**head, "ii_curve": curve})
        row["ii_curve"] = curve
    print(json.dumps({label: {k: v for k, v in row.items() if k != "speed"}}, indent=1), flush=True)
    return row


def _save(out: Path, label: str, part: str, row: dict) -> None:
    (out / f"{label}.{part}.json").write_text(json.dumps(row, indent=1) + "\n")


def collect(out: Path) -> dict:
    """The study's record: every ``WORK/<model>.<part>.json`` merged, with the tools and settings."""
    models: dict[str, dict] = {}
    for p in sorted(out.glob("*.*.json")):
        label = p.name.split(".")[0]
        models.setdefault(label, {}).update(json.loads(p.read_text()))
    record = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_average": list(os.getloadavg())},
              "tools": {"yosys": version("yosys"), "verilator": version("verilator"), "alkaid": ALKAID},
              "settings": {"clock_ns": CLOCK_NS, "n_sim": N_SIM, "n_sim_ii": N_SIM_II,
                           "yosys": yosys_commands("SRC", "TOP", "xcup", "stat.json") + "; ltp -noff"},
              "models": models}
    if (out / "demo_run.json").is_file():
        record["demo_run"] = json.loads((out / "demo_run.json").read_text())
    return record


def merged_into_store(record: dict):
    """The store change that puts ``record`` (from the work folder) over the stored RTL record, model
    by model and part by part: a run of some models or parts (``--models demo``), or one from a
    work folder that lost the others, keeps every stored row it did not measure."""
    def change(results: dict) -> None:
        kept = results.get("studies", {}).get("rtl") or {}
        models = dict(kept.get("models", {}))
        for label, row in record["models"].items():
            models[label] = {**models.get(label, {}), **row}
        merged = {**record, "models": dict(sorted(models.items()))}
        if "demo_run" in kept and "demo_run" not in record:
            merged["demo_run"] = kept["demo_run"]
        put({"rtl": merged})(results)

    return change


PARTS = ("ours", "before", "alkaid", "ii")


@click.command()
@click.option("--work", type=click.Path(file_okay=False, path_type=Path), default=Path("build/bench_rtl"),
              show_default=True, help="the per-model results (an interrupted run resumes from them)")
@click.option("--models", "names", default="binary,two,small,jet,mlp6,demo,fmnist", show_default=True)
@click.option("--demo", type=click.Path(file_okay=False, path_type=Path), default=Path("build/demo"),
              show_default=True, help="the demo's design folder")
@click.option("--alkaid-venv", type=click.Path(file_okay=False, path_type=Path), default=Path("build/venvs/alkaid"),
              show_default=True, help="alkaid's own venv (created from PyPI when missing)")
@click.option("--fmnist-train", type=int, default=10000, show_default=True)
@click.option("--fmnist-epochs", type=int, default=15, show_default=True)
@click.option("--fmnist-points", type=int, default=1, show_default=True)
@click.option("--parts", default="ours,before,alkaid,ii", show_default=True,
              help=f"what to measure, of {', '.join(PARTS)} (ii: on {', '.join(II_MODELS)} only)")
@click.option("--before", default=BEFORE_REV, show_default=True, help="the commit whose RTL is 'before'")
@click.option("--ii-values", default=",".join(map(str, II_VALUES)), show_default=True)
@click.option("--collect", "collect_only", is_flag=True, help="only store the per-model results")
@click.option("--time-demo", is_flag=True, help="also time one whole demo run")
@out_option
def main(work: Path, names: str, demo: Path, alkaid_venv: Path, fmnist_train: int, fmnist_epochs: int,
         fmnist_points: int, parts: str, before: str, ii_values: str, collect_only: bool, time_demo: bool,
         out) -> None:
    """Our RTL before and now against alkaid: Yosys LUTs, latency, mismatches, the II curve, speed."""
    unknown = [n for n in filter(None, names.split(",")) if n not in ("demo", "fmnist", *RANDOM_MODELS)]
    if unknown:
        raise click.BadParameter(f"unknown model {unknown[0]!r}", param_hint="--models")
    measured = tuple(filter(None, parts.split(",")))
    if set(measured) - set(PARTS):
        raise click.BadParameter(f"unknown part {sorted(set(measured) - set(PARTS))[0]!r}", param_hint="--parts")
    iis = tuple(int(v) for v in ii_values.split(","))
    work.mkdir(parents=True, exist_ok=True)
    if not collect_only:
        python = ensure_alkaid(alkaid_venv) if "alkaid" in measured else None
        if time_demo:
            time_demo_run(work)
        for name in filter(None, names.split(",")):
            chosen = tuple(p for p in measured if p != "ii" or name in II_MODELS)
            if name == "demo":
                fw, info = demo_firmware(demo)
                run_model("demo", fw, info, work, python, True, chosen, before, iis)
            elif name in RANDOM_MODELS:
                sizes, kw = RANDOM_MODELS[name]
                run_model(name, mlp(sizes, **kw), {"sizes": list(sizes), "weights": "random", **kw}, work,
                          python, False, chosen, before, iis)
            else:
                for label, fw, info in fmnist_front(work, fmnist_train, fmnist_epochs, fmnist_points):
                    label = "fmnist" if fmnist_points == 1 else label
                    run_model(label, fw, info, work, python, False, chosen, before, iis)
    out.change(merged_into_store(collect(work)), "studies.rtl")

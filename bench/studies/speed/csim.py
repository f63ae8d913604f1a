"""Benchmark the HLS C simulation against hls4ml: compile time, compile memory, predict throughput.

Two MLPs with random integer weights (30 % pruned): 64-32-32-10 and 784-64-32-32-10 (~53k
weights).  For each, in fresh subprocesses (so that peak-memory numbers belong to one build):

* ours: write the project, cold-compile it into an empty cache, measure the peak RSS of g++, run
  ``prj.predict`` on a batch (one thread and the default thread count) and check it equals the
  emulator bit for bit.  Both C-simulation builds are measured: the default one that
  ``predict`` uses (multiply-accumulates on integer codes) is the one held to the targets; the
  ``ap_fixed`` build (the exact text HLS synthesises) is reported beside it;
* hls4ml: the same weights in a plain ``keras.Sequential`` of Dense layers (ReLU between them),
  converted with ``convert_from_keras_model(backend='Vitis', io_type='io_parallel')`` at its
  default ``ap_fixed<16,6>``, Latency strategy; time ``compile()`` and ``predict``.

``run(quick)`` returns a dict of numbers, ratios and targets (a speed benchmark of the suite,
:mod:`bench.studies.speed.run`). An hls4ml failure (import, conversion, compile) is recorded in the
result with its message instead of stopping the benchmark.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

MODELS = {"mlp_64_32_32_10": (64, 32, 32, 10), "mlp_784_64_32_32_10": (784, 64, 32, 32, 10)}
#: Targets from the issue: small compile time, compile memory, predict speed-up over hls4ml.
TARGET_COMPILE_S = 10.0
TARGET_RSS_MB = 4096.0
TARGET_SPEEDUP = 10.0
WORKER_TIMEOUT_S = 1800


def mlp(sizes, rng):
    """Dense → cast(RND,SAT) → ReLU stack with per-element input and activation types."""
    from hgq_fpga.ir import FirmwareBuilder
    b = FirmwareBuilder()
    h = b.input("x", (sizes[0],), k=1, i=2, f=rng.integers(2, 6, sizes[0]))
    for n, m in enumerate(sizes[1:]):
        w = rng.integers(-100, 100, (sizes[n], m))
        w[rng.random(w.shape) < 0.3] = 0
        h = b.dense(h, w, rng.integers(4, 8, w.shape), rng.integers(-50, 50, m), 6)
        h = b.cast(h, 1, rng.integers(1, 4, m), rng.integers(2, 6, m), "RND", "SAT")
        if n < len(sizes) - 2:
            h = b.relu(h)
    return b.build([h])


def _model_and_data(sizes, n_samples):
    rng = np.random.default_rng(0)
    return mlp(sizes, rng), rng.normal(0, 2, (n_samples, sizes[0]))


def _children_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def _children_cpu_s() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _cold_compiles(compile_once, repeats: int) -> tuple[float, float]:
    """Best wall time and mean CPU time (user + system of g++) over ``repeats`` cold builds.

    The best of several runs is the number least disturbed by other work on a shared machine.
    """
    walls, cpu0 = [], _children_cpu_s()
    for n in range(repeats):
        t0 = time.perf_counter()
        compile_once(n)
        walls.append(time.perf_counter() - t0)
    return min(walls), (_children_cpu_s() - cpu0) / repeats


def _throughput(predict, x, repeats: int) -> float:
    predict(x[:8])                                          # load / warm up
    best = min(_timed(predict, x) for _ in range(repeats))
    return len(x) / best


def _timed(fn, x) -> float:
    t0 = time.perf_counter()
    fn(x)
    return time.perf_counter() - t0


# ------------------------------------------------------------------------------ workers

def worker_ours(sizes, n_samples: int, repeats: int) -> dict:
    """Cold compile and predict of our C simulation (run in a fresh process)."""
    from hgq_fpga.backends.hls.project import default_threads
    from hgq_fpga.backends.hls.writer import write_project
    fw, x = _model_and_data(sizes, n_samples)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        prj = write_project(fw, Path(d) / "prj", cache_dir=Path(d) / "cache")
        t_write = time.perf_counter() - t0
        want = fw.predict(x)
        # the HLS text itself first, then the default (integer-MAC) build that predict() uses
        t_ap, cpu_ap = _cold_compiles(
            lambda n: prj.compile(cache_dir=Path(d) / f"ap{n}", macs="ap_fixed"), repeats)
        exact_ap = bool(np.array_equal(prj.predict(x), want))
        one_ap = _throughput(lambda a: prj.predict(a, threads=1), x, repeats)
        t_compile, cpu = _cold_compiles(lambda n: prj.compile(cache_dir=Path(d) / f"cold{n}"),
                                        repeats)
        rss = _children_peak_mb()
        exact = bool(np.array_equal(prj.predict(x), want))
        one = _throughput(lambda a: prj.predict(a, threads=1), x, repeats)
        many = _throughput(prj.predict, x, repeats)
    return {"write_s": t_write, "compile_s": t_compile, "compile_cpu_s": cpu,
            "compile_peak_rss_mb": rss,
            "predict_per_s_1_thread": one, "predict_per_s": many, "threads": default_threads(),
            "bit_exact_vs_emulator": exact and exact_ap,
            "ap_fixed_build": {"compile_s": t_ap, "compile_cpu_s": cpu_ap,
                               "predict_per_s_1_thread": one_ap, "bit_exact_vs_emulator": exact_ap},
            "weights": int(sum(op.w_raw.size for op in fw.ops if op.kind == "dense")),
            "nonzero_weights": int(sum(np.count_nonzero(op.w_raw) for op in fw.ops
                                       if op.kind == "dense"))}


def _keras_equivalent(fw):
    """A plain keras.Sequential of Dense layers carrying the firmware's weights as floats."""
    import keras
    dense = [op for op in fw.ops if op.kind == "dense"]
    layers = [keras.Input((dense[0].w_raw.shape[0],))]
    for n, op in enumerate(dense):
        layers.append(keras.layers.Dense(op.w_raw.shape[1],
                                         activation="relu" if n < len(dense) - 1 else None))
    model = keras.Sequential(layers)
    for layer, op in zip(model.layers, dense):
        layer.set_weights([np.ldexp(op.w_raw.astype(np.float64), -op.w_f),
                           np.ldexp(op.b_raw.astype(np.float64), -op.b_f)])
    return model


def worker_hls4ml(sizes, n_samples: int, repeats: int) -> dict:
    """Convert, compile and predict with hls4ml (run in a fresh process)."""
    out: dict = {}
    stage = "import"
    try:
        import hls4ml
        out["version"] = hls4ml.__version__
        fw, x = _model_and_data(sizes, n_samples)
        stage = "keras model"
        model = _keras_equivalent(fw)
        with tempfile.TemporaryDirectory() as d:
            stage = "conversion"
            cfg = hls4ml.utils.config_from_keras_model(model, granularity="model")
            cfg["Model"].update({"Strategy": "Latency", "ReuseFactor": 1})
            hm = hls4ml.converters.convert_from_keras_model(
                model, backend="Vitis", io_type="io_parallel", output_dir=str(Path(d) / "h4"),
                hls_config=cfg)
            stage = "compile"
            out["compile_s"], out["compile_cpu_s"] = _cold_compiles(lambda n: hm.compile(),
                                                                    repeats)
            out["compile_peak_rss_mb"] = _children_peak_mb()
            stage = "predict"
            xs = np.ascontiguousarray(x, dtype=np.float64)
            out["predict_per_s"] = _throughput(hm.predict, xs, repeats)
            out["precision"] = cfg["Model"]["Precision"]
    except Exception as err:                                # noqa: BLE001 - recorded, not hidden
        out["error"] = f"{stage} failed: {type(err).__name__}: {err}"
    return out


# ------------------------------------------------------------------------------ driver

def _spawn(kind: str, sizes, n_samples: int, repeats: int) -> dict:
    """Run one worker in a fresh interpreter; its JSON result, or an error entry."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, str(Path(__file__).resolve()), kind, "-".join(map(str, sizes)),
           "--samples", str(n_samples), "--repeats", str(repeats)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                              timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {WORKER_TIMEOUT_S} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        return {"error": f"worker exited with {proc.returncode}: {tail}"}
    return json.loads(lines[-1])


def _ratio(a, b):
    return None if a is None or b is None or not b else a / b


def run(quick: bool = False) -> dict:
    """Measure both MLPs; return numbers, ratios (ours / hls4ml) and whether targets are met."""
    samples = {"mlp_64_32_32_10": 2000 if quick else 20000,
               "mlp_784_64_32_32_10": 1000 if quick else 3000}
    repeats = 1 if quick else 3
    result = {"quick": quick, "cpus": os.cpu_count(), "load_average": list(os.getloadavg()),
              "models": {}}
    for label, sizes in MODELS.items():
        ours = _spawn("ours", sizes, samples[label], repeats)
        theirs = _spawn("hls4ml", sizes, samples[label], repeats)
        entry = {"sizes": list(sizes), "samples": samples[label], "ours": ours, "hls4ml": theirs}
        entry["compile_speedup"] = _ratio(theirs.get("compile_s"), ours.get("compile_s"))
        entry["predict_speedup"] = _ratio(ours.get("predict_per_s"), theirs.get("predict_per_s"))
        entry["predict_speedup_1_thread"] = _ratio(ours.get("predict_per_s_1_thread"),
                                                   theirs.get("predict_per_s"))
        entry["predict_speedup_ap_fixed_build_1_thread"] = _ratio(
            ours.get("ap_fixed_build", {}).get("predict_per_s_1_thread"), theirs.get("predict_per_s"))
        result["models"][label] = entry
    small, big = (result["models"][k] for k in MODELS)
    result["targets"] = {
        "compile_s_small": TARGET_COMPILE_S, "compile_rss_mb": TARGET_RSS_MB,
        "predict_speedup": TARGET_SPEEDUP,
        "meets_small_compile_le_10s":
            small["ours"].get("compile_s", float("inf")) <= TARGET_COMPILE_S,
        "meets_big_compile_faster_than_hls4ml": (big["compile_speedup"] or 0) > 1.0,
        "meets_compile_rss_below_4GB": all(m["ours"].get("compile_peak_rss_mb", float("inf"))
                                           < TARGET_RSS_MB for m in (small, big)),
        # the issue states this target on 784-64-32-32-10 (hls4ml: 549 samples/s there); the
        # small model's ratio is reported beside it (its per-sample cost is mostly ap_fixed casts)
        "meets_predict_10x_hls4ml": (big["predict_speedup"] or 0) >= TARGET_SPEEDUP,
        "meets_bit_exact": all(m["ours"].get("bit_exact_vs_emulator") for m in (small, big)),
    }
    return result


@click.command()
@click.argument("kind", type=click.Choice(["ours", "hls4ml"]))
@click.argument("sizes")
@click.option("--samples", type=int, default=1000, show_default=True)
@click.option("--repeats", type=int, default=1, show_default=True)
def worker(kind: str, sizes: str, samples: int, repeats: int) -> None:
    """One side's measurement of the MLP SIZES (e.g. 64-32-32-10) in a fresh process: prints its JSON."""
    fn = worker_ours if kind == "ours" else worker_hls4ml
    click.echo(json.dumps(fn(tuple(int(s) for s in sizes.split("-")), samples, repeats)))


if __name__ == "__main__":
    worker()

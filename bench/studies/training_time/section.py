"""BENCHMARKS.md section of the training-time benchmark (``python -m bench run training_time``):
whole epochs of real data, HGQ, plain Keras float and (in newer records) HGQ2 interleaved, medians,
in TensorFlow graph mode, with XLA and (in newer records) under JAX.

Older records have no HGQ2 times and no ``hgq2_requested`` flag; they render with "—" in the HGQ2
columns and are not faulted for it. A record whose mode says HGQ2 was requested must have HGQ2
times at every batch (:func:`problems`).
"""

from __future__ import annotations

from bench.studies import Page

ORDER = 46
#: how the table names each mode
MODE_LABELS = {"graph": "TensorFlow graph (tf.function)", "xla": "TensorFlow XLA (jit_compile)", "jax": "JAX (jit)"}


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "missed")


def _hgq2_line(record: dict) -> list[str]:
    """A sentence on the HGQ2 model (its version and structure against ours), when recorded."""
    for r in record["modes"].values():
        models = r.get("models", {})
        if "hgq2" in models and "hgq" in models:
            q, h = models["hgq2"], models["hgq"]
            same = ("the same" if q["float_weights"] == h["float_weights"]
                    and [layer["kernel"] for layer in q["layers"] if layer["kernel"]]
                    == [layer["kernel"] for layer in h["layers"] if layer["kernel"]] else "different")
            return [f"HGQ2 {q.get('hgq2', '?')} (Keras {q.get('keras', '?')}) runs in its own venv and process, "
                    f"timed around its own `fit`; its model has {same} kernels ({q['float_weights']} float "
                    f"weights, ours {h['float_weights']}) with {q['trainable_params']} trainable parameters "
                    f"(ours {h['trainable_params']}: HGQ2 trains two bit-width variables per weight, we train "
                    "one).", ""]
    return []


def _quartiles(b: dict) -> str:
    """`` (q1-q3)``: the spread of the rounds' ratios, where the record has it."""
    q = b.get("ratio_quartiles")
    return f" ({q[0]:.2f}-{q[1]:.2f})" if q else ""


def render(record: dict, page: Page) -> str:
    first = next(iter(record["modes"].values()))
    with_hgq2 = any("hgq2_median_s" in b for r in record["modes"].values() for b in r["per_batch"].values())
    who = "plain Keras and HGQ2" if with_hgq2 else "plain Keras"
    rotated = first.get("order") == "interleaved, rotated"   # older records reversed every other round
    order = ("A B C, B C A, C A B" if rotated else "A B C, C B A") if with_hgq2 else "A B, B A"
    lines = [f"## Training time: HGQ against {who}", "",
             f"{first['data']}, {first['n_train']} images per epoch, 784-64-32-32-10 MLP; one untimed warm-up epoch "
             f"each, then {first['rounds']} timed epochs per model, interleaved ({order}, ...); medians of the "
             "epoch times, and each ratio the median over rounds of that round's ratio (a slow spell of the shared "
             "machine then slows both sides of a ratio). "
             f"Measured {record['date']} on {record['cores']} cores shared with other jobs (load average "
             f"{record['load_before'][0]:.1f} before, {record['load_after'][0]:.1f} after): interleaving makes "
             "the ratios fair, the absolute times are not the machine's.", ""]
    lines += _hgq2_line(record)
    lines += ["| compilation | batch | plain s/epoch | HGQ s/epoch | HGQ2 s/epoch | HGQ ÷ plain (quartiles of the rounds) | target | | "
              "HGQ2 ÷ HGQ | ours faster than HGQ2 |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for mode, r in record["modes"].items():
        for batch, b in r["per_batch"].items():
            if "hgq2_median_s" in b:
                q, vs = f"{b['hgq2_median_s']:.3f}", f"{b['hgq2_ratio']:.2f}"
                faster = "yes" if b["meets_hgq2_target"] else "no"
            else:
                q, vs = "—", "—"
                faster = "not measured" if r.get("hgq2_requested") else "—"
            lines.append(f"| {MODE_LABELS.get(mode, mode)} | {batch} | "
                         f"{b['plain_median_s']:.3f} | {b['hgq_median_s']:.3f} | {q} | {b['ratio']:.2f}{_quartiles(b)} | "
                         f"≤ {b['target']} | {_verdict(b['meets_target'])} | {vs} | {faster} |")
    if "gpu" in record:
        lines += ["", record["gpu"] or "No GPU was lent to the session that measured this: every mode ran on the "
                  "shared CPU, and the GPU timing (an epoch under JAX and TensorFlow against HGQ2, with the GPU's "
                  "name) is left for a session that has one."]
    return "\n".join(lines + [""])


def problems(record: dict) -> list[str]:
    """What is missing or too thin (a missed target is a result, shown in the table, not a problem)."""
    out = [f"training_time: no {mode} measurement" for mode in ("graph", "xla") if mode not in record["modes"]]
    for mode, r in record["modes"].items():
        if r["rounds"] < 5:
            out.append(f"training_time: {mode}: {r['rounds']} timed epochs per model, fewer than 5")
        if r.get("hgq2_requested"):
            missing = [batch for batch, b in r["per_batch"].items() if "hgq2_median_s" not in b]
            if missing:
                out.append(f"training_time: {mode}: HGQ2 was requested but has no times at batch "
                           f"{', '.join(missing)}")
            thin = [batch for batch, b in r["per_batch"].items() if "hgq2_s" in b and len(b["hgq2_s"]) < 5]
            if thin:
                out.append(f"training_time: {mode}: fewer than 5 timed HGQ2 epochs at batch {', '.join(thin)}")
    return out

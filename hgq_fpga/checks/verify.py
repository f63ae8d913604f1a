"""``hgq_fpga.verify`` (this module is ``hgq_fpga.checks.verify``, so that the function keeps the short name): prove on data that Keras, the firmware emulator (and the C++) agree bit for bit.

The calibrated Keras model (calibrated mode), the integer emulator of its firmware IR and, when
given, further implementations (each backend's project: the HLS C simulation, the Verilator
simulation of the RTL, the C++ library) all run on the same inputs; every output value is compared
with ``==``.  Each implementation is compared with the emulator and named in the report by its
``name`` ("C++", "RTL", ...; :class:`hgq_fpga.backends.registry.Project`).  A :class:`VerificationReport` gives the mismatch count per pair and,
for the first mismatch, where it is (sample, output, element), both values, and the first layer in
which Keras and the emulator part ways, found by tracing that one sample through both.

All implementations see identical input values: Keras casts inputs to the dtype of its ``Input``
(``float32`` by default), so the inputs are rounded to that dtype first and the emulator and the
third implementation receive the rounded values too.  The report counts how many values that
rounding changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np

from hgq_fpga.ir.compare import Comparison, Difference, compare_outputs
from hgq_fpga.fixed import MAX_FLOAT_WIDTH
from hgq_fpga.ir.model import checked_input
from hgq_fpga.ir.overflow import OverflowReport
from hgq_fpga.nn.calibration import require_calibrated
from hgq_fpga.nn.graph import functional_graph

KERAS, EMULATOR, CSIM = "Keras", "emulator", "C++"


def implementation_name(project) -> str:
    """How the report names an implementation: its ``name`` (a project of the backend protocol);
    "C++" for an object that only has ``predict``."""
    return str(getattr(project, "name", CSIM))


@dataclass(frozen=True)
class VerificationReport:
    """Outcome of :func:`verify`.

    Attributes:
        samples: number of input samples run.
        outputs: output values per sample (summed over all model outputs).
        compared: values compared per pair (``samples * outputs``).
        keras_vs_emulator: number of differing values between Keras and the emulator.
        first_mismatch: the first differing value (Keras/emulator pair first), or ``None``.
        diverging_layer: name of the first layer (in graph order) whose output differs between
            Keras and the emulator on the first mismatching sample; ``None`` if the Keras/emulator
            pair agrees or no single layer could be named.
        max_abs_diff: largest ``|a - b|`` over all differing values (``inf`` for NaN), else 0.
        rounded_inputs: input values changed by rounding to the Keras input dtype.
        input_dtype: that dtype.
        overflow: how many values of ``x``, at the inputs and inside the network, fell outside the
            calibrated range and wrapped or saturated (bit-exact, but maybe not what was meant).
        pairs: the full :class:`~hgq_fpga.ir.compare.Comparison` of every pair.
        emulator_vs: mismatches between the emulator and each project, by name (``{"C++": 0,
            "RTL": 0}``), in the order given.
        data: what ``x`` was ("held-out data test.npz"), when the caller said so.

    ``str(report)`` is the result in words, starting with the data it ran on and ending with a line
    break, so that ``print(design.verification, design.checks[0])`` prints one result per line.
    """

    samples: int
    outputs: int
    compared: int
    keras_vs_emulator: int
    first_mismatch: Difference | None
    diverging_layer: str | None
    max_abs_diff: float
    rounded_inputs: int
    input_dtype: str
    pairs: tuple[Comparison, ...]
    overflow: OverflowReport | None = None
    emulator_vs: dict[str, int] | None = None
    data: str | None = None

    @property
    def emulator_vs_csim(self) -> int | None:
        """Mismatches between the emulator and the implementation named "C++" (``None`` without one)."""
        return (self.emulator_vs or {}).get(CSIM)

    @property
    def implementations(self) -> list[str]:
        """The names compared, in chain order: ``["Keras", "emulator", "C++", "RTL"]``."""
        return [KERAS, EMULATOR, *(self.emulator_vs or {})]

    @property
    def mismatches(self) -> int:
        """Total differing values over all pairs; 0 means bit-exact."""
        return sum(p.mismatches for p in self.pairs)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0

    def __str__(self) -> str:
        names = " = ".join(self.implementations)
        head = f"{self.data + ': ' if self.data else ''}{self.samples} samples × {self.outputs} outputs"
        note = (f"\n  note: {self.rounded_inputs} input values were first rounded to the model's "
                f"{self.input_dtype} input dtype" if self.rounded_inputs else "")
        if self.overflow is not None and self.overflow.any:
            note += f"\n  warning: {self.overflow.summary()}"
        if self.ok:
            return f"✔ {head}: {names} (0 mismatches){note}\n"
        lines = [f"✘ {head}: {_plural(self.mismatches, 'mismatch')}"]
        width = max(len(f"{p.a} vs {p.b}") for p in self.pairs)
        for p in self.pairs:
            line = f"  {f'{p.a} vs {p.b}:':<{width + 1}} {p.mismatches} of {p.compared} values differ"
            if p.mismatches:
                line += f" in {_plural(p.samples_with_mismatch, 'sample')}, max |Δ| {p.max_abs_diff!r}"
            lines.append(line)
        d = self.first_mismatch
        pair = next(p for p in self.pairs if p.first is d)
        lines.append(f"  first: sample {d.sample}, output {d.output!r} element {list(d.index)}: "
                     f"{pair.a} {d.a!r} ≠ {pair.b} {d.b!r}")
        if self.diverging_layer is not None:
            lines.append(f"  first diverging layer: {self.diverging_layer!r}")
        return "\n".join(lines) + note + "\n"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('h') else 's'}"


# ---------------------------------------------------------------------------------- inputs

def _input_name(tensor) -> str:
    return tensor._keras_history.operation.name


def _user_arrays(x, inputs: Sequence) -> list:
    """``x`` as one entry per Keras input: an array, a list/tuple in input order, or a dict by name."""
    names = [_input_name(t) for t in inputs]
    if isinstance(x, Mapping):
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(f"verify: inputs {missing} are missing; the model's inputs are {names}")
        return [x[n] for n in names]
    if isinstance(x, (list, tuple)) and (len(inputs) > 1 or (len(x) == 1 and np.ndim(x[0]) > 1)):
        if len(x) != len(inputs):
            raise ValueError(f"verify: the model has {len(inputs)} inputs {names}, got {len(x)} arrays")
        return list(x)
    if len(inputs) > 1:
        raise ValueError(f"verify: the model has {len(inputs)} inputs {names}; pass a list or a dict")
    return [x]


def _checked(a, tensor) -> np.ndarray:
    """One input as float64 ``(batch, *shape)`` with at least one sample; a clear ValueError else."""
    a = checked_input(a, tuple(tensor.shape[1:]), _input_name(tensor))
    if len(a) == 0:
        raise ValueError(f"verify: input {_input_name(tensor)!r} holds no samples")
    return a


def _as_keras_dtype(a: np.ndarray, tensor) -> tuple[np.ndarray, int]:
    """Round ``a`` to the dtype Keras will cast it to; return it (float64) and how many changed."""
    try:
        dtype = np.dtype(str(tensor.dtype))
    except TypeError:
        return a, 0
    if not np.issubdtype(dtype, np.floating) or dtype == np.float64:
        return a, 0
    with np.errstate(over="ignore"):
        r = a.astype(dtype).astype(np.float64)
    if np.isinf(r).any():
        raise ValueError(f"verify: input {_input_name(tensor)!r} holds values beyond the range of "
                         f"its Keras dtype {dtype}")
    return r, int(np.count_nonzero(r != a))


def _firmware_feed(fw, inputs: Sequence) -> Callable[[list], Any]:
    """A function from per-Keras-input arrays to what ``fw.predict`` takes: positionally, in the
    model's input order, exactly as a user calls ``predict`` (never matched by name, so a firmware
    whose inputs are in another order shows as mismatches)."""
    if len(fw.inputs) != len(inputs):
        raise ValueError(f"verify: the firmware has {len(fw.inputs)} inputs, the model "
                         f"{len(inputs)}; was the firmware converted from this model?")
    if len(fw.inputs) == 1:
        return lambda arrays: arrays[0]
    return lambda arrays: list(arrays)


# ---------------------------------------------------------------------------------- running

def _to_list(y) -> list[np.ndarray]:
    ys = y if isinstance(y, (list, tuple)) else [y]
    return [np.asarray(keras.ops.convert_to_numpy(t) if keras.ops.is_tensor(t) else t, np.float64)
            for t in ys]


def _run_batched(fn: Callable[[list], Any], arrays: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Run ``fn`` on slices of ``arrays`` and concatenate each output over the batch."""
    parts = [_to_list(fn([a[s:s + batch_size] for a in arrays]))
             for s in range(0, len(arrays[0]), batch_size)]
    return [np.concatenate(p, axis=0) for p in zip(*parts)]


def _keras_call(model: keras.Model) -> Callable[[list], Any]:
    # calling the model keeps the input dtype; Model.predict would cast float64 data to float32
    structure = functional_graph(model).input
    return lambda arrays: model(keras.tree.pack_sequence_as(structure, arrays), training=False)


def _same_as_raw(keras_values: np.ndarray, raw: np.ndarray, t) -> bool:
    """Whether Keras's float64 values are exactly the emulator's raw codes of type ``t``."""
    if keras_values.shape != raw.shape or int(t.width.max(initial=0)) > MAX_FLOAT_WIDTH:
        return False        # float64 cannot hold such a tensor: Keras cannot be exact there
    return bool(np.array_equal(keras_values, np.ldexp(raw.astype(np.float64), -t.f)))


def _first_diverging_layer(model: keras.Model, fw, arrays: list[np.ndarray], feed) -> str | None:
    """Trace one sample through the emulator and Keras; name the first layer whose output differs.

    The emulator's trace is taken as raw integer codes, so tensors wider than float64 holds (an
    exact sum inside the firmware, say) never stop the search.
    """
    trace = fw.run_raw(feed(arrays))
    graph = functional_graph(model)
    layers = {layer.name: layer for layer in graph.layers}
    order = [n for n in [s.name for s in fw.inputs] + [op.name for op in fw.ops] if n in layers]
    try:
        probe = keras.Model(graph.input, [layers[n].output for n in order])
    except (ValueError, AttributeError):      # e.g. a layer used twice has no single output
        return None
    outs = _to_list(_keras_call(probe)(arrays))
    for name, out in zip(order, outs):
        if not _same_as_raw(out, trace[name], fw.types[name]):
            return name
    return None


def verify(model: keras.Model, x, firmware=None, project=None, batch_size: int = 1024,
           data: str | None = None) -> VerificationReport:
    """Run ``model``, its firmware emulator and optionally ``project`` on ``x``; compare exactly.

    Args:
        model: a calibrated HGQ model (see :func:`hgq_fpga.calibrate`).
        x: inputs: an array ``(batch, *shape)``, or for several inputs a list in the model's input
            order or a dict keyed by input name.
        firmware: the :class:`~hgq_fpga.ir.FirmwareModel` to check; default ``to_firmware(model)``.
        project: optional further implementation(s): one, or a list, of objects with
            ``predict(x)`` that take inputs as ``FirmwareModel.predict`` does and return the output
            values (the HLS C simulation, the RTL's Verilator simulation); each is compared with
            the emulator and named by its ``name`` attribute ("C++" where it has none).
        batch_size: samples per call of each implementation.
        data: what ``x`` is, in words ("held-out data"); the report starts with it.

    Returns:
        A :class:`VerificationReport`; ``report.ok`` is True when every value agrees.

    Raises:
        ValueError: uncalibrated model, bad inputs (wrong shape, NaN, inf, empty) or implementations
            whose outputs do not have the same number or shapes.
    """
    if batch_size < 1:
        raise ValueError(f"verify: batch_size must be >= 1, got {batch_size}")
    require_calibrated(model)
    if firmware is None:
        from hgq_fpga.nn.freeze import to_firmware
        firmware = to_firmware(model)
    inputs = list(functional_graph(model).inputs)
    arrays = [_checked(a, t) for a, t in zip(_user_arrays(x, inputs), inputs)]
    if len({len(a) for a in arrays}) > 1:
        raise ValueError(f"verify: inputs have different numbers of samples {[len(a) for a in arrays]}")
    rounded = [_as_keras_dtype(a, t) for a, t in zip(arrays, inputs)]
    arrays = [a for a, _ in rounded]
    feed = _firmware_feed(firmware, inputs)
    names = list(firmware.outputs)

    y_keras = _run_batched(_keras_call(model), arrays, batch_size)
    y_fw, overflow = firmware.predict(feed(arrays), report=True)   # chunked inside
    y_fw = _to_list(y_fw)
    pairs = [compare_outputs(KERAS, y_keras, EMULATOR, y_fw, names)]
    projects = [] if project is None else list(project) if isinstance(project, (list, tuple)) else [project]
    labels = [implementation_name(p) for p in projects]
    if len(set(labels)) != len(labels):
        raise ValueError(f"verify: two projects have the same name {labels}; give each its own name")
    for prj, label in zip(projects, labels):
        y_prj = _run_batched(lambda a, prj=prj: prj.predict(feed(a)), arrays, batch_size)
        pairs.append(compare_outputs(EMULATOR, y_fw, label, y_prj, names))
    emulator_vs = {label: p.mismatches for label, p in zip(labels, pairs[1:])}

    first = next((p.first for p in pairs if p.first is not None), None)
    layer = None
    if pairs[0].first is not None:
        s = pairs[0].first.sample
        layer = _first_diverging_layer(model, firmware, [a[s:s + 1] for a in arrays], feed)
    return VerificationReport(
        samples=len(arrays[0]),
        outputs=sum(int(np.prod(y.shape[1:], dtype=np.int64)) for y in y_fw),
        compared=pairs[0].compared,
        keras_vs_emulator=pairs[0].mismatches,
        first_mismatch=first,
        diverging_layer=layer,
        max_abs_diff=max(p.max_abs_diff for p in pairs),
        rounded_inputs=sum(n for _, n in rounded),
        input_dtype=", ".join(sorted({str(t.dtype) for t in inputs})),
        pairs=tuple(pairs),
        overflow=overflow,
        emulator_vs=emulator_vs,
        data=data,
    )

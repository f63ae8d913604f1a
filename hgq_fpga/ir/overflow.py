"""Which values of a batch fell outside the calibrated range, so that they wrapped or saturated.

Bit-exact is not the same as right: an input far outside the calibration data overflows in the
firmware, and the emulator (and Keras, and the C++) reproduce the wrapped or saturated value
faithfully. This module counts, per quantization point, how many values that happened to:

* every model input (its float → fixed cast);
* every cast inside the network (each layer's output quantizer) and each average pooling's final
  cast.

Dense, Conv, Add, ReLU and max pooling are exact and never overflow; a lookup table's entries are
fixed at build time, so a table does not count either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from hgq_fpga.fixed import out_of_range


@dataclass
class OverflowCount:
    """Values of one tensor that lay outside its type before the overflow mode acted."""

    tensor: str
    where: str          # "input" or "internal"
    overflow: str       # the overflow mode that acted on them: WRAP, SAT, ...
    values: int = 0     # values cast (samples × live elements)
    outside: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class OverflowReport:
    """Per quantization point of a firmware, how many values of a batch overflowed."""

    samples: int = 0
    counts: list[OverflowCount] = field(default_factory=list)

    @property
    def inputs_outside(self) -> int:
        return sum(c.outside for c in self.counts if c.where == "input")

    @property
    def internal_outside(self) -> int:
        return sum(c.outside for c in self.counts if c.where == "internal")

    @property
    def any(self) -> bool:
        return self.inputs_outside + self.internal_outside > 0

    def summary(self) -> str:
        """One line: how many values overflowed, where (empty string when none did)."""
        if not self.any:
            return ""
        worst = sorted((c for c in self.counts if c.outside), key=lambda c: -c.outside)
        parts = ", ".join(f"{c.tensor} {c.outside:,} ({c.overflow})" for c in worst[:4])
        more = f", and {len(worst) - 4} more" if len(worst) > 4 else ""
        return (f"{self.inputs_outside:,} input values and {self.internal_outside:,} values inside "
                f"the network fell outside the calibrated range and wrapped or saturated "
                f"(of {self.samples:,} samples): {parts}{more}")

    def to_dict(self) -> dict:
        return {"samples": self.samples, "inputs_outside": self.inputs_outside,
                "internal_outside": self.internal_outside,
                "per_tensor": [c.to_dict() for c in self.counts if c.outside]}

    def __str__(self) -> str:
        return self.summary() or f"no value of {self.samples:,} samples fell outside the calibrated range"


def count_overflows(fw, xs: list[np.ndarray], env: dict[str, np.ndarray],
                    report: OverflowReport) -> None:
    """Add the overflows of one chunk to ``report``: ``xs`` are the validated float64 inputs and
    ``env`` the raw codes of every tensor (``FirmwareModel.run_raw``)."""
    kernels = fw._compiled()
    report.samples += len(xs[0])
    rows = {c.tensor: c for c in report.counts}

    def add(name: str, where: str, overflow: str, live: np.ndarray, outside: np.ndarray) -> None:
        row = rows.get(name)
        if row is None:
            row = rows[name] = OverflowCount(name, where, overflow)
            report.counts.append(row)
        row.values += int(live.sum()) * len(outside)
        row.outside += int(np.count_nonzero(outside))

    for spec, q, x in zip(fw.inputs, fw._quantizers, xs):
        add(spec.name, "input", spec.overflow, spec.type.live, q.outside(x))
    for op, kern in zip(fw.ops, kernels):
        pre_cast = getattr(kern, "pre_cast", None)
        if pre_cast is None:
            continue
        m, f_in = pre_cast([env[t] for t in op.inputs])
        t = op.out
        add(op.name, "internal", op.overflow, t.live, out_of_range(m, f_in, t.k, t.i, t.f, op.round))

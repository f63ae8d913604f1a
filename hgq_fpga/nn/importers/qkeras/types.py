"""Fixed-point type specifications a user gives the importer: ``"ap_fixed<16,6>"`` or ``(k, i, f)``."""

from __future__ import annotations

import re
from typing import Any

from hgq_fpga import fixed

from hgq_fpga.nn.importers.qkeras.quantizers import QKerasCast, cast

_AP = re.compile(r"^\s*ap_(u?)fixed\s*<\s*(\d+)\s*,\s*(-?\d+)\s*(?:,\s*(?:AP_)?(\w+)\s*)?(?:,\s*(?:AP_)?(\w+)\s*)?>\s*$")


def parse_type(spec: Any, what: str, round: str = "RND_CONV", overflow: str = "SAT") -> QKerasCast:
    """A :class:`QKerasCast` from ``"ap_fixed<W,I[,Q[,O]]>"``, ``"ap_ufixed<W,I>"``, ``(k, i, f)``
    or ``{"k", "i", "f", "round", "overflow"}``; ``what`` names the option in errors."""
    if isinstance(spec, QKerasCast):
        return spec
    if isinstance(spec, str):
        m = _AP.match(spec)
        if not m:
            raise ValueError(f"{what}: {spec!r} is not a type like 'ap_fixed<16,6>' or "
                             "'ap_ufixed<8,0,AP_RND_CONV,AP_SAT>'")
        unsigned, w, integer, q, o = m.groups()
        k = 0 if unsigned else 1
        i = int(integer) - k
        f = int(w) - int(integer)
        return cast(k, i, f, fixed.check_round(q or round), fixed.check_overflow(o or overflow), spec.strip())
    if isinstance(spec, dict):
        return cast(int(spec["k"]), int(spec["i"]), int(spec["f"]),
                        fixed.check_round(spec.get("round", round)),
                        fixed.check_overflow(spec.get("overflow", overflow)), str(spec))
    if isinstance(spec, (tuple, list)) and len(spec) == 3:
        k, i, f = (int(v) for v in spec)
        if k not in (0, 1) or k + i + f < 1:
            raise ValueError(f"{what}: (k, i, f) = {tuple(spec)} needs k in (0, 1) and a width >= 1")
        return cast(k, i, f, round, overflow, f"(k={k}, i={i}, f={f})")
    raise ValueError(f"{what}: expected a type like 'ap_fixed<16,6>' or (k, i, f), got {spec!r}")

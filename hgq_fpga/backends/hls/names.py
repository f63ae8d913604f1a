"""C++ identifiers for IR tensors: readable, valid and collision-free.

A tensor named ``dense_1`` becomes the array ``dense_1``, its container type ``dense_1_t``, the
function computing it ``dense_1_op`` and, for model inputs and outputs, the ports ``dense_1_in`` /
``dense_1_out``.  IR names may hold any character and may clash with C++ keywords, with each
other after sanitising, with the top function, or with the short local names the templates use;
:class:`NameTable` resolves all of that by appending ``_2``, ``_3``...
"""

from __future__ import annotations

import re

from hgq_fpga.backends.common.names import CPP_KEYWORDS, check_design_name

#: Suffixes every tensor claims (array, container typedef, op function, ports).
DERIVED = ("", "_t", "_op", "_in", "_out")

#: Local identifiers of the templates (op functions, top, bridge, testbench) that a tensor array
#: must not shadow.
TEMPLATE_LOCALS = frozenset("""
    in0 in1 in2 in3 out e n p o q s m v y w b c acc code idx src dst ptr bias vals prod sum
    ia ib ac bc xc src0 src1 src2 src3
    samples bad fin fout expected got main begin end chunk pool threads t xd open_data std
""".split())


def check_top_name(name: str) -> str:
    """The design name as the top function: a usable design name that no template local shadows."""
    check_design_name(name)
    if name in TEMPLATE_LOCALS:
        raise ValueError(f"name {name!r} cannot name the design: the HLS templates use it as a local name")
    return name


def _sanitise(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    s = re.sub(r"_+", "_", s).strip("_") or "t"
    if not s[0].isalpha() or s.startswith("ap_") or s in CPP_KEYWORDS or s in TEMPLATE_LOCALS:
        s = "t_" + s
    return s


class NameTable:
    """Assigns each IR tensor name a base identifier whose derived names are all unused."""

    def __init__(self, top: str) -> None:
        self.top = check_top_name(top)
        self._used = {top, f"{top}_batch", f"{top}_samples", f"{top.upper()}_H_"}
        self._base: dict[str, str] = {}

    def add(self, tensor: str) -> str:
        """Claim identifiers for ``tensor``; returns its base identifier."""
        if tensor in self._base:
            return self._base[tensor]
        root = _sanitise(tensor)
        base, n = root, 1
        while any(base + d in self._used for d in DERIVED):
            n += 1
            base = f"{root}_{n}"
        self._used.update(base + d for d in DERIVED)
        self._base[tensor] = base
        return base

    def __getitem__(self, tensor: str) -> str:
        return self._base[tensor]

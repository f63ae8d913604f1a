"""Test vectors of the Verilator testbench: raw codes packed into 32-bit words, bus by bus.

A bus carries the live elements of one tensor, element ``e`` at bits ``offsets[e] ..
offsets[e] + widths[e] - 1`` (two's complement for signed elements).  A sample is every input
bus in port order, each padded to whole 32-bit words (little-endian word order), which is how
Verilator lays out ports.  ``input.bin`` starts with the sample count (uint32).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hgq_fpga.backends.rtl.lower import Port


def words(port: Port) -> int:
    """32-bit words of a bus (0 for a bus without live elements)."""
    return (port.width + 31) // 32


def pack(ports: list[Port], codes: list[np.ndarray]) -> np.ndarray:
    """``(N, Σ words)`` uint32 of raw codes ``codes[p]`` (shape ``(N, *port.shape)``)."""
    n = len(codes[0]) if codes else 0
    cols = []
    for port, raw in zip(ports, codes):
        flat = np.asarray(raw, dtype=np.int64).reshape(n, -1)
        out = np.zeros((n, words(port)), dtype=np.uint64)
        for e, off, w in zip(port.elements, port.offsets, port.widths):
            v = flat[:, e].astype(np.uint64) & np.uint64((1 << w) - 1)
            r = off % 32
            for t in range((r + w + 31) // 32):
                shift = 32 * t - r
                part = (v << np.uint64(r)) if shift < 0 else (v >> np.uint64(shift))
                out[:, off // 32 + t] |= part & np.uint64(0xFFFFFFFF)
        cols.append(out)
    return np.concatenate(cols, axis=1).astype(np.uint32) if cols else np.zeros((n, 0), np.uint32)


def unpack(ports: list[Port], data: np.ndarray) -> list[np.ndarray]:
    """Raw int64 codes ``(N, *shape)`` per port from ``(N, Σ words)`` uint32 words."""
    n = len(data)
    data = np.asarray(data, dtype=np.uint64)
    outs, col = [], 0
    for port in ports:
        flat = np.zeros((n, int(np.prod(port.shape, dtype=np.int64))), dtype=np.int64)
        for e, off, w, k in zip(port.elements, port.offsets, port.widths, port.signed):
            v = np.zeros(n, dtype=np.uint64)
            r = off % 32
            for t in range((r + w + 31) // 32):
                shift = 32 * t - r
                word = data[:, col + off // 32 + t]
                v |= (word >> np.uint64(r)) if shift < 0 else (word << np.uint64(shift))
            v &= np.uint64((1 << w) - 1)
            s = v.astype(np.int64)
            if k:
                s = np.where(s >= (1 << (w - 1)), s - (1 << w), s)
            flat[:, e] = s
        outs.append(flat.reshape((n,) + tuple(port.shape)))
        col += words(port)
    return outs


def write_inputs(path: Path, ports: list[Port], codes: list[np.ndarray]) -> None:
    """``input.bin``: the sample count, then the packed samples."""
    packed = pack(ports, codes)
    with open(path, "wb") as fh:
        fh.write(np.array([len(packed)], dtype="<u4").tobytes())
        fh.write(packed.astype("<u4").tobytes())


def read_outputs(path: Path, ports: list[Port], n: int) -> list[np.ndarray]:
    """Raw output codes from the testbench's ``output.bin`` of ``n`` samples."""
    total = sum(words(p) for p in ports)
    data = np.fromfile(path, dtype="<u4")
    if data.size != n * total:
        raise RuntimeError(f"{path}: expected {n * total} words from the simulation, got {data.size}")
    return unpack(ports, data.reshape(n, total))


def write_expected(path: Path, ports: list[Port], codes: list[np.ndarray]) -> None:
    """``expected.bin``: the packed output codes, byte for byte what the testbench writes."""
    path.write_bytes(pack(ports, codes).astype("<u4").tobytes())

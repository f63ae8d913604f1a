"""Describe the machine a benchmark ran on, so every number in BENCHMARKS.md has its context.

Versions are read from the installed package metadata, so describing the machine imports neither
TensorFlow nor Keras.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: packages whose versions are recorded; the first installed name of each group is used
PACKAGES = {"numpy": ("numpy",), "tensorflow": ("tensorflow", "tensorflow-cpu"), "keras": ("keras",),
            "hls4ml": ("hls4ml",), "hgq_fpga": ("hgq_fpga", "hgq-fpga"), "matplotlib": ("matplotlib",)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(names: tuple[str, ...]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _compiler() -> str | None:
    try:
        out = subprocess.run(["g++", "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.splitlines()[0].strip() if out.returncode == 0 and out.stdout else None


def describe() -> dict:
    """CPU model, core counts, RAM, OS, Python/package/compiler versions, date and load average."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {key: _version(names) for key, names in PACKAGES.items()},
        "compiler": _compiler(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_start": [round(v, 2) for v in load] if load else None,
    }

"""``export_emulator``: write a self-contained C++17 emulator library of a firmware.

The library is for software outside Python, such as an experiment's trigger simulation (CMSSW):
no Vitis, no Python and nothing of hgq_fpga at run time.  Its firmware source is the C++ that the
HLS backend writes for synthesis, without the ``#pragma HLS`` lines, so the emulator and the board
run the same text; a thin C API (``NAME_predict`` on doubles, ``NAME_predict_raw`` on the integer
codes of the input words) wraps it.  Layout of the folder:

    include/NAME.h                 the C/C++ API (see its comment for the conventions)
    src/NAME.cpp                   the API; compiles src/firmware/ inside an unnamed namespace
    src/firmware/NAME_firmware.*   the firmware C++ (HLS text, pragmas removed)
    third_party/ap_types/          the ap_types headers it includes, their LICENSE and origin
    test/NAME_test.cpp, test/data/ a test replaying hgq_fpga's emulator outputs exactly
    CMakeLists.txt, Makefile       static and shared library, and the test
    README.md, hgq_emulator.json   usage; what was exported (marks the folder as hgq_fpga's)

The folder is built in a hidden sibling and renamed into place, holds no absolute path, and an
existing folder is replaced only with ``replace=True`` and only if hgq_fpga wrote it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from hgq_fpga.backends.common.aptypes import copy_ap_types
from hgq_fpga.folders import check_replaceable, move_into_place, observe, staging_folder
from hgq_fpga.backends.hls.names import check_top_name
from hgq_fpga.backends.hls.plan import FirmwarePlan, build_plan
from hgq_fpga.backends.common.templates import render
from hgq_fpga.backends.hls.writer import default_tb_data
from hgq_fpga.ir import FirmwareModel, load_firmware

MANIFEST = "hgq_emulator.json"
MANIFEST_FORMAT = "hgq_fpga.emulator"
MANIFEST_VERSION = 1
#: Samples of the test vectors: half random (in and beyond range), half exact rounding ties.
TEST_SAMPLES = 64

_HLS_PRAGMA = re.compile(r"^[ \t]*#pragma HLS\b.*\n", re.MULTILINE)


def strip_hls_pragmas(text: str) -> str:
    """The C++ without its ``#pragma HLS`` lines (unknown pragmas warn under ``-Wall``)."""
    return _HLS_PRAGMA.sub("", text)


#: where a design folder (and an HLS project) keeps its firmware IR
DESIGN_IR = "ir"


def _firmware_and_name(source, name: str | None) -> tuple[FirmwareModel, str]:
    """The firmware of ``source`` (a FirmwareModel, a design folder or a saved IR folder)."""
    if isinstance(source, FirmwareModel):
        return source, name or "myproject"
    path = Path(source)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a design folder, a firmware IR folder or a "
                                "FirmwareModel")
    if (path / DESIGN_IR / "model.json").is_file():       # a design folder keeps its IR in ir/
        return load_firmware(path / DESIGN_IR), name or "myproject"
    return load_firmware(path), name or "myproject"


def vector_inputs(fw: FirmwareModel, n: int = TEST_SAMPLES, seed: int = 0) -> list[np.ndarray]:
    """Test-vector inputs: random values reaching beyond every element's range (so overflow
    happens), and exact ties of the input quantization (half a step), ``n`` samples in all."""
    rng = np.random.default_rng(seed)
    wide = default_tb_data(fw, n - n // 2, seed)
    out = []
    for spec, a in zip(fw.inputs, wide):
        ties = (rng.integers(-64, 64, (n // 2, *spec.shape)) + 0.5) * np.ldexp(1.0, -spec.type.f)
        out.append(np.concatenate([a, ties]))
    return out


def _rows(arrays: list[np.ndarray], fmt: str) -> str:
    """One sample per line, the arrays' elements concatenated (doubles round-trip with %.17g)."""
    rows = np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)
    return "".join(" ".join(fmt % v for v in row.tolist()) + "\n" for row in rows)


def _manifest(fw: FirmwareModel, name: str, samples: int) -> dict:
    from hgq_fpga import __version__

    def io(n: str) -> dict:
        t = fw.types[n]
        return {"name": n, "shape": list(t.shape), "size": int(t.k.size)}
    return {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "name": name,
            "hgq_fpga_version": __version__, "inputs": [{**io(s.name), "source": s.source} for s in fw.inputs],
            "outputs": [io(o) for o in fw.outputs], "test_samples": samples}


def _files(fw: FirmwareModel, plan: FirmwarePlan, name: str, xs: list[np.ndarray]) -> dict[str, str]:
    raw = fw.run_raw(xs if len(xs) > 1 else xs[0])
    y = fw.predict(xs if len(xs) > 1 else xs[0])
    ys = y if isinstance(y, list) else [y]
    ctx = dict(plan=plan, name=name)
    top = plan.top
    return {
        f"include/{name}.h": render("emulator/header.h.j2", **ctx),
        f"src/{name}.cpp": render("emulator/emulator.cpp.j2", **ctx),
        f"src/firmware/{top}.h": strip_hls_pragmas(render("hls/firmware/header.h.j2", plan=plan)),
        f"src/firmware/{top}.cpp": strip_hls_pragmas(render("hls/firmware/top.cpp.j2", plan=plan,
                                                            protocol="ap_none", ii=1)),
        f"test/{name}_test.cpp": render("emulator/test.cpp.j2", **ctx),
        "test/data/inputs.txt": _rows(xs, "%.17g"),
        "test/data/raw_inputs.txt": _rows([raw[s.name] for s in fw.inputs], "%d"),
        "test/data/outputs.txt": _rows(ys, "%.17g"),
        "CMakeLists.txt": render("emulator/CMakeLists.txt.j2", **ctx),
        "Makefile": render("emulator/Makefile.j2", **ctx),
        "README.md": render("emulator/README.md.j2", samples=len(xs[0]), **ctx),
        MANIFEST: json.dumps(_manifest(fw, name, len(xs[0])), indent=1) + "\n",
    }


def is_emulator_folder(path: Path) -> bool:
    """Whether ``path`` holds a library that :func:`export_emulator` wrote (its manifest says so)."""
    try:
        return json.loads((Path(path) / MANIFEST).read_text()).get("format") == MANIFEST_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def export_emulator(source, out_dir: str | Path, name: str | None = None, test_data=None,
                    replace: bool = False) -> Path:
    """Write the C++ emulator library of ``source`` into ``out_dir``; returns its path.

    ``source``: a :class:`~hgq_fpga.ir.FirmwareModel`, a design folder (``hgq-fpga convert``) or
    a saved firmware IR folder.  ``name``: the C prefix of the API (``NAME_predict``; default the
    design's name, else ``myproject``).  ``test_data``: inputs of the test vectors (an array, or
    a list for several inputs; default :func:`vector_inputs`).  ``replace``: swap out an earlier
    export in ``out_dir`` in one step (never a folder hgq_fpga did not write).

    Raises ``FileExistsError`` for an existing non-empty ``out_dir`` that may not be replaced,
    ``ValueError`` for a name that is not a C identifier or an output wider than 53 bits.
    """
    fw, name = _firmware_and_name(source, name)
    check_top_name(name)
    out = Path(out_dir)
    check_replaceable(out, replace, is_emulator_folder, f"emulator library (with {MANIFEST})")
    plan = build_plan(fw, f"{name}_firmware")
    xs = vector_inputs(fw) if test_data is None else [np.asarray(a, np.float64)
                                                    for a in fw.as_inputs(test_data)]
    files = _files(fw, plan, name, xs)
    seen = observe(out)
    with staging_folder(out) as staging:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text)
        copy_ap_types(staging / "third_party" / "ap_types")
        move_into_place(staging, out, seen=seen, ours=is_emulator_folder if replace else None)
    return out

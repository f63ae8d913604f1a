"""``hgq_fpga.checks.testing``: bit-exactness checks for a physicist's own test suite and CI.

* :func:`assert_bit_exact` runs a model (or a design folder) through Keras, the firmware emulator
  and the C++, and raises ``AssertionError`` naming the first differing value and the first layer
  where they part ways;
* the pytest fixture ``hgq_fpga_design`` opens a design folder (``hgq-fpga convert``) named by
  ``@pytest.mark.hgq_fpga_design("DIR")``, by indirect parametrisation, by
  ``--hgq-fpga-design DIR`` or by ``$HGQ_FPGA_DESIGN``.  The plugin is registered for pytest
  through the ``pytest11`` entry point ``hgq_fpga.checks.testing`` (or add
  ``pytest_plugins = ["hgq_fpga.checks.testing"]`` to the top-level ``conftest.py``);

Importing this module is cheap: Keras is imported only when a Keras model is checked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hgq_fpga.checks.design_folder import Design, open_design
from hgq_fpga.ir.compare import compare_outputs
from hgq_fpga.ir.model import FirmwareModel

#: Environment variable naming the design folder of the ``hgq_fpga_design`` fixture.
DESIGN_ENV = "HGQ_FPGA_DESIGN"


def _design(source):
    """A :class:`~hgq_fpga.checks.design_folder.Design` for a folder path; ``None`` for anything else."""
    if isinstance(source, Design):
        return source
    if isinstance(source, (str, os.PathLike)):
        return open_design(source)
    return None


def _firmware_only(fw: FirmwareModel, x, project) -> Any:
    """Emulator vs ``project`` when there is no Keras model; AssertionError on a difference."""
    if project is None:
        raise ValueError("assert_bit_exact on a FirmwareModel needs project= (the implementation "
                         "to compare with, e.g. the HLS C simulation or an exported emulator)")
    pair = compare_outputs("emulator", fw.predict(x), "implementation", project.predict(x),
                           list(fw.outputs))
    if pair.mismatches:
        d = pair.first
        raise AssertionError(
            f"not bit-exact: {pair.mismatches} of {pair.compared} values differ; first: sample "
            f"{d.sample}, output {d.output!r} element {list(d.index)}: emulator {d.a!r} ≠ "
            f"implementation {d.b!r} (give the Keras model to name the first diverging layer)")
    return pair


def assert_bit_exact(model_or_design, x, *, firmware: FirmwareModel | None = None, project=None,
                     csim: bool = True, batch_size: int = 1024) -> Any:
    """Assert that every implementation gives the same bits on ``x``; return the report.

    ``model_or_design``: a calibrated Keras model, a design folder (path or opened
    :class:`~hgq_fpga.checks.design_folder.Design`: its Keras copy, firmware IR and, with ``csim``,
    every project the folder holds: the C simulation built exactly as HLS synthesises it, the RTL's
    Verilator simulation, the C++ library), or a :class:`~hgq_fpga.ir.FirmwareModel`
    (compared with ``project`` only).  ``firmware``/``project``: as in :func:`hgq_fpga.verify`;
    ``project`` is anything with ``predict(x)``, e.g. an exported emulator's
    :class:`~hgq_fpga.backends.emulator.library.EmulatorLibrary`.

    Raises ``AssertionError`` with the mismatch count, the first differing value (sample, output,
    element, both values) and the first diverging layer, as :func:`hgq_fpga.verify` reports them.
    """
    if isinstance(model_or_design, FirmwareModel):
        return _firmware_only(model_or_design, x, project)
    from hgq_fpga.checks.verify import verify

    design = _design(model_or_design)
    if design is not None:
        model = design.keras_model()
        firmware = firmware if firmware is not None else design.firmware()
        if project is None and csim:
            project = design.projects(firmware)   # every project of the folder, compiled
    else:
        model = model_or_design
    report = verify(model, x, firmware=firmware, project=project, batch_size=batch_size)
    if not report.ok:
        raise AssertionError(f"not bit-exact:\n{report}")
    return report


# ------------------------------------------------------------------------------ pytest plugin

try:
    import pytest
except ImportError:                        # assert_bit_exact and write_junit work without pytest
    pytest = None

if pytest is not None:
    def pytest_addoption(parser) -> None:
        parser.addoption("--hgq-fpga-design", metavar="DIR", default=None,
                         help=f"design folder of the hgq_fpga_design fixture (or ${DESIGN_ENV})")

    def pytest_configure(config) -> None:
        config.addinivalue_line("markers", "hgq_fpga_design(path): the design folder that the "
                                           "hgq_fpga_design fixture opens")

    @pytest.fixture
    def hgq_fpga_design(request):
        """The design folder (``hgq-fpga convert``), opened: ``.firmware()``, ``.keras_model()``,
        ``.project()``, ``.run``; pass it to :func:`assert_bit_exact`."""
        marker = request.node.get_closest_marker("hgq_fpga_design")
        path = (getattr(request, "param", None) or (marker.args[0] if marker and marker.args else None)
                or request.config.getoption("--hgq-fpga-design", None) or os.environ.get(DESIGN_ENV))
        if not path:
            pytest.fail("hgq_fpga_design: no design folder given; use "
                        '@pytest.mark.hgq_fpga_design("DIR"), --hgq-fpga-design DIR or '
                        f"${DESIGN_ENV}", pytrace=False)
        return _design(Path(path))

"""A verification as JUnit XML, for CI systems (``hgq-fpga verify --junit``)."""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path


def write_junit(report, path: str | Path, suite: str = "hgq_fpga.verify") -> Path:
    """Write a :func:`hgq_fpga.verify` report as JUnit XML: one test case per compared pair
    (``Keras vs emulator``, ``emulator vs C++``), failing with the mismatch details.  The file is
    written next to its final name and renamed into place."""
    path = Path(path)
    failures = [p for p in report.pairs if p.mismatches]
    root = ET.Element("testsuites")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(report.pairs)),
                       failures=str(len(failures)), errors="0", skipped="0")
    for pair in report.pairs:
        case = ET.SubElement(ts, "testcase", classname=suite, name=f"{pair.a} vs {pair.b}")
        if pair.mismatches:
            message = (f"{pair.mismatches} of {pair.compared} values differ in "
                       f"{pair.samples_with_mismatch} sample(s)")
            ET.SubElement(case, "failure", message=message, type="BitMismatch").text = str(report)
    ET.SubElement(ts, "system-out").text = str(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            ET.ElementTree(root).write(handle, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

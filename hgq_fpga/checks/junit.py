"""A verification as JUnit XML, for CI systems (``hgq-fpga verify --junit``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from hgq_fpga.folders import write_file


def write_junit(report, path: str | Path, suite: str = "hgq_fpga.verify", replace: bool = False) -> Path:
    """Write a :func:`hgq_fpga.verify` report as JUnit XML: one test case per compared pair
    (``Keras vs emulator``, ``emulator vs C++``), failing with the mismatch details.  The file is
    written in one step; an existing one is replaced only with ``replace``."""
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
    return write_file(path, lambda tmp: ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True),
                      replace=replace, option="--force (replace=True in Python)")

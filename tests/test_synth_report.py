"""Reading the C-synthesis XML report into numbers, JSON and Markdown."""

import json
from pathlib import Path

import pytest

from hgq_fpga.backends.hls.synth_report import ReportError, parse_csynth_xml, write_report

FAKE = Path(__file__).parent / "data" / "fake_csynth.xml"


def test_headline_numbers():
    rep = parse_csynth_xml(FAKE)
    assert (rep.top, rep.part, rep.tool_version) == ("myproject", "xcvu9p-flga2104-2L-e", "2023.2")
    assert (rep.latency_cycles_worst, rep.interval_max, rep.latency_ns_worst) == (7, 1, 35.0)
    assert rep.resources == {"LUT": 23117, "FF": 4821, "DSP": 3, "BRAM_18K": 0, "URAM": 0}
    assert rep.utilisation()["DSP"] == 3 / 6840


def test_json_and_markdown(tmp_path):
    json_path, md_path = write_report(parse_csynth_xml(FAKE), tmp_path)
    data = json.loads(json_path.read_text())
    assert data["resources"]["LUT"] == 23117 and data["latency_ns_worst"] == 35.0
    table = md_path.read_text()
    assert "| LUT | 23,117 | 1,182,240 | 1.96 % |" in table
    assert "| 7–7 | 35 | 1–1 |" in table


def test_missing_field_is_named(tmp_path):
    bad = tmp_path / "r.xml"
    bad.write_text(FAKE.read_text().replace("<Worst-caseLatency>7</Worst-caseLatency>", ""))
    with pytest.raises(ReportError, match="Worst-caseLatency"):
        parse_csynth_xml(bad)


def test_missing_file_says_to_synthesise(tmp_path):
    with pytest.raises(ReportError, match="make synth"):
        parse_csynth_xml(tmp_path / "none.xml")

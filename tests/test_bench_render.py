"""BENCHMARKS.md and its figures are drawn from bench/results.json alone: the committed page is what the
renderer makes of the committed store, every number on it comes from the store, every plotted point
is a stored number, and the store refuses a record its study faults."""

from __future__ import annotations

import json
import re

import pytest

from bench import render, studies
from bench.common import store

DEST = store.Destination.at()
NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?!\w)")


@pytest.fixture(scope="module")
def results() -> dict:
    return store.load(DEST.results)


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _moved(value, scale: float, square: bool):
    """The store with its measurements moved: floats scaled, counts of 100 and more squared or tripled
    (smaller integers are widths, epochs and seeds that the page looks up)."""
    if isinstance(value, dict):
        return {k: _moved(v, scale, square) for k, v in value.items()}
    if isinstance(value, list):
        return [_moved(v, scale, square) for v in value]
    if isinstance(value, float):
        return value * scale + 0.00123
    if isinstance(value, int) and not isinstance(value, bool) and value >= 100:
        return value * value + 7 if square else 3 * value + 1
    return value


def test_the_committed_page_is_rendered_from_the_committed_store(results):
    assert render.render(results, DEST) == DEST.markdown.read_text()
    assert studies.problems(results) == []


def test_every_number_on_the_page_comes_from_the_store(results):
    """A number on the page moves when the stored numbers move, or it is one the store holds as it is
    (in one of its strings, or a small integer: a width, an epoch count, and the products of two on
    one line), or a named constant of a section (a target); the renderer writes no other number of
    its own but the year of the EasyQuant paper."""
    fixed = {"2020"}
    for leaf in _leaves(results):
        if isinstance(leaf, str):
            fixed |= set(NUMBER.findall(leaf))
        elif isinstance(leaf, int) and not isinstance(leaf, bool) and leaf < 100:
            fixed.add(str(leaf))
    for name in studies.names():
        fixed |= {form for v in vars(studies.section(name)).values()
                  if isinstance(v, (int, float)) and not isinstance(v, bool) for form in (str(v), f"{v:g}")}
    page = render.render(results, DEST).splitlines()
    moved = [render.render(_moved(results, 0.5, True), DEST).splitlines(),
             render.render(_moved(results, 0.3, False), DEST).splitlines()]
    assert all(len(other) == len(page) for other in moved)
    own = []
    for i, line in enumerate(page):
        small = [int(t) for t in NUMBER.findall(line) if t in fixed and t.isdigit()]
        for k, token in enumerate(NUMBER.findall(line)):
            still = all(NUMBER.findall(other[i])[k:k + 1] == [token] for other in moved)
            product = token.isdigit() and any(a * b == int(token) for a in small for b in small)
            if still and token not in fixed and not product:
                own.append((token, line))
    assert own == []


def test_a_changed_number_is_printed_changed(results):
    tampered = json.loads(json.dumps(results))
    tampered["studies"]["exactness"]["mismatches"] = 987654
    res = tampered["studies"]["rtl"]["models"]["small"]["ours"]["resources"]
    res["LUT"] = 123457
    text = render.render(tampered, DEST)
    assert "**987,654**" in text and f"| 123,457 / {res['FF']:,} / {res['CARRY']:,} / {res['DSP']} |" in text


def test_every_plotted_point_is_a_stored_number(results, tmp_path):
    """Each figure's markers (lines with markers, scatter points) sit at stored numbers (accuracies
    may be in percent); the PTQ figures also show the resource study's fronts, the particle study's
    LUT figure the RTL study's MLPs."""
    dest = store.Destination.at(tmp_path)
    drawn = 0
    for name, page in render.pages(results, dest):
        figures = getattr(studies.section(name), "figures", None)
        if figures is None:
            continue
        also = {"ptq": "resource", "particles": "rtl", "particles_full": "rtl"}.get(name)  # another study's points too
        records = [results["studies"][name]] + ([results["studies"][also]] if also in results["studies"] else [])
        numbers = {float(v) for v in _leaves(records) if isinstance(v, (int, float)) and not isinstance(v, bool)}
        numbers |= {100 * v for v in numbers}
        for file, fig in figures(results["studies"][name], page).items():
            points = [tuple(p) for ax in fig.axes for line in ax.lines
                      if line.get_marker() not in (None, "None", "", " ") for p in line.get_xydata()]
            points += [tuple(p) for ax in fig.axes for c in ax.collections for p in c.get_offsets()]
            assert points and all(x in numbers and y in numbers for x, y in points), (name, file)
            drawn += 1
    # the particle study's LUT figure is drawn once its RTL figures are measured (``--rtl``); the
    # seeded studies draw one figure per architecture where HGQ2 ran
    rtl_rows = any(e.get("rtl") for archs in results["studies"].get("particles", {}).get("results", {}).values()
                   for e in archs.values())
    hgq2_fronts = sum(bool(a["hgq_fronts"] and a.get("hgq2")) for study in ("seeded", "seeded_full")
                      for a in results["studies"].get(study, {}).get("architectures", {}).values())
    # the full particle study (recorded apart, architecture by architecture): a front figure per data set
    full = results["studies"].get("particles_full", {}).get("results", {})
    full_figures = len(full) + any(e.get("rtl") for archs in full.values() for e in archs.values())
    assert drawn == 8 + rtl_rows + hgq2_fronts + full_figures


def test_the_store_refuses_a_faulty_record_and_keeps_the_file(tmp_path):
    path = tmp_path / "results.json"
    store.update(path, render.put({"qkeras": {"qkeras": {"mismatches": {"val": 0}, "rtl": {}}, "hgq": {"rtl": {}}}}),
                 studies.problems)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="studies.qkeras: the QKeras import differs"):
        store.update(path, render.put({"qkeras": {"qkeras": {"mismatches": {"val": 2}}, "hgq": {}}}), studies.problems)
    with pytest.raises(ValueError, match="studies.ghost: no study bench/studies/ghost"):
        store.update(path, render.put({"ghost": {}}), studies.problems)
    assert path.read_bytes() == before
    with pytest.raises(KeyError, match="without a package in bench/studies: ghost"):
        render.render({"studies": {"ghost": {}}}, DEST)


def test_every_study_has_a_section_and_the_suite_a_headline():
    assert set(studies.SUITE) <= set(studies.names())
    for name in studies.names():
        section = studies.section(name)
        assert isinstance(section.ORDER, int) and callable(section.render)
        assert callable(getattr(section, "headline", None)) == (name in studies.SUITE)


def test_faulty_records_are_named_by_their_studies_problems(results, tmp_path):
    section = studies.section

    def copy(name: str) -> dict:
        return json.loads(json.dumps(results["studies"][name]))

    page = studies.Page(results, tmp_path, tmp_path)
    timing = copy("training_time")
    for key in ("hgq2_s", "hgq2_median_s", "hgq2_ratio", "meets_hgq2_target"):
        del timing["modes"]["graph"]["per_batch"]["64"][key]
    assert section("training_time").problems(timing) == [
        "training_time: graph: HGQ2 was requested but has no times at batch 64"]
    assert "| — | not measured |" in section("training_time").render(timing, page)
    timing["modes"]["graph"]["per_batch"]["1024"]["hgq2_s"] = [3.3] * 4
    assert section("training_time").problems(timing)[1] == \
        "training_time: graph: fewer than 5 timed HGQ2 epochs at batch 1024"
    del timing["modes"]["xla"]
    assert "training_time: no xla measurement" in section("training_time").problems(timing)
    rtl = copy("rtl")
    rtl["models"]["small"]["ours"]["mismatches"] = 3
    assert section("rtl").problems(rtl) == ["small: 3 RTL simulation mismatches"]
    qkeras = copy("qkeras")
    del qkeras["qkeras"]["rtl"], qkeras["hgq"]["rtl"]
    assert len(section("qkeras").problems(qkeras)) == 2
    assert "not synthesised" in section("qkeras").render(qkeras, page)
    assert section("seeded_full").problems({**copy("seeded_full"), "preset": "quick"}) == [
        "seeded_full: preset 'quick', expected 'full'"]
    assert "missing 'models'" in section("ptq").problems({"data": {}, "calibration_images": 1, "mixed_samples": 1})
    ptq = {"data": {}, "calibration_images": 1, "mixed_samples": 1,
           "models": [{"kind": "cnn", "float_accuracy": 0.9, "recipe": {}, "points": []}]}
    assert "cnn: no easyquant point at 6 bits (the targets need it)" in section("ptq").problems(ptq)
    mf = section("multiplier_free")
    assert mf.problems({}) == [f"missing {k!r}" for k in mf._NEEDED]
    rows = {"hgq": {"reaches": True, "accuracy": 0.8, "adders": 100, "adder_ratio_vs_hgq": 1.0, "luts": 50,
                    "lut_ratio_vs_hgq": 1.0},
            "nhot1": {"reaches": True, "accuracy": 0.79, "adders": 50, "adder_ratio_vs_hgq": 3.0, "luts": 10,
                      "lut_ratio_vs_hgq": 5.0}}
    faulty = {"dataset": {}, "architecture": "", "config": {}, "methods": {"hgq": {}, "nhot1": {}},
              "comparison": {"target_accuracy": 0.795, "methods": rows}}
    assert mf.problems(faulty) == ["nhot1: selected accuracy 0.79 below the target",
                                   "nhot1: adder ratio does not match its row"]

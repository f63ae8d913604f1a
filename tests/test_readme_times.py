"""Times quoted in the README come from a measured run, dated, with the machine and its load (issue 35:
the README said "about a minute" for a first `make demo` that took 3 min 27 s)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
DURATION = re.compile(r"\b\d+(\.\d+)? ?(s|seconds?|min|minutes?|hours?)\b|\ba (minute|second|few minutes)\b")
MEASURED = re.compile(r"measured on 20\d\d-\d\d-\d\d on .*cores.*load average", re.S)


def unmeasured_times(text: str) -> list[str]:
    """Paragraphs that quote a duration without saying when, on what and under what load it was measured."""
    return [p.strip()[:80] for p in re.split(r"\n\s*\n", text) if DURATION.search(p) and not MEASURED.search(p)]


def test_readme_times_are_measured_and_dated():
    text = README.read_text()
    assert unmeasured_times(text) == []
    assert re.search(r"first `make demo` \d+ s", text) and re.search(r"quick start below, \d+ s", text)


def test_the_check_catches_an_undated_time():
    assert unmeasured_times("`make demo` takes about a minute.\n") == ["`make demo` takes about a minute."]
    assert unmeasured_times("measured on 2026-12-04 on 2 cores (load average 3): 90 s.") == []

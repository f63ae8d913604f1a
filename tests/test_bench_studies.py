"""The study records of bench/studies: recorded into results.json, rendered, checked."""

from __future__ import annotations

import json
import types

import pytest

from bench import record, report, results, studies


def _fake_study(key="toy", order=5):
    module = types.ModuleType(f"bench.studies.{key}")
    module.KEY, module.ORDER = key, order
    module.render = lambda rec, md_dir, plot_dir: f"## Toy study\n\nratio {rec['ratio']}"
    module.problems = lambda rec: [] if "ratio" in rec else ["missing 'ratio'"]
    return module


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "results.json"
    committed = json.loads(results.Path(report.DEFAULT_RESULTS).read_text())
    committed.pop("studies", None)      # only the fake study of each test
    results.save(committed, path)
    return path


def test_record_copies_raw_into_results_and_renders(tmp_path, base, monkeypatch):
    monkeypatch.setattr(studies, "modules", lambda: {"toy": _fake_study()})
    (tmp_path / "toy_results.json").write_text(json.dumps({"ratio": 0.875}))
    rec = record.record(base, ["toy"], raw_dir=tmp_path)
    assert results.load(base)["studies"]["toy"] == {"ratio": 0.875} == rec["studies"]["toy"]
    text = report.render(rec, tmp_path, tmp_path)
    assert text.rstrip().endswith("## Toy study\n\nratio 0.875")


def test_record_refuses_unknown_missing_and_malformed(tmp_path, base, monkeypatch):
    monkeypatch.setattr(studies, "modules", lambda: {"toy": _fake_study()})
    before = base.read_bytes()
    with pytest.raises(KeyError, match="unknown study 'nope'"):
        record.record(base, ["nope"], raw_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="toy_results.json not found"):
        record.record(base, ["toy"], raw_dir=tmp_path)
    (tmp_path / "toy_results.json").write_text(json.dumps({"other": 1}))
    with pytest.raises(ValueError, match="studies.toy: missing 'ratio'"):
        record.record(base, ["toy"], raw_dir=tmp_path)
    assert base.read_bytes() == before  # nothing half-written


def test_render_refuses_a_study_without_module(tmp_path, monkeypatch):
    monkeypatch.setattr(studies, "modules", lambda: {})
    with pytest.raises(KeyError, match="without a module in bench/studies: ghost"):
        studies.render_all({"ghost": {}}, tmp_path, tmp_path)


def test_every_study_module_is_well_formed():
    for key, module in studies.modules().items():
        assert module.KEY == key and isinstance(module.ORDER, int) and callable(module.render)


def test_committed_raw_records_are_well_formed_and_recorded(tmp_path):
    """Every committed raw record passes its module's checks, renders, and is what results.json holds."""
    recorded = results.load(report.DEFAULT_RESULTS).get("studies", {})
    for key, module in studies.modules().items():
        raw = studies.raw_path(key)
        if not raw.is_file():
            continue
        rec = json.loads(raw.read_text())
        assert getattr(module, "problems", lambda r: [])(rec) == [], key
        assert module.render(rec, tmp_path, tmp_path).startswith("## "), key
        assert recorded.get(key) == rec, f"bench/{raw.name} is not recorded: run python -m bench.record {key}"

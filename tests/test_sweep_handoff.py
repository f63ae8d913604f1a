"""From a sweep or a training to firmware (issue 35): run names that say what differs, the sweep's
front.json read by ``hgq-fpga report --pareto``, no empty front.png, the chosen checkpoint as a path
that works from the working folder with the ``convert`` command for it, and ``hgq-fpga train``.

No Dask here: run folders are written by hand where a sweep would write them; ``hgq-fpga train``
trains a tiny model for 3 epochs in this process.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from hgq_fpga.app.cli import main
from hgq_fpga.app.sweep import SpecError, parse
from hgq_fpga.app.sweep.engine import SweepResult
from hgq_fpga.app.sweep.merge import FRONT_JSON, FRONT_PLOT, front_figure, write
from hgq_fpga.app.sweep.run import RESULT, RUNS, DONE
from test_sweep import digits_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return digits_project(tmp_path_factory.mktemp("handoff project"))   # a space: commands must quote it


BASE = {"data": "digits.npz", "architecture": "tinymodels:mlp", "epochs": 2}


def test_unnamed_runs_are_named_by_the_settings_that_differ(project):
    spec = parse({**BASE, "runs": [{"model_args": {"hidden": 8}}, {"model_args": {"hidden": 32}, "learning_rate": 0.01}]},
                 project)
    assert [r.name for r in spec.runs] == ["hidden=8_learning_rate=0.003", "hidden=32_learning_rate=0.01"]
    seeds = parse({**BASE, "seeds": [0, 1], "runs": [{"model_args": {"hidden": 8}}, {"model_args": {"hidden": 16}}]},
                  project)
    assert [r.name for r in seeds.runs] == ["hidden=8_seed=0", "hidden=8_seed=1", "hidden=16_seed=0", "hidden=16_seed=1"]
    grid = parse({**BASE, "grid": {"beta": [[1e-7, 1e-5], [1e-7, 1e-4]]}}, project)
    assert [r.name for r in grid.runs] == ["beta=1e-07_1e-05", "beta=1e-07_0.0001"]
    assert [r.name for r in parse(BASE, project).runs] == ["seed=0"]          # nothing differs: the seed
    named = parse({**BASE, "grid": {"epochs": [1, 2]}, "runs": [{"name": "small"}, {"name": "large"}]}, project)
    assert [r.name for r in named.runs] == ["small_epochs=1", "small_epochs=2", "large_epochs=1", "large_epochs=2"]
    with pytest.raises(SpecError, match=r"runs\[1\]: two runs are both named 'seed=0'"):
        parse({**BASE, "runs": [{}, {}]}, project)


def _finished_run(out: Path, name: str, points: list[dict], seed: int = 0) -> None:
    folder = out / RUNS / name
    (folder / "checkpoints").mkdir(parents=True)
    for p in points:
        (folder / p["checkpoint"]).write_bytes(b"model")
    (folder / RESULT).write_text(json.dumps({"name": name, "settings": {"seed": seed}, "points": points}))
    (folder / DONE).write_text("")


def _point(epoch: int, accuracy: float, ebops: int) -> dict:
    return {"epoch": epoch, "checkpoint": f"checkpoints/epoch{epoch:04d}.keras", "ebops": ebops,
            "val_accuracy": accuracy, "training_val_accuracy": accuracy, "training_ebops": ebops}


@pytest.fixture()
def sweep_folder(tmp_path) -> Path:
    out = tmp_path / "sweep out"
    _finished_run(out, "hidden=8", [_point(3, 0.90, 1000), _point(5, 0.85, 400)])
    _finished_run(out, "hidden=32", [_point(2, 0.95, 4000), _point(4, 0.945, 2500)])
    write(out, ["hidden=8", "hidden=32"], tolerance=0.01, title="test")
    return out


def test_front_figure_legend_names_each_run_by_its_settings(sweep_folder):
    merged = json.loads((sweep_folder / FRONT_JSON).read_text())
    fig = front_figure(merged, "test")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["hidden=32", "hidden=8", "merged front", "chosen (hidden=32)"]
    by_label = {c.get_label(): c for c in ax.collections}
    assert sorted(by_label["hidden=8"].get_offsets()[:, 0]) == [400, 1000]
    assert sorted(by_label["hidden=8"].get_offsets()[:, 1]) == [85.0, 90.0]
    assert (sweep_folder / FRONT_PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_empty_front_png_when_no_run_finished(tmp_path, sweep_folder):
    out = tmp_path / "failed"
    merged = write(out, [], tolerance=0.01)
    assert merged["points"] == [] and merged["chosen"] is None
    assert (out / FRONT_JSON).is_file() and not (out / FRONT_PLOT).exists()
    stale = sweep_folder / FRONT_PLOT
    write(sweep_folder, [], tolerance=0.01)                 # every run gone: the old figure goes too
    assert not stale.exists()
    result = SweepResult(out, failed={"seed=0": "ValueError: boom"}, merged=merged)
    output = _report(result, out)
    assert "no run finished: nothing to plot, so no front.png" in output and "Error: failed runs: seed=0" in output


def _report(result, out: Path) -> str:
    import click

    from hgq_fpga.app.sweep.cli import report_sweep

    @click.command()
    def show():
        report_sweep(result, out)

    return CliRunner().invoke(show, []).output


def test_the_chosen_checkpoint_and_the_convert_command_work_from_here(sweep_folder, project, monkeypatch):
    monkeypatch.chdir(sweep_folder.parent)
    out = Path(sweep_folder.name)                            # --out as the user typed it: relative
    spec = parse({**BASE, "runs": [{"model_args": {"hidden": 8}}, {"model_args": {"hidden": 32}}]}, project)
    merged = json.loads((out / FRONT_JSON).read_text())
    output = _report(SweepResult(out, ran=["hidden=8", "hidden=32"], merged=merged, spec=spec), out)
    chosen = "sweep out/runs/hidden=32/checkpoints/epoch0004.keras"
    assert (Path.cwd() / chosen).is_file()
    assert f"chosen: {chosen} (run hidden=32, validation accuracy 94.50 %, 2,500 EBOPs)" in output
    next_line = next(line for line in output.splitlines() if line.startswith("next: "))
    data = str(project / "digits.npz")
    assert shlex.split(next_line[len("next: "):]) == [
        "hgq-fpga", "convert", chosen, "--calib", data, "--array", "x_train", "--check", data,
        "--check-array", "x_test", "--check-labels", "y_test", "--out", "sweep out-firmware"]


def test_report_pareto_reads_a_sweep_front(sweep_folder, tmp_path):
    from hgq_fpga.app.commands.report import pareto_training
    from hgq_fpga.app.report.writer import write_report
    from hgq_fpga.ir import FirmwareBuilder

    training = pareto_training(sweep_folder / FRONT_JSON)
    merged = json.loads((sweep_folder / FRONT_JSON).read_text())
    assert training["metric"] == "val_accuracy" and training["ebops_exact"] and "points" not in training
    assert [(p["metric"], p["ebops"]) for p in training["front"]] == [(p["val_accuracy"], p["ebops"])
                                                                      for p in merged["front"]]
    assert training["chosen"]["path"] == merged["chosen"]["checkpoint"]
    b = FirmwareBuilder()
    x = b.input("x", (2,), k=1, i=1, f=2)
    fw = b.build([b.cast(b.dense(x, np.array([[1, 2], [3, 0]]), 1, name="acc"), 1, 3, 1, name="d")])
    data = write_report(fw, tmp_path / "report", {"training": training})
    assert "pareto.png" in data["figures"].values()
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| validation accuracy | EBOPs (exact, calibrated) | chosen |" in text
    older = {**merged, "metric_key": None}                   # a front.json of an earlier version
    (tmp_path / "old.json").write_text(json.dumps(older))
    assert pareto_training(tmp_path / "old.json")["metric"] == "val_accuracy"


def test_report_pareto_names_the_keys_it_reads(tmp_path):
    import click

    from hgq_fpga.app.commands.report import pareto_training

    (tmp_path / "bad.json").write_text(json.dumps([{"score": 0.9, "ebops": 10}]))
    with pytest.raises(click.ClickException) as caught:
        pareto_training(tmp_path / "bad.json")
    message = caught.value.message
    assert message.startswith(f"Pareto file {tmp_path / 'bad.json'}: Pareto point 0 needs numeric 'metric' and 'ebops'")
    assert "the front.json of hgq-fpga sweep" in message


@pytest.mark.parametrize("key, value, words", [
    ("grid", {"epochs": [1, 2]}, "grid: a training spec describes one run; grid makes several (use hgq-fpga sweep for them)"),
    ("runs", [{"epochs": 1}], "runs: a training spec describes one run; runs makes several (use hgq-fpga sweep for them)"),
    ("seeds", [0, 1], "seeds: a training spec describes one run; seeds makes several (use hgq-fpga sweep for them, or seed: N for one seed)"),
])
def test_train_refuses_what_makes_several_runs(project, tmp_path, key, value, words):
    spec = project / f"train-{key}.yaml"
    spec.write_text(yaml.safe_dump({**BASE, key: value}))
    result = CliRunner().invoke(main, ["train", str(spec), "--out", str(tmp_path / "t")])
    assert result.exit_code == 1 and result.output.splitlines()[-1] == f"Error: {spec}: {words}"
    assert not (tmp_path / "t").exists()


def test_train_one_run_in_this_process(project, tmp_path, monkeypatch):
    from hgq_fpga.app.commands.report import pareto_training
    from hgq_fpga.app.sweep.spec import load_single

    spec = project / "train.yaml"
    spec.write_text(yaml.safe_dump({**BASE, "epochs": 3, "batch_size": 32, "model_args": {"hidden": 6}}))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", str(spec), "--out", "trained"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "trained"
    record = json.loads((out / RESULT).read_text())
    assert (out / DONE).is_file() and record["fingerprint"] == load_single(spec).fingerprint()
    assert len(record["history"]["val_accuracy"]) == 3 and "training epoch 3/3" in result.output
    chosen = record["chosen"]
    assert (out / "chosen.keras").read_bytes() == (out / chosen["checkpoint"]).read_bytes()
    front = json.loads((out / FRONT_JSON).read_text())
    assert front["chosen"]["checkpoint"] == chosen["checkpoint"] and (out / FRONT_PLOT).is_file()
    assert pareto_training(out / FRONT_JSON)["chosen"]["path"] == chosen["checkpoint"]
    data = str(project / "digits.npz")
    next_line = next(line for line in result.output.splitlines() if line.startswith("next: "))
    assert shlex.split(next_line[len("next: "):]) == [
        "hgq-fpga", "convert", "trained/chosen.keras", "--calib", data, "--array", "x_train", "--check", data,
        "--check-array", "x_test", "--check-labels", "y_test", "--out", "trained-firmware"]
    again = CliRunner().invoke(main, ["train", str(spec), "--out", "trained"])
    assert again.exit_code == 1 and "--out trained exists and is not empty" in again.output


@pytest.mark.parametrize("ii, words", [
    (0, "ii: must be >= 1, got 0"),
    (2.5, "ii: must be a whole number >= 1 (every Dense/Conv) or a mapping of layer name -> number, got 2.5"),
    ({"dense": 0}, "ii: dense: must be >= 1, got 0"),
    ({"dense": "4"}, "ii: dense: must be an integer, got '4'"),
])
def test_a_bad_ii_is_named(project, ii, words):
    with pytest.raises(SpecError) as err:
        parse({**BASE, "ii": ii}, project)
    assert str(err.value) == f"spec: {words}"


def test_ii_absent_keeps_the_fingerprints_of_earlier_sweeps(project):
    run = parse(BASE, project).runs[0]
    assert run.settings["ii"] is None
    earlier = {k: v for k, v in run.settings.items() if k != "ii"}      # a sweep written before `ii` existed
    import hashlib
    text = json.dumps(earlier, sort_keys=True, default=str)
    assert run.fingerprint() == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert parse({**BASE, "ii": 4}, project).runs[0].fingerprint() != run.fingerprint()


def test_train_for_an_ii(project, tmp_path, monkeypatch):
    """The spec's ``ii`` reaches the trainer (``set_ii`` before the step is traced) and the convert
    command that follows builds the same II."""
    import hgq_fpga.nn.recipe as recipe

    seen = []
    original = recipe.set_ii

    def spy(model, ii):
        original(model, ii)
        seen.append({layer.name: layer.ii for layer in model.layers if hasattr(layer, "ii")})

    monkeypatch.setattr(recipe, "set_ii", spy)
    spec = project / "train-ii.yaml"
    spec.write_text(yaml.safe_dump({**BASE, "epochs": 1, "batch_size": 32, "model_args": {"hidden": 6}, "ii": 4}))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", str(spec), "--out", "trained"])
    assert result.exit_code == 0, result.output
    assert len(seen) == 1 and sorted(seen[0].values()) == [4, 4]
    assert json.loads((tmp_path / "trained" / RESULT).read_text())["settings"]["ii"] == 4
    next_line = next(line for line in result.output.splitlines() if line.startswith("next: "))
    words = shlex.split(next_line[len("next: "):])
    assert words[words.index("--ii") + 1] == "4" and words[-2:] == ["--out", "trained-firmware"]


def test_an_ii_per_layer_is_said_after_the_convert_command(project):
    from hgq_fpga.app.sweep.handoff import next_steps

    run = parse({**BASE, "ii": {"h_dense": 4}}, project).runs[0]
    lines = next_steps("c.keras", run, Path("trained"))
    assert "--ii" not in shlex.split(lines[0][len("next: "):])
    assert lines[1].startswith("trained for an II per layer (h_dense: 4): the command line builds one II")

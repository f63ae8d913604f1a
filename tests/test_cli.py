"""The ``hgq-fpga`` command line: the happy path on a small saved model, and every bad input.

Bad inputs must exit non-zero with one ``Error:`` line naming the problem, and must leave no output
folder (not even a hidden staging folder) behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import keras

import hgq_fpga  # noqa: E402
from hgq_fpga.app.cli import main  # noqa: E402
from hgq_fpga.nn.layers import HDense, HQuantize  # noqa: E402
from conftest import build_hgq_mlp  # noqa: E402

N_FEATURES = 8


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A trained (not calibrated) HGQ model and data files in every supported format."""
    root = tmp_path_factory.mktemp("cli")
    env = pytest.MonkeyPatch()
    env.setenv("HGQ_FPGA_CACHE", str(root / "cache"))  # compile from scratch, away from the user's cache
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, N_FEATURES)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    model = build_hgq_mlp(N_FEATURES, 6, 3)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    model.save(root / "model.keras")
    np.save(root / "calib.npy", x[:200])
    np.savez(root / "test.npz", x=x[200:], y=y[200:])
    header = ",".join(f"f{n}" for n in range(N_FEATURES))
    np.savetxt(root / "test.csv", x[200:], delimiter=",", header=header, comments="")
    np.save(root / "narrow.npy", x[:20, :5])
    bad = x[:20].copy()
    bad[7, 3] = np.nan
    np.save(root / "nan.npy", bad)
    np.save(root / "flat.npy", x[:20, 0])
    (root / "corrupt.keras").write_bytes(b"not a zip archive")
    inp = keras.Input((N_FEATURES,))
    keras.Model(inp, keras.layers.Dense(3)(inp)).save(root / "plain.keras")
    keras.Model(inp, keras.layers.Softmax()(HDense(3)(HQuantize()(inp)))).save(root / "softmax.keras")
    yield root
    env.undo()


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def error_line(result) -> str:
    """The single 'Error:' line of a failed command."""
    assert result.exit_code != 0, result.output
    lines = [l for l in result.output.splitlines() if l.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def no_output(parent: Path, name: str) -> bool:
    return not any(p.name == name or p.name.startswith(f".{name}.") for p in parent.iterdir())


@pytest.fixture(scope="module")
def design(files):
    out = files / "design"
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--board", "vu9p",
                 "--out", out, "--name", "tiny", "--clock", "4", "--check", files / "test.npz",
                 "--check-array", "x", "--check-labels", "y")
    assert result.exit_code == 0, result.output
    return out, result.output


def test_convert_writes_a_verified_design(design, files):
    out, output = design
    for name in ("hls/Makefile", "hls/build_prj.tcl", "hls/firmware/tiny.cpp", "ir/model.json", "model.keras",
                 "hgq_fpga.json", "report/report.md", "report/report.json", "report/bit_widths.png"):
        assert (out / name).is_file(), name
    run_record = json.loads((out / "hgq_fpga.json").read_text())
    assert run_record["board"] == {"name": "vu9p", "part": "xcvu9p-flga2104-2L-e", "clock_period_ns": 4.0,
                                   "clock_uncertainty": "12.5%"}
    assert run_record["verification"]["samples"] == 200
    assert run_record["verification"]["mismatches"] == 0
    # --check-labels: per-class accuracy of the firmware (and of Keras) on the held-out data, and the ROC figure
    classes = run_record["classification"]
    y = np.load(files / "test.npz")["y"]
    predicted = hgq_fpga.load_firmware(out / "ir").predict(np.load(files / "test.npz")["x"]).argmax(axis=1)
    assert classes["samples"] == 56 and [r["samples"] for r in classes["per_class"]] == np.bincount(y, minlength=3).tolist()
    assert classes["accuracy"]["firmware"] == np.mean(predicted == y)
    md = (out / "report" / "report.md").read_text()
    assert "## Per-class accuracy" in md and "## Trigger efficiency" in md
    # 56 samples of 3 classes: too few events for a ROC curve (issue 35), said instead of drawn
    counts = np.bincount(y)[np.bincount(y) > 0]
    assert not (out / "report" / "roc.png").exists()
    assert f"No ROC curve is drawn for classes 0, 1: {counts.min()} to {counts.max()} events, fewer than the 100" in md
    figures = json.loads((out / "report" / "report.json").read_text())["figures"].values()
    assert {"profile.png", "outputs.png"} <= set(figures) and "roc.png" not in figures
    report = json.loads((out / "report" / "report.json").read_text())
    model = keras.models.load_model(out / "model.keras", compile=False)
    assert report["design"]["ebops"] == hgq_fpga.ebops(model) > 0
    assert report["design"]["ebops"] == hgq_fpga.load_firmware(out / "ir").resources().ebops
    assert f"{report['design']['ebops']:,}" in output
    assert "0 (Keras = emulator = C++ on 200 samples, calibration data calib.npy)" in output
    assert "make synth BOARD=vu9p" in output
    # --check: the held-out data is verified too, and both results are reported
    assert run_record["checks"][0]["samples"] == 56 and run_record["checks"][0]["mismatches"] == 0
    assert "Keras = emulator = C++ on 56 samples, held-out data test.npz" in output
    markdown = (out / "report" / "report.md").read_text()
    assert "on 200 samples (calibration data calib.npy)" in markdown and "on 56 samples (held-out data test.npz)" in markdown
    # latency as clock cycles and ns at the 4 ns clock, marked as an estimate
    assert "clock cycles" in markdown and "ns at 4 ns (estimate" in markdown
    assert no_output(files, "design.staging") and not list(files.glob(".design.*"))


def test_verify_emulate_report(design, files):
    out, _ = design
    result = run("verify", out, "--data", files / "test.npz", "--array", "x")
    assert result.exit_code == 0, result.output
    assert "56 samples" in result.output and "Keras = emulator = C++ (0 mismatches)" in result.output

    pred = files / "pred.npy"
    result = run("emulate", out, "--data", files / "test.csv", "--out", pred)
    assert result.exit_code == 0, result.output
    x = np.load(files / "test.npz")["x"]
    y = np.load(pred)
    assert y.shape == (56, 3)
    assert np.array_equal(y, hgq_fpga.load_firmware(out / "ir").predict(x))
    model = keras.models.load_model(out / "model.keras", compile=False)
    assert np.array_equal(y, np.asarray(model(x.astype(np.float32), training=False)))
    # .npz works for one output too: one array, named as the firmware's output
    result = run("emulate", out, "--data", files / "test.csv", "--out", files / "pred.npz")
    assert result.exit_code == 0, result.output
    saved = np.load(files / "pred.npz")
    assert saved.files == hgq_fpga.load_firmware(out / "ir").outputs and np.array_equal(saved[saved.files[0]], y)

    front = [{"metric": 0.9, "ebops": 300}, {"metric": 0.8, "ebops": 100}]
    (files / "front.json").write_text(json.dumps(front))
    result = run("report", out, "--out", files / "rep", "--pareto", files / "front.json")
    assert result.exit_code == 0, result.output
    assert (files / "rep" / "pareto.png").stat().st_size > 5000
    assert "| 90.00 % | 300 |" in (files / "rep" / "report.md").read_text()


@pytest.mark.parametrize("case, expected", [
    ("missing model", "model file {root}/absent.keras does not exist"),
    ("missing data", "data file {root}/absent.npy does not exist"),
    ("wrong array", "has no array 'z'; available: x, y"),
    ("several arrays", "holds 2 arrays (x, y); choose one with --array NAME"),
    ("feature count", "narrow.npy has 5 features per sample, the model expects 8"),
    ("unknown board", "unknown board 'vu99'; known boards: alveo-u250, ku115, pynq-z2, vu13p, vu9p"),
    ("nan", "nan.npy contains 1 NaN value(s), the first at sample 7"),
    ("bad name", "--name '1x' cannot name the design: it must start with an ASCII letter"),
    ("keyword name", "--name 'module' cannot name the design: it is a Verilog keyword"),
    ("long name", f"--name '{'x' * 65}' cannot name the design: it has 65 characters, more than 64"),
    ("not a keras archive", "model file {root}/corrupt.keras is not a Keras .keras archive"),
    ("plain keras model", "is a float Keras model (no hgq_fpga layers): convert it with --from float"),
    ("softmax", "of class Softmax is not part of the hgq_fpga layer set; use HSoftmax"),
    ("1-d data", "flat.npy is one-dimensional (shape (20,)); the model expects samples of shape (8,)"),
    ("labels without npz", "--check-labels names an array of the --check .npz file"),
    ("labels of x", "--check-labels x has shape (56, 8); expected one integer label per sample"),
])
def test_convert_bad_input(files, case, expected):
    out = files / f"out_{case.replace(' ', '_')}"
    args = {"missing model": ["absent.keras", "calib.npy"], "missing data": ["model.keras", "absent.npy"],
            "wrong array": ["model.keras", "test.npz", "--array", "z"],
            "several arrays": ["model.keras", "test.npz"], "feature count": ["model.keras", "narrow.npy"],
            "unknown board": ["model.keras", "calib.npy", "--board", "vu99"],
            "nan": ["model.keras", "nan.npy"], "bad name": ["model.keras", "calib.npy", "--name", "1x"],
            "keyword name": ["model.keras", "calib.npy", "--name", "module"],
            "long name": ["model.keras", "calib.npy", "--name", "x" * 65],
            "not a keras archive": ["corrupt.keras", "calib.npy"], "plain keras model": ["plain.keras", "calib.npy"],
            "softmax": ["softmax.keras", "calib.npy"], "1-d data": ["model.keras", "flat.npy"],
            "labels without npz": ["model.keras", "calib.npy", "--check", files / "calib.npy", "--check-labels", "y"],
            "labels of x": ["model.keras", "calib.npy", "--check", files / "test.npz", "--check-array", "x",
                            "--check-labels", "x"]}[case]
    model, data, *rest = args
    result = run("convert", files / model, "--calib", files / data, "--out", out, *rest)
    assert expected.format(root=files) in error_line(result)
    assert no_output(files, out.name)


def test_convert_refuses_foreign_folder(files):
    foreign = files / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("keep me")
    for extra in ([], ["--force"]):
        result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", foreign, *extra)
        assert "precious" in error_line(result)
    assert [p.name for p in foreign.iterdir()] == ["thesis.tex"]


def test_existing_design_needs_force(design, files):
    out, _ = design
    before = (out / "hgq_fpga.json").read_text()
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out, "--name", "tiny")
    assert "already exists" in error_line(result)
    assert (out / "hgq_fpga.json").read_text() == before
    stale = out / "hls" / "firmware" / "earlier_only.cpp"     # as if an earlier hgq_fpga had written it
    stale.write_text("from the earlier conversion")
    written = json.loads((out / ".hgq_fpga-files.json").read_text())
    (out / ".hgq_fpga-files.json").write_text(json.dumps(written + ["hls/firmware/earlier_only.cpp"]))
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", out, "--name", "tiny",
                 "--clock", "4", "--force")
    assert result.exit_code == 0, result.output
    assert not stale.exists() and (out / "hls" / "firmware" / "tiny.cpp").is_file()
    assert json.loads((out / "hgq_fpga.json").read_text())["verification"]["mismatches"] == 0
    assert not list(files.glob(".design.*"))


def test_failure_midway_leaves_nothing(files, monkeypatch):
    from hgq_fpga.backends.hls import writer

    def broken(self, *args, **kwargs):
        raise RuntimeError("g++ exploded")

    monkeypatch.setattr(writer.HLSProject, "compile", broken)
    result = run("convert", files / "model.keras", "--calib", files / "calib.npy", "--out", files / "midway")
    assert error_line(result) == "Error: g++ exploded"
    assert no_output(files, "midway")


def test_verify_and_emulate_bad_input(design, files):
    out, _ = design
    assert "narrow.npy has 5 features per sample, the model expects 8" in error_line(
        run("verify", out, "--data", files / "narrow.npy"))
    assert "is not a design folder" in error_line(run("verify", files, "--data", files / "calib.npy"))
    assert "does not exist" in error_line(run("emulate", files / "nope", "--data", files / "calib.npy",
                                              "--out", files / "p.npy"))
    assert "must end in .npy" in error_line(run("emulate", out, "--data", files / "calib.npy",
                                                "--out", files / "p.txt"))
    assert "--array z only applies to .npz files" in error_line(
        run("emulate", out, "--data", files / "calib.npy", "--array", "z", "--out", files / "p.npy"))


def test_boards_and_help():
    result = run("boards")
    assert result.exit_code == 0
    assert "xcvu9p-flga2104-2L-e" in result.output and "1,182,240" in result.output
    assert "alveo-u250" in result.output and "3.33 ns" in result.output
    for command in ([], ["convert"], ["verify"], ["emulate"], ["report"], ["boards"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage: " in result.output
    assert "--calib DATA" in run("convert", "--help").output


def test_console_script_installed():
    exe = Path(sys.executable).with_name("hgq-fpga")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "convert" in proc.stdout and "emulate" in proc.stdout


def test_emulate_and_report_need_no_tensorflow(design, files):
    out, _ = design
    script = (f"import sys\nfrom hgq_fpga.app.cli import main\n"
              f"main(['emulate', {str(out)!r}, '--data', {str(files / 'calib.npy')!r}, '--out', "
              f"{str(files / 'light.npy')!r}], standalone_mode=False)\n"
              f"main(['report', {str(out)!r}, '--out', {str(files / 'light')!r}], standalone_mode=False)\n"
              "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert np.load(files / "light.npy").shape == (200, 3)
    assert (files / "light" / "report.md").is_file()


def test_report_bad_pareto_file_and_bad_out(design, files):
    out, _ = design
    for name, text in (("broken.json", "{not json"), ("empty.json", "[]"), ("other.json", '{"a": 1}'),
                       ("points.json", '[{"metric": "high"}]')):
        (files / name).write_text(text)
        line = error_line(run("report", out, "--out", files / "rep2", "--pareto", files / name))
        assert f"Pareto file {files / name}" in line and "it must be JSON" in line, line
    (files / "front.txt").write_text("x")
    assert "unknown format" in error_line(run("report", out, "--pareto", files / "front.txt"))
    readme = files / "README.md"
    readme.write_text("my notes")
    line = error_line(run("report", out, "--out", readme))
    assert "is a file" in line and "Errno" not in line
    assert readme.read_text() == "my notes"
    user = files / "mine"
    user.mkdir()
    (user / "report.md").write_text("my own report")
    assert "holds no earlier report" in error_line(run("report", out, "--out", user))
    assert (user / "report.md").read_text() == "my own report"


def test_outside_range_warning_in_emulate(design, files):
    out, _ = design
    x = np.load(files / "test.npz")["x"]
    np.save(files / "far.npy", 1000 * x)
    result = run("emulate", out, "--data", files / "far.npy", "--out", files / "far_pred.npy")
    assert result.exit_code == 0
    assert "Warning:" in result.output and "outside the calibrated range" in result.output
    quiet = run("emulate", out, "--data", files / "calib.npy", "--out", files / "calib_pred.npy")
    assert "Warning" not in quiet.output

"""What a new user meets in the first hour (issue 20): portable projects, documented commands that
work as written, the demo's held-out data, latency in ns, reports and small things."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hgq_fpga.backends.hls.writer import write_project
from hgq_fpga.ir import FirmwareBuilder

REPO = Path(__file__).resolve().parents[1]


def tiny_firmware():
    b = FirmwareBuilder()
    x = b.input("x", (3,), k=1, i=1, f=2)
    return b.build([b.cast(b.dense(x, np.array([[1, 2], [3, 0], [0, -1]]), 1), 1, 2, 1, "RND", "SAT")])


def machine_paths(tmp: Path) -> list[str]:
    """Absolute paths of the writing machine that must not appear in a generated folder."""
    paths = {str(tmp), str(tmp.resolve()), sys.prefix, sys.exec_prefix, str(Path(sys.executable).parent),
             str(REPO), str(Path.home())}
    return sorted(p for p in paths if len(p) > 1)


def grep_paths(folder: Path, paths: list[str]) -> list[str]:
    hits = []
    for f in folder.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            hits += [f"{f.relative_to(folder)}: {p}" for p in paths if p.encode() in data]
    return hits


def test_project_is_portable_and_csim_runs_elsewhere_without_python(tmp_path):
    written = tmp_path / "writer"
    prj = write_project(tiny_firmware(), written / "prj", board="vu9p", name="trigger")
    assert grep_paths(prj.path, machine_paths(written)) == []
    assert (prj.path / "ap_types" / "ap_fixed.h").is_file()
    assert "Apache License" in (prj.path / "ap_types" / "LICENSE").read_text()
    elsewhere = tmp_path / "server" / "copy"
    shutil.copytree(prj.path, elsewhere)
    shutil.rmtree(written)  # nothing of the writer's folder may be needed
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(["make", "-s", "csim"], cwd=elsewhere, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 mismatch" in out.stdout.lower() or "pass" in out.stdout.lower(), out.stdout


def test_makefile_names_no_python_and_knows_every_board(tmp_path):
    from hgq_fpga.backends.common.board import known_boards

    text = (write_project(tiny_firmware(), tmp_path / "p", board="vu9p").path / "Makefile").read_text()
    assert "PYTHON" not in text and "-m hgq_fpga" not in text
    for board in known_boards().values():
        assert f"BOARD_PART_{board.name.lower()} := {board.part}" in text


def test_latency_estimate_in_cycles_and_ns():
    from hgq_fpga.app.report.latency import estimate_latency, latency_text

    est = estimate_latency(23, 5.0, "12.5%")          # 4.375 usable ns: 4 levels of ~1 ns per cycle
    assert (est["cycles"], est["ns"], est["levels_per_cycle"]) == (6, 30.0, 4)
    assert estimate_latency(0, 5.0)["cycles"] == 1
    assert estimate_latency(8, 2.5, "12.5%")["cycles"] == 4   # 2 levels per 2.5 ns cycle
    text = latency_text({"latency_adder_levels": 23, "latency_estimate": est})
    assert "6 clock cycles = 30 ns" in text and "estimate" in text
    with pytest.raises(ValueError, match="clock period"):
        estimate_latency(3, 0)


def test_saved_input_shapes_without_keras(tmp_path):
    import json
    import zipfile

    from hgq_fpga.app.keras_file import saved_input_shapes

    path = tmp_path / "m.keras"
    config = {"class_name": "Functional", "config": {
        "layers": [{"class_name": "InputLayer", "name": "inp", "config": {"name": "inp", "batch_shape": [None, 16]}}],
        "input_layers": ["inp", 0, 0]}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", json.dumps(config))
    assert saved_input_shapes(path) == [(16,)]
    (tmp_path / "bad.keras").write_text("not a zip")
    assert saved_input_shapes(tmp_path / "bad.keras") is None


def test_wrong_feature_count_fails_before_tensorflow(tmp_path):
    """convert reads the input shape from the .keras file: the error comes without importing TensorFlow."""
    import json
    import zipfile

    model = tmp_path / "m.keras"
    config = {"class_name": "Functional", "config": {
        "layers": [{"class_name": "InputLayer", "name": "inp", "config": {"name": "inp", "batch_shape": [None, 16]}}],
        "input_layers": [["inp", 0, 0]]}}
    with zipfile.ZipFile(model, "w") as z:
        z.writestr("config.json", json.dumps(config))
    np.save(tmp_path / "calib.npy", np.zeros((10, 5)))
    code = ("import sys; from hgq_fpga.app.cli import main\n"
            "try:\n    main(sys.argv[1:], standalone_mode=False)\nexcept Exception as e:\n    print('ERR', e)\n"
            "print('TF', 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, "convert", str(model), "--calib", str(tmp_path / "calib.npy"),
                          "--out", str(tmp_path / "fw")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "TF False" in out.stdout, out.stdout + out.stderr
    assert "16" in out.stdout and "5" in out.stdout and "ERR" in out.stdout


def test_hls_project_folder_is_named_as_such(tmp_path):
    from hgq_fpga.checks.design_folder import DesignError, open_design

    prj = write_project(tiny_firmware(), tmp_path / "prj")
    with pytest.raises(DesignError, match="HLS project .*build_design"):
        open_design(prj.path)


def test_plain_progress_lines_off_a_terminal():
    import io

    from rich.console import Console

    from hgq_fpga.app.report.progress import RichProgress

    screen = io.StringIO()
    bar = RichProgress(2, Console(file=screen, width=80))
    bar.on_train_begin()
    bar.on_epoch_end(0, {"val_accuracy": 0.5, "ebops": 1234.0})
    bar.on_epoch_end(1, {"val_accuracy": 0.75, "ebops": 1000.0})
    bar.on_train_end()
    lines = screen.getvalue().splitlines()
    assert lines == ["training epoch 1/2  val acc 50.0 %  EBOPs 1,234", "training epoch 2/2  val acc 75.0 %  EBOPs 1,000"]


def test_signal_efficiency_at_background():
    from hgq_fpga.nn.metrics import signal_efficiency_at_background

    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    scores = np.zeros((14, 2))
    scores[:, 1] = [0.9, 0.8, 0.4, 0.2, 0.85, 0.5, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.0, 0.0]
    # 10 % of 10 background samples may pass: the cut sits at the second-highest (0.5); 2 of 4 signal pass
    assert signal_efficiency_at_background(labels, scores, 1, 0.1) == 0.5
    assert signal_efficiency_at_background(labels, scores, 1, 0.05) == 0.25   # nothing may pass but >0.85
    assert signal_efficiency_at_background(labels, scores, 1, 1.0) == 1.0
    with pytest.raises(ValueError, match="background_efficiency"):
        signal_efficiency_at_background(labels, scores, 1, 0)


def test_pareto_checkpoint_monitors_a_physics_metric(tmp_path):
    """The training manual's example (docs/training.md): ParetoCheckpoint keeps the (signal
    efficiency, EBOPs) front."""
    import keras

    from conftest import build_hgq_mlp
    from hgq_fpga.nn.callbacks import ParetoCheckpoint
    from hgq_fpga.nn.metrics import EpochMetric, signal_efficiency_at_background

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] > 0.5).astype(int)
    model = build_hgq_mlp(4, 4, 2)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    eff = EpochMetric("val_sig_eff", (x[:64], y[:64]),
                      lambda labels, s: signal_efficiency_at_background(labels, s, signal=1, background_efficiency=0.1))
    pareto = ParetoCheckpoint(str(tmp_path / "ckpt"), monitor="val_sig_eff")
    history = model.fit(x, y, epochs=2, batch_size=64, verbose=0, callbacks=[eff, pareto])
    assert len(history.history["val_sig_eff"]) == 2
    assert pareto.front and all(0 <= metric <= 1 for metric, _, _ in pareto.front)
    assert any(f"val_sig_eff={pareto.front[0][0]:.4f}" in path for _, _, path in pareto.front)


def test_bit_width_panels_share_layer_colours(tmp_path):
    from hgq_fpga.app.report import summarize
    from hgq_fpga.app.report.plots import layer_colours, plot_bit_widths

    stats = summarize(tiny_firmware())
    colours = layer_colours(stats)
    assert list(colours) == [l.name for l in stats.layers] and len(set(colours.values())) == len(colours)
    assert plot_bit_widths(stats, tmp_path / "bw.png").stat().st_size > 5000


def test_one_error_style_for_every_entry_point():
    """Every entry point (the synthesis driver, the demo) is a click command that prints ``Error: ...``."""
    for module in ("hgq_fpga.backends.hls.synth", "hgq_fpga.app.demo"):
        proc = subprocess.run([sys.executable, "-m", module, "--no-such-option"], capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
        assert proc.returncode == 2
        assert proc.stderr.splitlines()[-1] == "Error: No such option '--no-such-option'.", proc.stderr
    proc = subprocess.run([sys.executable, "-m", "hgq_fpga.backends.hls.synth", "/no/such/project"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 1 and proc.stderr.startswith("Error: "), proc.stderr
    lower = re.compile(r"""["'](\w+: )?error: """)  # a message printed as "error: ..." or "prog: error: ..."
    sources = [p for d in ("hgq_fpga", "bench", "examples", "templates") for p in (REPO / d).rglob("*")
               if p.suffix in (".py", ".j2", ".tcl", ".sh") or p.name == "Makefile"]
    offenders = [f"{p.relative_to(REPO)}:{n}" for p in sources
                 for n, line in enumerate(p.read_text().splitlines(), 1) if lower.search(line)]
    assert offenders == []


def _docs_driver():
    import importlib.util

    spec = importlib.util.spec_from_file_location("hgq_fpga_docs_api", REPO / "docs" / "api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page(out: Path, module: str) -> Path:
    return out / (module.replace(".", "/") + ".html")


def test_api_reference_of_the_numpy_side_without_warnings(tmp_path):
    """pdoc renders the Keras-free modules (quick); every warning would fail ``make docs``."""
    api = _docs_driver()
    modules = [m for m in api.public_modules()
               if m.startswith(("hgq_fpga.ir", "hgq_fpga.fixed", "hgq_fpga.pareto", "hgq_fpga.app.report"))]
    assert "hgq_fpga.ir.emulator.casting" in modules and "hgq_fpga.app.report.classification" in modules
    assert api.build(tmp_path, modules) == sorted(modules)
    for module in modules:
        assert page(tmp_path, module).is_file(), module
    text = page(tmp_path, "hgq_fpga.app.report.classification").read_text()
    assert "classification_record" in text and "one-vs-rest" in text
    for module in modules:   # reST roles are rendered, not shown raw
        assert ":func:`" not in page(tmp_path, module).read_text(), module


def test_manual_pages_are_rendered_and_linked(tmp_path):
    """``make docs`` renders README.md and docs/*.md (no pdoc run here: quick): every manual has its
    page, every page links every manual and the API reference, the pages' relative links are
    rewritten to the HTML pages (anchors included) or to the repository's files, and no Markdown
    is left raw."""
    import html

    api = _docs_driver()
    written = api.render_manuals(tmp_path)
    sources = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert set(sources) <= set(written) and written[REPO / "README.md"] == tmp_path / "index.html"
    assert {page.relative_to(tmp_path).as_posix() for page in written.values()} >= \
        {f"docs/{s.stem}.html" for s in sources[1:]} | {"index.html"}
    pending = {"docs/model_files.html", "docs/keras_backends.html"}   # pages still being written (tests/test_docs.py)
    for source, page in written.items():
        text = page.read_text()
        main = text[text.index("<main"):]
        hrefs = [html.unescape(h) for h in re.findall(r'(?:href|src)="([^"#:]*)(?:#[^"]*)?"', text) if h]
        for href in hrefs:
            target = (page.parent / href).resolve()
            in_out = target.is_relative_to(tmp_path.resolve())
            assert (target.exists() or target.relative_to(tmp_path.resolve()).as_posix() in pending | {api.API_PAGE}
                    if in_out else target.is_relative_to(REPO) and target.exists()), (source.name, href)
            assert not (in_out and href.endswith(".md")), (source.name, href)   # manuals link manuals' pages
        linked = {(page.parent / h).resolve() for h in hrefs}
        assert set(written.values()) <= {p.resolve() for p in linked} | {page.resolve()}, source.name
        assert (tmp_path / api.API_PAGE).resolve() in linked, source.name
        for frag_page, fragment in re.findall(r'href="([^"#:]+\.html)#([^"]+)"', main):
            assert f'id="{fragment}"' in (page.parent / frag_page).read_text(), (source.name, frag_page, fragment)
        body = re.sub(r"<pre>.*?</pre>|<code>.*?</code>", "", main, flags=re.S)
        assert "`" not in body and "](" not in body, source.name      # no raw code spans or links
    front = (tmp_path / "index.html").read_text()
    assert 'href="docs/cli.html"' in front and "make demo" in front and "<table>" in front
    assert 'href="docs/training.html#the-exactness-guarantee"' in front
    cli = (tmp_path / "docs" / "cli.html").read_text()
    assert "<code>--from hgq|float|qkeras</code>" in cli and 'href="../index.html"' in cli


@pytest.mark.slow   # imports every module, TensorFlow included, and renders 120+ pages: minutes on 2 cores
def test_make_docs_writes_a_page_per_public_module(tmp_path):
    out = tmp_path / "docs"
    proc = subprocess.run(["make", "-s", "-o", ".venv/.hgq_fpga-installed", "docs", f"PY={sys.executable}",
                           f"DOCS_DIR={out}"], cwd=REPO, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    modules = _docs_driver().public_modules()
    assert {"hgq_fpga", "hgq_fpga.nn.layers", "hgq_fpga.app.design", "hgq_fpga.backends.hls"} <= set(modules)
    missing = [m for m in modules if not page(out, m).is_file()]
    assert missing == [] and (out / "index.html").is_file()
    assert "build_design" in page(out, "hgq_fpga.app.design").read_text()
    front = (out / "index.html").read_text()      # the README, linking the manuals and the reference
    assert 'href="docs/training.html"' in front and 'href="hgq_fpga.html"' in front
    assert (out / "docs" / "training.html").is_file() and (out / "hgq_fpga.html").is_file()

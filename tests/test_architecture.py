"""The house rules of the package layout: imports point down only, with no cycles, and only the
Keras side imports Keras (see the README's layout section)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hgq_fpga"

#: rank of each part of the package: a module may import only modules of lower or equal rank
#: (equal: inside its own part). ``nn`` and ``backends`` share a rank but may not import each other.
RANKS = {"hgq_fpga": 0, "hgq_fpga._aliases": 0, "hgq_fpga._lazy": 0, "hgq_fpga.fixed": 0, "hgq_fpga.pareto": 0,
         "hgq_fpga.folders": 0, "hgq_fpga.argparsing": 0,
         "hgq_fpga.ir": 1, "hgq_fpga.nn": 2, "hgq_fpga.backends": 2,
         "hgq_fpga.checks.verify": 3, "hgq_fpga.checks.testing": 4, "hgq_fpga.app": 4}
SIBLINGS_APART = {("hgq_fpga.nn", "hgq_fpga.backends"), ("hgq_fpga.backends", "hgq_fpga.nn")}
KERAS_FREE = ("hgq_fpga.fixed", "hgq_fpga.pareto", "hgq_fpga.folders", "hgq_fpga.ir", "hgq_fpga.backends")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every hgq_fpga module that ``name`` imports anywhere in its file (lazy imports included)."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def part(name: str) -> str:
    return max((p for p in RANKS if name == p or name.startswith(p + ".")), key=len)


def test_every_module_belongs_to_a_ranked_part():
    unranked = [m for m in all_modules() if part(m) == "hgq_fpga" and m != "hgq_fpga"]
    assert unranked == [], f"modules outside the layout's parts: {unranked}"


def test_no_import_cycles():
    graph = import_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_point_down():
    upward = []
    for name, targets in import_graph().items():
        for t in targets:
            a, b = part(name), part(t)
            if RANKS[b] > RANKS[a] or (a, b) in SIBLINGS_APART:
                upward.append(f"{name} -> {t}")
    assert upward == [], "imports against the flow: " + ", ".join(sorted(upward))


def test_cycle_detector_can_fail(tmp_path, monkeypatch):
    """The graph walk sees a lazy import inside a function, so a cycle through one is caught."""
    pkg = tmp_path / "hgq_fpga"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from hgq_fpga import b\n")
    (pkg / "b.py").write_text("def f():\n    from hgq_fpga.a import x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", pkg)
    graph = import_graph()
    assert graph["hgq_fpga.a"] == {"hgq_fpga.b"} and graph["hgq_fpga.b"] == {"hgq_fpga.a"}


@pytest.mark.parametrize("root", KERAS_FREE)
def test_lower_parts_never_import_keras(root):
    """Importing every module of the IR, the fixed-point core and the backends loads no Keras."""
    names = sorted(m for m in all_modules() if m == root or m.startswith(root + "."))
    code = ("import importlib, json, sys\n"
            f"for m in {names!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('keras', 'tensorflow', 'tf_keras'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert json.loads(out.stdout) == [], f"{root} pulled in Keras/TensorFlow"


def test_old_module_paths_are_the_new_modules():
    """Code written against the earlier flat layout keeps working, without second module copies."""
    code = ("import hgq_fpga, hgq_fpga.layers as old, hgq_fpga.nn.layers as new\n"
            "from hgq_fpga.hls.writer import write_project as w1\n"
            "from hgq_fpga.backends.hls.writer import write_project as w2\n"
            "import hgq_fpga.deploy, hgq_fpga.app.design\n"
            "assert old is new and w1 is w2 and hgq_fpga.deploy is hgq_fpga.app.design\n"
            "import hgq_fpga.nn.callbacks as cb\n"
            "assert hgq_fpga.callbacks is cb\n"
            "assert hgq_fpga.hls.write_project is w2\n"
            "import hgq_fpga.checks.verify\n"
            "assert callable(hgq_fpga.verify) and hgq_fpga.verify.__name__ == 'verify'\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_bare_import_is_light_and_attributes_are_lazy():
    code = ("import sys, hgq_fpga\n"
            "assert 'hgq_fpga.backends.hls' not in sys.modules and 'keras' not in sys.modules\n"
            "hgq_fpga.hls\n"
            "assert 'hgq_fpga.backends.hls' in sys.modules and 'keras' not in sys.modules\n"
            "print(hgq_fpga.callbacks.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "hgq_fpga.nn.callbacks"

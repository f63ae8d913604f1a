"""The house rules of the package layout (docs/architecture.md): imports point down the floors only,
with no cycles and no shortcut through the package root; only the Keras side imports Keras; at most
four loose top-level modules; no function in ``app/`` over 80 lines.

Floors, lowest first: core (``fixed``, ``pareto``, ``folders``) -> ``ir`` -> ``nn`` | ``backends``
(never each other) -> ``checks`` -> ``app``. Every rule has a test that makes it fail on a mutant.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hgq_fpga"

#: floor of each part of the package: a module may import only modules of its own or a lower floor
#: (its own: inside its part). ``nn`` and ``backends`` share a floor but may not import each other.
FLOORS = {"hgq_fpga": 0, "hgq_fpga._lazy": 0, "hgq_fpga.fixed": 0, "hgq_fpga.pareto": 0, "hgq_fpga.folders": 0,
          "hgq_fpga.ir": 1, "hgq_fpga.nn": 2, "hgq_fpga.backends": 2, "hgq_fpga.checks": 3, "hgq_fpga.app": 4}
SIBLINGS_APART = {("hgq_fpga.nn", "hgq_fpga.backends"), ("hgq_fpga.backends", "hgq_fpga.nn")}
KERAS_FREE = ("hgq_fpga.fixed", "hgq_fpga.pareto", "hgq_fpga.folders", "hgq_fpga.ir", "hgq_fpga.backends",
              "hgq_fpga.checks.design_folder", "hgq_fpga.checks.junit")
#: the names the package root lends to users (its ``_LAZY`` table), never used inside the package
ROOT_NAMES = ("ebops", "calibrate", "to_firmware", "verify", "load_firmware", "FirmwareModel")
MAX_LOOSE_MODULES = 4
MAX_APP_FUNCTION_LINES = 80


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in (root / "hgq_fpga").rglob("*.py") if "__pycache__" not in p.parts}


def _targets(node: ast.AST, package: list[str], modules: dict[str, Path]) -> list[str]:
    """The hgq_fpga modules one import statement reaches; a root name counts as its home module."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every hgq_fpga module that ``name`` imports anywhere in its file (lazy imports included)."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(t for t in _targets(node, package, modules) if t in modules and t != name)
    return found


def root_shortcuts(name: str, path: Path) -> list[str]:
    """Where module ``name`` reaches a function through the package root (``hgq_fpga.calibrate``,
    ``from hgq_fpga import verify``) instead of its home module."""
    if name == "hgq_fpga":
        return []
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "hgq_fpga" and not node.level:
            found += [f"{name}:{node.lineno} from hgq_fpga import {a.name}" for a in node.names if a.name in ROOT_NAMES]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "hgq_fpga"
              and node.attr in ROOT_NAMES):
            found.append(f"{name}:{node.lineno} hgq_fpga.{node.attr}")
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = all_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def part(name: str) -> str:
    return max((p for p in FLOORS if name == p or name.startswith(p + ".")), key=len)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def floor_breaks(root: Path = ROOT) -> list[str]:
    """Every import that points up a floor, or from nn to backends and back."""
    upward = []
    for name, targets in import_graph(root).items():
        for t in targets:
            a, b = part(name), part(t)
            if FLOORS[b] > FLOORS[a] or (a, b) in SIBLINGS_APART:
                upward.append(f"{name} -> {t}")
    return sorted(upward)


def shortcuts(root: Path = ROOT) -> list[str]:
    return [s for name, path in all_modules(root).items() for s in root_shortcuts(name, path)]


def long_app_functions(root: Path = ROOT) -> list[str]:
    """Functions of ``app/`` longer than the limit, as ``module:function (lines)``."""
    found = []
    for name, path in all_modules(root).items():
        if not name.startswith("hgq_fpga.app"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_APP_FUNCTION_LINES:
                    found.append(f"{name}:{node.name} ({lines} lines)")
    return found


def loose_modules(root: Path = ROOT) -> list[str]:
    return sorted(p.name for p in (root / "hgq_fpga").glob("*.py") if p.name != "__init__.py")


# ----------------------------------------------------------------------------------------- the rules

def test_every_module_belongs_to_a_floor():
    unranked = [m for m in all_modules() if part(m) == "hgq_fpga" and m != "hgq_fpga"]
    assert unranked == [], f"modules outside the layout's floors: {unranked}"


def test_no_import_cycles():
    found = cycles(import_graph())
    assert found == [], "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_imports_point_down():
    assert floor_breaks() == [], "imports against the flow: " + ", ".join(floor_breaks())


def test_no_function_is_reached_through_the_package_root():
    assert shortcuts() == [], "import these from their home module: " + ", ".join(shortcuts())


def test_at_most_four_loose_modules():
    assert len(loose_modules()) <= MAX_LOOSE_MODULES, loose_modules()


def test_no_app_function_over_80_lines():
    assert long_app_functions() == []


@pytest.mark.parametrize("root", KERAS_FREE)
def test_lower_parts_never_import_keras(root):
    """Importing every module of the core, the IR and the backends loads no Keras."""
    names = sorted(m for m in all_modules() if m == root or m.startswith(root + "."))
    code = ("import importlib, json, sys\n"
            f"for m in {names!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('keras', 'tensorflow', 'tf_keras'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True)
    assert json.loads(out.stdout) == [], f"{root} pulled in Keras/TensorFlow"


def test_bare_import_is_light_and_root_names_are_lazy():
    code = ("import sys, hgq_fpga\n"
            "assert 'keras' not in sys.modules and 'hgq_fpga.ir.model' not in sys.modules\n"
            "fw = hgq_fpga.FirmwareModel\n"
            "assert 'hgq_fpga.ir.model' in sys.modules and 'keras' not in sys.modules\n"
            "import hgq_fpga.checks.verify as home\n"
            "assert hgq_fpga.verify is home.verify\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip().splitlines()[-1] == "ok", out.stderr[-2000:]


def test_old_module_paths_are_gone():
    for old in ("hgq_fpga.layers", "hgq_fpga.hls", "hgq_fpga.deploy", "hgq_fpga.verification", "hgq_fpga.testing"):
        proc = subprocess.run([sys.executable, "-c", f"import {old}"], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, old


# ------------------------------------------------------------------- each rule fails on a mutant

@pytest.fixture
def mutant(tmp_path):
    """A copy of the package's sources to break on purpose."""
    shutil.copytree(PACKAGE, tmp_path / "hgq_fpga", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _append(root: Path, module: str, text: str) -> None:
    path = root / "hgq_fpga" / module
    path.write_text(path.read_text() + "\n" + text + "\n")


def test_root_shortcut_in_the_ir_is_caught(mutant):
    """The issue's mutant: ``import hgq_fpga; hgq_fpga.calibrate()`` in ir/compare.py reaches Keras."""
    assert shortcuts(mutant) == [] and floor_breaks(mutant) == []
    _append(mutant, "ir/compare.py", "def _mutant(m, x):\n    import hgq_fpga\n    return hgq_fpga.calibrate(m, x)")
    [found] = shortcuts(mutant)
    assert found.startswith("hgq_fpga.ir.compare:") and found.endswith(" hgq_fpga.calibrate")
    _append(mutant, "backends/hls/names.py", "from hgq_fpga import verify  # noqa")
    assert any("backends.hls.names" in s and "verify" in s for s in shortcuts(mutant))


def test_floor_break_and_sibling_import_are_caught(mutant):
    _append(mutant, "ir/compare.py", "from hgq_fpga.nn.calibration import calibrate  # noqa")
    _append(mutant, "backends/common/board.py", "def _m():\n    from hgq_fpga.nn import freeze  # noqa")
    _append(mutant, "checks/junit.py", "from hgq_fpga.app.design import build_design  # noqa")
    assert floor_breaks(mutant) == ["hgq_fpga.backends.common.board -> hgq_fpga.nn.freeze",
                                    "hgq_fpga.checks.junit -> hgq_fpga.app.design",
                                    "hgq_fpga.ir.compare -> hgq_fpga.nn.calibration"]


def test_cycle_is_caught(mutant):
    """A lazy import inside a function counts: a cycle through one is caught."""
    _append(mutant, "fixed.py", "def _m():\n    from hgq_fpga.pareto import front_from_dicts  # noqa")
    _append(mutant, "pareto.py", "def _n():\n    from hgq_fpga.fixed import quantize  # noqa")
    assert any(c[0] in ("hgq_fpga.fixed", "hgq_fpga.pareto") for c in cycles(import_graph(mutant)))


def test_long_app_function_and_loose_module_are_caught(mutant):
    body = "\n".join(f"    x{n} = {n}" for n in range(MAX_APP_FUNCTION_LINES))
    _append(mutant, "app/demo.py", f"def _long():\n{body}")
    assert long_app_functions(mutant) == [f"hgq_fpga.app.demo:_long ({MAX_APP_FUNCTION_LINES + 1} lines)"]
    (mutant / "hgq_fpga" / "extra.py").write_text("")
    assert len(loose_modules(mutant)) == MAX_LOOSE_MODULES + 1

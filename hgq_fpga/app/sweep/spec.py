"""The sweep specification: a YAML file that lists training runs as a grid, a list, or both.

A spec holds the settings of one run at its top level; ``grid`` (every combination of the listed
values), ``runs`` (a list of overrides, each optionally ``name``-d) and ``seeds`` multiply them:

    data: digits.npz                 # .npz with x_train, y_train, x_val, y_val (x_test, y_test optional)
    architecture: models:mlp         # "module:function" (module beside the spec or importable), or a .keras file
    model_args: {hidden: [16]}       # keyword arguments of the function
    epochs: 20
    batch_size: 64
    learning_rate: 0.003
    beta: [1.0e-7, 1.0e-4]           # log-linear beta ramp, first and last epoch
    init_widths: {weight_bits: 4, activation_f: 4}
    ii: 4                            # optional: train for II 4 (beta weighs EBOPs per II); or {dense_1: 4}
    seeds: [0, 1, 2]
    grid:
      beta: [[1.0e-7, 1.0e-5], [1.0e-7, 1.0e-4]]
    runs:
      - {name: small, model_args: {hidden: [8]}}
      - {name: large, model_args: {hidden: [32]}}

Runs = ``runs`` x ``grid`` x ``seeds`` (each factor is one empty item when absent). Relative paths
are relative to the spec's folder. Every mistake is a :class:`SpecError` whose message names the
key (``runs[1].epochs``) and what is wrong with it.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

#: settings added after sweeps were first run: left out of a run's fingerprint while at their
#: default, so that a sweep finished before them still resumes
LATER_DEFAULTS: dict[str, Any] = {"ii": None}
#: settings of one run, with their defaults (``None``: required, or "not used" where documented)
RUN_DEFAULTS: dict[str, Any] = {
    "data": None,
    "architecture": None,
    "model_args": {},
    "epochs": None,
    "batch_size": 64,
    "learning_rate": 3e-3,
    "beta": [1e-7, 1e-4],
    "init_widths": {},
    "tolerance": 0.01,
    "n_calibration": None,
    "callbacks": [],
    "seed": 0,
    **LATER_DEFAULTS,
}
REQUIRED = ("data", "architecture", "epochs")
TOP_ONLY = ("name", "seeds", "grid", "runs")
INIT_WIDTH_KEYS = ("weight_bits", "weight_f", "activation_f")
DATA_ARRAYS = ("x_train", "y_train", "x_val", "y_val")
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")
MAX_NAME = 80


class SpecError(ValueError):
    """The sweep spec is malformed; the message names the file, the key and the problem."""


@dataclass(frozen=True)
class RunSpec:
    """One training run: its folder name, its portable settings and the folder paths are relative to.

    ``settings`` is what the run's results record (paths as written in the spec); ``base_dir``
    (absolute, on the machine that reads the spec) is only used to find the files.
    """

    name: str
    settings: dict = field(hash=False)
    base_dir: str = ""

    def path(self, key: str) -> Path:
        """The setting ``key`` (a file name) resolved against the spec's folder."""
        p = Path(self.settings[key])
        return p if p.is_absolute() else Path(self.base_dir) / p

    def fingerprint(self) -> str:
        """A short hash of the settings: a rerun must find the same one in a finished run."""
        settings = {k: v for k, v in self.settings.items()
                    if not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])}
        text = json.dumps(settings, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SweepSpec:
    """Every run of a sweep, in spec order."""

    name: str
    runs: tuple[RunSpec, ...]
    base_dir: str
    #: accuracy given up for fewer EBOPs when the merged front's model is chosen
    tolerance: float = RUN_DEFAULTS["tolerance"]


def _where(source: str, key: str) -> str:
    return f"{source}: {key}" if key else source


def _check_keys(obj: Mapping, allowed: tuple[str, ...] | set[str], source: str, where: str) -> None:
    for key in obj:
        if key not in allowed:
            hint = difflib.get_close_matches(str(key), list(allowed), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else f"; allowed: {', '.join(sorted(allowed))}"
            raise SpecError(f"{_where(source, where + str(key))}: unknown key{extra}")


def _number(value: Any, err, *, integer: bool = False, minimum: float | None = None,
            positive: bool = False) -> float | int:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type:
        err(f"must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        err(f"must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        err(f"must be >= {minimum}, got {value!r}")
    if positive and not value > 0:
        err(f"must be > 0, got {value!r}")
    return value


def _check_run(settings: dict, source: str, where: str, base_dir: Path) -> None:
    """Validate one run's merged settings; ``where`` prefixes the key names in messages."""
    def err_for(key: str):
        def err(msg: str):
            raise SpecError(f"{_where(source, where + key)}: {msg}")
        return err

    for key in REQUIRED:
        if settings.get(key) is None:
            raise SpecError(f"{_where(source, where + key)}: required (set it at the top level or in the run)")
    arch = settings["architecture"]
    err = err_for("architecture")
    if not isinstance(arch, str):
        err(f"must be 'module:function' or a .keras file, got {arch!r}")
    if arch.endswith(".keras"):
        p = Path(arch) if Path(arch).is_absolute() else base_dir / arch
        if not p.is_file():
            err(f"model file {arch!r} not found (relative paths are relative to the spec's folder)")
        _check_model_file(p, err)
        if settings["model_args"]:
            err_for("model_args")("only applies to a 'module:function' architecture, not a .keras file")
    elif not _ENTRY_POINT.match(arch):
        err(f"must be 'module:function' (e.g. 'models:mlp') or a .keras file, got {arch!r}")
    else:
        check_entry_point(arch, base_dir, err)
    data = settings["data"]
    if not isinstance(data, str) or not data.endswith(".npz"):
        err_for("data")(f"must be an .npz file name, got {data!r}")
    _check_data(base_dir / data if not Path(data).is_absolute() else Path(data), err_for("data"))
    _number(settings["epochs"], err_for("epochs"), integer=True, minimum=1)
    _number(settings["batch_size"], err_for("batch_size"), integer=True, minimum=1)
    _number(settings["learning_rate"], err_for("learning_rate"), positive=True)
    _number(settings["tolerance"], err_for("tolerance"), minimum=0)
    _number(settings["seed"], err_for("seed"), integer=True, minimum=0)
    if settings["n_calibration"] is not None:
        _number(settings["n_calibration"], err_for("n_calibration"), integer=True, minimum=1)
    beta = settings["beta"]
    err = err_for("beta")
    if not isinstance(beta, list) or len(beta) != 2:
        err(f"must be [start, stop] (the log-linear ramp), got {beta!r}")
    for b in beta:
        _number(b, err, positive=True)
    if beta[0] > beta[1]:
        err(f"start must be <= stop, got {beta!r}")
    if not isinstance(settings["model_args"], dict):
        err_for("model_args")(f"must be a mapping of keyword arguments, got {settings['model_args']!r}")
    widths = settings["init_widths"]
    if not isinstance(widths, dict):
        err_for("init_widths")(f"must be a mapping with {' and/or '.join(INIT_WIDTH_KEYS)}, got {widths!r}")
    _check_keys(widths, INIT_WIDTH_KEYS, source, where + "init_widths.")
    if "weight_bits" in widths:
        _number(widths["weight_bits"], err_for("init_widths.weight_bits"), integer=True, minimum=1)
        if "weight_f" in widths:
            err_for("init_widths.weight_f")("give weight_bits (significant bits per weight) or weight_f (fractional "
                                            "bits for every weight), not both")
    if "weight_f" in widths:
        _number(widths["weight_f"], err_for("init_widths.weight_f"))
    if "activation_f" in widths:
        _number(widths["activation_f"], err_for("init_widths.activation_f"))
    _check_ii(settings["ii"], err_for("ii"))
    cbs = settings["callbacks"]
    if not isinstance(cbs, list) or not all(isinstance(c, str) and _ENTRY_POINT.match(c) for c in cbs):
        err_for("callbacks")(f"must be a list of 'module:function' entry points, got {cbs!r}")
    for callback in cbs:
        check_entry_point(callback, base_dir, err_for("callbacks"))


def _check_ii(ii: Any, err) -> None:
    """``ii``: absent (EBOPs), a whole number >= 1 for every Dense/Conv, or ``{layer name: number}``
    (the names are checked against the model when it is built)."""
    if ii is None:
        return
    if isinstance(ii, dict):
        for name, n in ii.items():
            if not isinstance(name, str):
                err(f"layer names must be strings, got {name!r}")
            _number(n, lambda msg, name=name: err(f"{name}: {msg}"), integer=True, minimum=1)
        return
    if isinstance(ii, bool) or not isinstance(ii, int):
        err(f"must be a whole number >= 1 (every Dense/Conv) or a mapping of layer name -> number, got {ii!r}")
    _number(ii, err, integer=True, minimum=1)


def check_entry_point(text: str, base_dir: Path, err) -> None:
    """Fail now, not in every worker, when ``"module:function"`` names no module or no such name in
    it. The module's source is read, not run (no Keras import here); a module without source is
    imported."""
    module_name, _, attr = text.partition(":")
    if (str(base_dir), text) in _CHECKED_ENTRY_POINTS:
        return
    sys.path.insert(0, str(base_dir))
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    finally:
        sys.path.remove(str(base_dir))
    if found is None:
        err(f"{text!r}: no module {module_name!r} beside the spec or importable")
    names = _top_level_names(found)
    if attr not in names:
        close = difflib.get_close_matches(attr, sorted(names), n=1)
        err(f"{text!r}: module {module_name!r} defines no {attr!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    _CHECKED_ENTRY_POINTS.add((str(base_dir), text))


_CHECKED_ENTRY_POINTS: set[tuple[str, str]] = set()


def _top_level_names(spec) -> set[str]:
    """The names a module defines at its top level (functions, classes, assignments, imports)."""
    import ast

    if spec.origin and spec.origin.endswith(".py"):
        tree = ast.parse(Path(spec.origin).read_text(), spec.origin)
        names: set[str] = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
        return names
    return set(dir(importlib.import_module(spec.name)))


def _check_model_file(path: Path, err) -> None:
    """Refuse a model file that holds code before any worker loads it (docs/model_files.md)."""
    from hgq_fpga.nn.model_files import ModelFileError, check_model_file

    try:
        check_model_file(path)
    except ModelFileError as exc:
        err(str(exc))


_CHECKED_DATA: dict[Path, None] = {}


def _check_data(path: Path, err) -> None:
    if path in _CHECKED_DATA:
        return
    if not path.is_file():
        err(f"{path.name!r} not found (relative paths are relative to the spec's folder)")
    try:
        import numpy as np
        with np.load(path, allow_pickle=False) as z:
            names = set(z.files)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        err(f"{path.name!r} is not a readable .npz file ({exc})")
    missing = [a for a in DATA_ARRAYS if a not in names]
    if missing:
        err(f"{path.name!r} lacks the arrays {', '.join(missing)} (it needs {', '.join(DATA_ARRAYS)}; "
            "x_test, y_test optional)")
    _CHECKED_DATA[path] = None


def _slug(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "_".join(_slug(v) for v in value)
    if isinstance(value, dict):
        return "_".join(f"{k}{_slug(v)}" for k, v in sorted(value.items()))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _leaves(settings: dict) -> dict[str, Any]:
    """A run's settings as ``key -> value`` with the mappings (``model_args``, ``init_widths``)
    opened one level (``model_args.hidden``), in spec order; the seed is left out."""
    leaves: dict[str, Any] = {}
    for key, value in settings.items():
        if key == "seed":
            continue
        if isinstance(value, dict) and value:
            leaves.update({f"{key}.{k}": v for k, v in sorted(value.items())})
        else:
            leaves[key] = value
    return leaves


def differing_settings(all_settings: list[dict]) -> list[str]:
    """The settings (``model_args.hidden``, ``learning_rate``, ...) whose values are not the same in
    every run, in spec order: what a run's name must show to say how it differs from the others."""
    leaves = [_leaves(s) for s in all_settings]
    keys = list(dict.fromkeys(k for leaf in leaves for k in leaf))
    text = lambda v: json.dumps(v, sort_keys=True, default=str)  # noqa: E731
    return [k for k in keys if len({text(leaf.get(k)) for leaf in leaves}) > 1]


def _short_names(keys: list[str]) -> dict[str, str]:
    """``model_args.hidden`` -> ``hidden``, unless two differing settings share the last part."""
    last = [k.rpartition(".")[2] for k in keys]
    return {k: (tail if last.count(tail) == 1 else k) for k, tail in zip(keys, last)}


def _run_name(label: str | None, settings: dict, shown: list[str], short: dict[str, str],
              seed_differs: bool) -> str:
    """``label`` (a run's ``name``) or else the ``shown`` settings as ``key=value``, and the seed where
    seeds differ (or nothing else names the run)."""
    leaves = _leaves(settings)
    parts = ([label] if label else []) + [f"{short[k]}={_slug(leaves.get(k))}" for k in shown]
    if seed_differs or not parts:
        parts.append(f"seed={settings['seed']}")
    name = _UNSAFE.sub("-", "_".join(parts)).strip("-.") or "run"
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[:MAX_NAME - 9]}-{digest}"
    return name


def _list_of(value: Any, source: str, key: str) -> list:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{_where(source, key)}: must be a non-empty list, got {value!r}")
    return value


def parse(data: Mapping, base_dir: str | Path = ".", source: str = "spec") -> SweepSpec:
    """Validate a spec (already read from YAML) and expand it into runs.

    Raises:
        SpecError: naming the key and the problem, for the first mistake found.
    """
    if not isinstance(data, Mapping):
        raise SpecError(f"{source}: must be a mapping of settings, got {type(data).__name__}")
    base = Path(base_dir).resolve()
    _check_keys(data, set(RUN_DEFAULTS) | set(TOP_ONLY), source, "")
    top = {k: v for k, v in data.items() if k in RUN_DEFAULTS}
    seeds = _list_of(data.get("seeds", [top.get("seed", 0)]), source, "seeds")
    if "seeds" in data and "seed" in data:
        raise SpecError(f"{source}: seed: give either 'seed' or 'seeds', not both")
    grid = data.get("grid") or {}
    if not isinstance(grid, dict):
        raise SpecError(f"{source}: grid: must be a mapping of setting -> list of values, got {grid!r}")
    _check_keys(grid, set(RUN_DEFAULTS) - {"seed"}, source, "grid.")
    axes = [(k, _list_of(v, source, f"grid.{k}")) for k, v in grid.items()]
    runs = data.get("runs", [{}])
    runs = _list_of(runs, source, "runs")
    candidates = []
    for r, override in enumerate(runs):
        rwhere = f"runs[{r}]." if "runs" in data else ""
        if not isinstance(override, dict):
            raise SpecError(f"{_where(source, rwhere.rstrip('.'))}: must be a mapping of settings, got {override!r}")
        _check_keys(override, set(RUN_DEFAULTS) | {"name"}, source, rwhere)
        for combo in itertools.product(*(values for _, values in axes)):
            point = {k: v for (k, _), v in zip(axes, combo)}
            for seed in seeds:
                settings = {**RUN_DEFAULTS, **top, **{k: v for k, v in override.items() if k != "name"},
                            **point, "seed": seed}
                where = rwhere + "".join(f"grid.{k}={_slug(v)}." for k, v in point.items())
                _check_run(settings, source, where, base)
                candidates.append((override.get("name"), list(point), settings, rwhere))
    out = _named_runs(candidates, len(set(map(str, seeds))) > 1, source, base)
    name = data.get("name", "sweep")
    if not isinstance(name, str):
        raise SpecError(f"{source}: name: must be a string, got {name!r}")
    tolerance = _number(data.get("tolerance", RUN_DEFAULTS["tolerance"]),
                        lambda msg: _fail(source, "tolerance", msg), minimum=0)
    return SweepSpec(name, tuple(out), str(base), float(tolerance))


def _named_runs(candidates: list[tuple], seed_differs: bool, source: str, base: Path) -> list[RunSpec]:
    """Name every run by what sets it apart: its ``name`` and the grid's values, or, for a run without
    a ``name``, every setting that differs between the runs (``hidden=8_learning_rate=0.001``)."""
    differing = differing_settings([settings for _, _, settings, _ in candidates])
    short = _short_names(differing)
    names: dict[str, str] = {}
    out = []
    for label, grid_keys, settings, rwhere in candidates:
        shown = [k for k in differing if k.partition(".")[0] in grid_keys] if label else differing
        name = _run_name(label, settings, shown, short, seed_differs)
        if name in names:
            raise SpecError(f"{_where(source, rwhere.rstrip('.') or 'runs')}: two runs are both named "
                            f"{name!r}; give each run a different 'name'")
        names[name] = rwhere
        out.append(RunSpec(name, settings, str(base)))
    return out


def _fail(source: str, key: str, msg: str):
    raise SpecError(f"{_where(source, key)}: {msg}")


def _read(path: Path):
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc})") from None


def load(path: str | Path) -> SweepSpec:
    """Read and validate the YAML spec at ``path`` (relative paths inside it: from its folder)."""
    path = Path(path)
    return parse(_read(path), path.parent, str(path))


#: the keys that make several runs of one spec
EXPANDING = ("grid", "runs", "seeds")


def load_single(path: str | Path) -> RunSpec:
    """The one run of a spec without ``grid``, ``runs`` or ``seeds`` (``hgq-fpga train``): the same
    keys as a sweep's, read and checked the same way; a key that makes several runs is refused."""
    path = Path(path)
    data = _read(path)
    if isinstance(data, Mapping):
        for key in EXPANDING:
            if key in data:
                raise SpecError(f"{path}: {key}: a training spec describes one run; {key} makes several "
                                f"(use hgq-fpga sweep for them{', or seed: N for one seed' if key == 'seeds' else ''})")
    return parse(data, path.parent, str(path)).runs[0]


def as_spec(spec_or_path: SweepSpec | Mapping | str | Path, base_dir: str | Path = ".") -> SweepSpec:
    """A :class:`SweepSpec` from a spec object, a mapping (paths relative to ``base_dir``) or a file."""
    if isinstance(spec_or_path, SweepSpec):
        return spec_or_path
    if isinstance(spec_or_path, Mapping):
        return parse(spec_or_path, base_dir)
    return load(spec_or_path)

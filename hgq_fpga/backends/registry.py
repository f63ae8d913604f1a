"""The one interface every firmware backend offers, and the registry that names them.

A *backend* turns a :class:`~hgq_fpga.ir.FirmwareModel` into a *project* for one tool. Everything
above the backends (design folders, ``hgq_fpga.verify``, the command line, the report) reaches a
backend only through :func:`get_backend` and the two protocols below, so a new backend is one
module and one :func:`register_backend` call (or an ``hgq_fpga.backends`` entry point of another
package), with no edit anywhere else.

>>> hls = get_backend("hls")
>>> project = hls.write_project(fw, "build/fw_hls", board="vu9p", name="trigger")
>>> project.compile(); project.predict(x)           # == fw.predict(x), bit for bit

The built-in backends are loaded on first use, so importing this module imports none of them.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

#: entry-point group through which other packages register backends
ENTRY_POINT_GROUP = "hgq_fpga.backends"

#: the built-in backends: name -> "module:attribute" of the backend object
BUILTIN = {
    "hls": "hgq_fpga.backends.hls.backend:BACKEND",
    "rtl": "hgq_fpga.backends.rtl.backend:BACKEND",
    "cpp": "hgq_fpga.backends.emulator.backend:BACKEND",
}


@runtime_checkable
class Project(Protocol):
    """A written project: what ``write_project`` returns and ``open_project`` reopens.

    ``name`` is how a verification names this implementation ("C++", "RTL", ...); ``path`` its
    folder; ``info`` the facts a design folder's manifest keeps about it (JSON values).
    """

    name: str
    path: Path
    info: dict

    def compile(self) -> Any:
        """Build the project's simulation (or library), cached where the backend can."""

    def predict(self, x) -> Any:
        """Outputs for inputs ``x``, taken and returned as :meth:`FirmwareModel.predict` does."""

    def synth(self, board: str | None = None) -> dict:
        """Synthesize and return :meth:`report`; raises ``NotImplementedError`` where the backend
        has no synthesis."""

    def report(self) -> dict | None:
        """The synthesis figures found in the project (``None`` before synthesis); see
        :mod:`hgq_fpga.backends.common.synthesis` for the keys."""


@runtime_checkable
class Backend(Protocol):
    """A firmware backend: a name, a one-line description and three operations.

    ``write_project(fw, out_dir, *, board, name, clock_period, test_data, replace, **options)``
    takes the options every backend shares (a backend without a board or clock ignores them) and
    its own; ``synth_in_design`` says whether a design's ``synth=True`` synthesizes its project.
    """

    name: str
    description: str
    synth_in_design: bool

    def write_project(self, fw, out_dir: str | Path, **options) -> Project:
        """Write the project of ``fw`` into ``out_dir`` (a new folder) and return it, not compiled."""

    def open_project(self, fw, path: str | Path) -> Project:
        """The project that :meth:`write_project` wrote in ``path`` for ``fw``."""

    def require_tools(self, synth: bool = False) -> None:
        """Raise, saying what to install, when a tool the project needs (to compile, and with
        ``synth`` to synthesize) is missing."""


class UnknownBackendError(ValueError):
    """No backend of that name is registered; the message lists the names that are."""


_registered: dict[str, Backend] = {}


def register_backend(backend: Backend, replace: bool = False) -> Backend:
    """Make ``backend`` available as ``get_backend(backend.name)`` (and ``--backend NAME``)."""
    if not isinstance(backend, Backend):
        raise TypeError(f"{backend!r} is not a backend: it needs name, description, synth_in_design, "
                        "write_project, open_project and require_tools")
    name = backend.name
    if not name.isidentifier() or name != name.lower():
        raise ValueError(f"backend name {name!r} must be a lower-case identifier")
    if not replace and (name in _registered or name in BUILTIN):
        raise ValueError(f"a backend named {name!r} is registered already; pass replace=True to replace it")
    _registered[name] = backend
    return backend


def unregister_backend(name: str) -> None:
    """Remove a backend that :func:`register_backend` added (a built-in one stays)."""
    _registered.pop(name, None)


def _plugins() -> dict[str, str]:
    """Backends that installed packages declare as ``hgq_fpga.backends`` entry points."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def backend_names() -> list[str]:
    """Every backend name that :func:`get_backend` accepts: the built-in ones first."""
    return list(dict.fromkeys([*BUILTIN, *_plugins(), *_registered]))


def get_backend(name: str) -> Backend:
    """The backend registered as ``name`` (``"hls"``, ``"rtl"``, ``"cpp"``, or one registered since)."""
    if name in _registered:
        return _registered[name]
    target = BUILTIN.get(name) or _plugins().get(name)
    if target is None:
        raise UnknownBackendError(f"unknown backend {name!r}; choose from {', '.join(backend_names())}")
    module, _, attribute = target.partition(":")
    backend = getattr(import_module(module), attribute)
    _registered[name] = backend
    return backend

"""Lazily loaded package attributes, so that importing a package does not import Keras."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Callable, Mapping


def lazy_getattr(package: str, names: Mapping[str, tuple[str, str]],
                 fallback: Callable[[str], Any] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``names[name] = (module, attr)`` on first use.

    The value is cached in the package's namespace, so later lookups are ordinary attribute reads.
    ``fallback(name)`` is tried for other names; it raises ``AttributeError`` when it has none.
    """
    import sys

    def __getattr__(name: str) -> Any:
        if name in names:
            module, attr = names[name]
            value = getattr(import_module(module), attr)
            setattr(sys.modules[package], name, value)
            return value
        if fallback is not None:
            return fallback(name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__

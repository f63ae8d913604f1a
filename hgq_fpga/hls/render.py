"""Render the jinja2 templates shipped in ``hgq_fpga.templates`` (``templates/`` in the source tree)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jinja2

from .. import __version__


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One shared environment; undefined variables are errors, never silent blanks."""
    root = resources.files("hgq_fpga.templates")
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def render(template: str, **context) -> str:
    """Render ``template`` (a path under ``templates/``) with ``context`` plus ``version``."""
    return environment().get_template(template).render(version=__version__, **context)

"""Render the jinja2 templates shipped in ``hgq_fpga.templates`` (``templates/`` in the source tree).

Python decides every number (the plan); templates decide every character of C++, Tcl, Makefile
and Markdown.  The one filter, ``c_init``, turns an integer table into its initialiser literal.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import jinja2

from hgq_fpga import __version__
from hgq_fpga.backends.common.ctables import c_literal


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One shared environment; undefined variables are errors, never silent blanks."""
    root = resources.files("hgq_fpga.templates")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(root)),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.filters["c_init"] = c_literal
    return env


def render(template: str, **context) -> str:
    """Render ``template`` (a path under ``templates/``) with ``context`` plus ``version``."""
    return environment().get_template(template).render(version=__version__, **context)

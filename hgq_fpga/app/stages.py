"""One line per stage of a long job, with its elapsed time, so that no minute passes in silence.

On a terminal a stage shows a spinner while it runs and leaves ``✔ what (3.2 s)``; in a log file or
a pipe it prints ``what ...`` when it starts and ``✔ what (3.2 s)`` when it ends, because a redrawn
line is cut off there. :data:`QUIET` runs the same code and prints nothing.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console


class Stages:
    """Stage lines on ``console`` (default: a rich console on standard error)."""

    def __init__(self, console: Console | None = None, enabled: bool = True) -> None:
        self.console = console or Console(stderr=True)
        self.enabled = enabled
        self.started = time.perf_counter()

    @contextmanager
    def stage(self, what: str) -> Iterator[None]:
        """Report ``what`` while it runs and how long it took; a failure is marked and re-raised."""
        if not self.enabled:
            yield
            return
        t0 = time.perf_counter()
        live = self.console.is_terminal
        status = self.console.status(f"{what} ...") if live else None
        if status is None:
            self.console.print(f"{what} ...", soft_wrap=True, highlight=False)
        else:
            status.start()
        try:
            yield
        except BaseException:
            self._end(status, f"[red]✘[/] {what}", t0)
            raise
        self._end(status, f"[green]✔[/] {what}", t0)

    def note(self, text: str) -> None:
        """A line between stages (a background job started, say)."""
        if self.enabled:
            self.console.print(text, soft_wrap=True, highlight=False)

    def _end(self, status, text: str, t0: float) -> None:
        if status is not None:
            status.stop()
        self.console.print(f"{text} ({time.perf_counter() - t0:.1f} s)", soft_wrap=True, highlight=False)


#: stages that print nothing
QUIET = Stages(enabled=False)


def stages_for(progress: "Stages | bool | None") -> Stages:
    """``progress`` as stages: ``True`` (or None) prints them on standard error, ``False`` nothing."""
    if isinstance(progress, Stages):
        return progress
    return Stages() if progress in (True, None) else QUIET

"""Progress of a sweep: events sent by the runs, shown as rich bars or as plain lines.

A run (on any Dask worker) reports through :func:`emit`, which logs a Dask event on the sweep's
topic; the client subscribes to that topic and hands each event to :class:`SweepProgress`. On a
terminal it draws one bar per run (epochs) and one overall bar (runs); when stdout is not a
terminal (a batch job's log, CI) it prints one plain line per event instead.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

TOPIC_PREFIX = "hgq-sweep-"


def emit(topic: str | None, msg: dict[str, Any]) -> None:
    """Send ``msg`` (plain JSON-able values) to the client watching ``topic``; outside a Dask
    worker (a run called directly) or without a topic it is dropped."""
    if not topic:
        return
    try:
        from distributed import get_worker
        worker = get_worker()
    except (ImportError, ValueError):
        return
    worker.log_event(topic, msg)


class SweepProgress:
    """Shows a sweep's progress; use as a context manager around the sweep.

    Args:
        console: a ``rich.console.Console`` (default: a new one on stdout).
        live: draw bars (default: when the console is a terminal), else print plain lines.
    """

    def __init__(self, console=None, live: bool | None = None) -> None:
        from rich.console import Console

        self.console = console or Console()
        self.live = self.console.is_terminal if live is None else live
        self.runs: dict[str, int] = {}
        self.skipped = 0
        self.done = 0
        self._lock = threading.Lock()
        self._bars = None
        self._tasks: dict[str, int] = {}

    def plan(self, runs: Iterable[tuple[str, int]], skipped: int = 0) -> "SweepProgress":
        """The runs to execute, ``(name, epochs)``, and how many were already finished (they count
        as done in the overall bar)."""
        self.runs = dict(runs)
        self.skipped = skipped
        return self

    @property
    def total(self) -> int:
        return len(self.runs) + self.skipped

    def __enter__(self) -> "SweepProgress":
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.fields[note]}"), console=self.console)
            self._bars.start()
            self._overall = self._bars.add_task("[bold]sweep", total=self.total, completed=self.skipped,
                                                note="runs")
        elif self.skipped:
            self._say(f"sweep: {self.skipped} of {self.total} runs already finished, skipped")
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.stop()

    def _task(self, run: str) -> int:
        if run not in self._tasks:
            self._tasks[run] = self._bars.add_task(run, total=self.runs.get(run, 1), note="")
        return self._tasks[run]

    def event(self, event: tuple[float, dict] | dict) -> None:
        """A Dask event ``(timestamp, msg)`` (or a bare ``msg``) from :func:`emit`."""
        msg = event[1] if isinstance(event, tuple) else event
        run = str(msg.get("run", "?"))
        with self._lock:
            if "epoch" in msg:
                note = " ".join(f"{k} {msg[k]:.4g}" for k in ("val_accuracy", "ebops") if k in msg)
                if self._bars is not None:
                    self._bars.update(self._task(run), completed=msg["epoch"], note=note)
                else:
                    self._say(f"{run}: epoch {msg['epoch']}/{msg.get('epochs', '?')} {note}")
            elif "stage" in msg:
                if self._bars is not None:
                    self._bars.update(self._task(run), note=str(msg["stage"]))
                else:
                    self._say(f"{run}: {msg['stage']}")

    def finished(self, run: str, ok: bool = True, error: str = "") -> None:
        """Count ``run`` as finished (``ok``) or failed (``error`` says why)."""
        with self._lock:
            self.done += 1
            status = "done" if ok else f"FAILED: {error}"
            if self._bars is not None:
                task = self._task(run)
                self._bars.update(task, completed=self.runs.get(run, 1) if ok else None, note=status)
                self._bars.update(self._overall, advance=1)
            else:
                self._say(f"[{self.done + self.skipped}/{self.total}] {run}: {status}")

    def _say(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)

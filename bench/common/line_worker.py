"""Client side of a one-JSON-object-per-line worker process (used for the HGQ2 contender).

The worker is started with a command line; its first line on stdout must be ``{"ready": true, ...}``
(kept as :attr:`LineWorker.hello`). Each request is one line of text on its stdin, each answer one
JSON object on its stdout; ``{"error": "..."}`` is a failure. ``quit`` ends it. Its stderr goes to a
temporary file whose tail is quoted in every error, so a crash says why.

Reads use ``select`` with a timeout, so a hung worker is killed with a clear error instead of
hanging the benchmark.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
import time
from typing import Any, Sequence


class WorkerError(RuntimeError):
    """The worker failed, answered with an error, said something that is not JSON, or timed out."""


class LineWorker:
    """A running worker process speaking the line protocol above.

    Args:
        cmd: the command line that starts it.
        name: what to call it in error messages.
        startup_timeout: seconds to wait for the ``ready`` line.
        env: its environment (default: ours).
    """

    def __init__(self, cmd: Sequence[str], name: str = "worker", startup_timeout: float = 600.0,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self._stderr = tempfile.TemporaryFile()
        self._buf = b""
        try:
            self.proc = subprocess.Popen(list(cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr, env=env)
        except OSError as exc:
            self._stderr.close()
            raise WorkerError(f"{name}: cannot start {cmd[0]!r}: {exc}") from exc
        try:
            self.hello: dict[str, Any] = self._read(startup_timeout)
            if self.hello.get("ready") is not True:
                raise WorkerError(f"{name}: expected a ready line first, got {self.hello}{self._tail()}")
        except BaseException:
            self._kill()
            raise

    # ------------------------------------------------------------------ requests
    def request(self, line: str, timeout: float = 600.0) -> dict[str, Any]:
        """Send one line, return the worker's answer; raise :class:`WorkerError` on ``{"error"}``."""
        if "\n" in line:
            raise ValueError(f"a request is one line, got {line!r}")
        if self.proc.poll() is not None:
            raise WorkerError(f"{self.name}: already exited with status {self.proc.returncode}{self._tail()}")
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError as exc:
            raise WorkerError(f"{self.name}: exited before the request {line!r}{self._tail()}") from exc
        answer = self._read(timeout, line)
        if "error" in answer:
            raise WorkerError(f"{self.name}: {line!r} failed: {answer['error']}")
        return answer

    def close(self, timeout: float = 30.0) -> int | None:
        """Say ``quit`` and wait for the exit (kill after ``timeout`` s); return the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"quit\n")
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._close_files()
        self._stderr.close()
        return self.proc.returncode

    def __enter__(self) -> "LineWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _read(self, timeout: float, request: str | None = None) -> dict[str, Any]:
        """The next line of stdout as a JSON object, within ``timeout`` seconds."""
        what = f"the answer to {request!r}" if request else "the ready line"
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self._kill()
                raise WorkerError(f"{self.name}: no {what} within {timeout:g} s (killed){self._tail()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                status = self.proc.wait()
                raise WorkerError(f"{self.name}: exited with status {status} before {what}{self._tail()}")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise WorkerError(f"{self.name}: {what} is not JSON: {line[:200]!r}") from exc
        if not isinstance(obj, dict):
            raise WorkerError(f"{self.name}: {what} is not a JSON object: {line[:200]!r}")
        return obj

    def _tail(self, lines: int = 12) -> str:
        """The last lines of the worker's stderr, for error messages."""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace").strip()
        except (OSError, ValueError):
            return ""
        return ("\n--- its stderr (last lines) ---\n" + "\n".join(text.splitlines()[-lines:])) if text else ""

    def _kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass

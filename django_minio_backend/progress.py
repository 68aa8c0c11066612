"""The progress line of long management commands: redrawn in place on a terminal, plain lines in a log.

On a terminal (the command's stdout is a TTY) one line is rewritten, at most every `terminal_interval`
seconds; otherwise `update()` prints a plain line at most every `log_interval` seconds (None: the caller
prints its own periodic lines). At verbosity 0 nothing is shown. The command's other output goes through
`say()`, which clears the line first, so the two never mix. Updates may come from several threads (uploads
finish on the transfer pool); one lock orders the writes. A few lines of our own instead of a library such
as tqdm: the package keeps its four dependencies, and Django's OutputWrapper stays the only writer.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from django.core.management.base import OutputWrapper

_CLEAR_LINE = "\r\x1b[K"  # back to the start of the line, erase to its end


class ProgressLine:
    """One line of progress for one run of a command."""

    def __init__(
        self, out: OutputWrapper, verbosity: int, *, terminal_interval: float = 0.1, log_interval: float | None = 5.0
    ) -> None:
        self._out = out
        self.shown = verbosity > 0
        self.on_terminal = out.isatty()
        self._interval = terminal_interval if self.on_terminal else log_interval
        self._lock = threading.Lock()
        self._last = time.monotonic()  # the first update waits one interval: short runs print no progress
        self._drawn = False  # the terminal's current line holds our text

    def update(self, render: Callable[[], str]) -> None:
        """Show `render()` if the interval has passed since the last time (`render` is only called then)."""
        if not self.shown or self._interval is None:
            return
        if time.monotonic() - self._last < self._interval:
            return  # the common case, decided without the lock
        with self._lock:
            # The clock is read again under the lock: a time read before waiting for it is older than the draw that
            # held it, and would count as "drawn just now" (with no interval, updates would be lost).
            now = time.monotonic()
            if now - self._last < self._interval:  # another thread has just drawn it
                return
            self._last = now
            self._show(render())

    def say(self, text: str) -> None:
        """Write a line of the command's own output (whatever the verbosity: the caller decides)."""
        with self._lock:
            if self._drawn:
                self._out.write(_CLEAR_LINE, ending="")
                self._drawn = False
            self._out.write(text)

    def finish(self, render: Callable[[], str] | None = None) -> None:
        """On a terminal, leave the last state (`render()`, or what is shown) on a line of its own."""
        with self._lock:
            if self.shown and self.on_terminal and render is not None:
                self._show(render())
            if self._drawn:
                self._out.write("")
                self._drawn = False

    def _show(self, text: str) -> None:
        if not self.on_terminal:
            self._out.write(text)
            return
        self._out.write(_CLEAR_LINE + text[: self._width() - 1], ending="")
        self._out.flush()
        self._drawn = True

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self._out.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = 0
        return columns if columns > 1 else 80  # a terminal that does not know its size says 0


class Tally:
    """Files done out of a total and the bytes they moved, counted from several threads."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.size = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def add(self, size: int = 0) -> None:
        with self._lock:
            self.done += 1
            self.size += size

    def describe(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        megabytes = self.size / 1e6
        return f"{self.done}/{self.total} files, {megabytes:.1f} MB, {megabytes / elapsed:.1f} MB/s"

"""A progress bar for the CLI on stderr (no dependency: one line, redrawn ten times a second)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """``update(phase, done, total)`` redraws one line; off a terminal only phase ends print.

    Redrawing with carriage returns into a log file or a pipe would fill it with noise.
    """

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self._drawn_at = 0.0
        self._phase: str | None = None

    def update(self, phase: str, done: int, total: int) -> None:
        finished = done >= total
        if self._phase is not None and phase != self._phase:
            self._end_line()
        self._phase = phase
        now = time.monotonic()
        if not finished and (not self.live or now - self._drawn_at < 0.1):
            return
        self._drawn_at = now
        share = done / total if total else 1.0
        filled = round(self.WIDTH * share)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"{phase:>10} [{bar}] {done:>9,}/{total:,} {share:6.1%}"
        if self.live:
            self.stream.write("\r" + line)
        elif finished:
            self.stream.write(line + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()

    def close(self) -> None:
        if self._phase is not None:
            self._end_line()
            self._phase = None

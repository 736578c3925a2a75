"""Messages and progress for a person at a terminal: always on stderr, so stdout stays machine-readable."""

from __future__ import annotations

import sys
import time


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Progress:
    """A single-line progress bar on stderr; quiet when disabled or when stderr is not a terminal."""

    def __init__(self, total: int, label: str, enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.label = label
        self.enabled = enabled
        self._tty = sys.stderr.isatty()
        self._start = time.monotonic()
        self._last_print = 0.0
        self._done = 0

    def update(self, done: int) -> None:
        self._done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last_print < (0.1 if self._tty else 2.0) and done < self.total:
            return
        self._last_print = now
        width = 30
        filled = int(width * min(done, self.total) / self.total)
        rate = done / max(now - self._start, 1e-6)
        line = f"{'#' * filled}{'.' * (width - filled)} {done}/{self.total} {self.label} ({rate:.0f}/s)"
        print(
            ("\r" + line) if self._tty else line, end="" if self._tty else "\n", file=sys.stderr, flush=True
        )

    def close(self) -> None:
        if self.enabled and self._tty:
            print(file=sys.stderr, flush=True)

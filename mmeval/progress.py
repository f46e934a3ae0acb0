"""Progress for long work: a live line on a terminal, sparse plain lines in CI logs.

A run shows its phases one after another, each its own Progress: the batches (with what
runs now: `generating candidate`, `gates`, `scoring`), the intervals, the report files.
On a terminal the line redraws at most 10 times a second; in a CI log a phase writes a
line only every 30 s, so a short run leaves no noise and a long one shows it is alive.

    bar = Progress("smoke: batches", 30, unit="samples", enabled=progress)
    bar.doing("generating candidate"); ...; bar.update(len(batch))
    bar.close()
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`update(n)` after each unit of work; `close()` at the end. Writes to stderr."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None, enabled: bool = True, unit: str = ""):
        self.label, self.total, self.done, self.unit, self.activity = label, total, 0, unit, ""
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()
        self.start = self._last = time.monotonic()

    def _line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        pct = 100.0 * self.done / self.total if self.total else 100.0
        eta_text = f"{eta:,.0f}s" if eta == eta else "?"
        unit = f" {self.unit}" if self.unit else ""
        doing = f" · {self.activity}" if self.activity else ""
        return f"{self.label}: {self.done}/{self.total}{unit} ({pct:.0f}%) {rate:,.1f}/s eta {eta_text}{doing}"

    def doing(self, activity: str) -> None:
        """What runs now (shown on the line at its next redraw)."""
        self.activity = activity
        self.update(0)

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if self.live and now - self._last > 0.1:
            self.stream.write("\r" + self._line() + "\x1b[K")
            self.stream.flush()
            self._last = now
        elif not self.live and now - self._last > 30:  # a line every 30 s in CI logs, no bar spam
            self.stream.write(self._line() + "\n")
            self._last = now

    def close(self) -> None:
        if self.live:
            self.stream.write("\r" + self._line() + "\x1b[K\n")
            self.stream.flush()

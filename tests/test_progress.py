"""The progress display: a live line on a terminal, no bar spam in CI logs."""

from __future__ import annotations

import io

from mmeval.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_ci_logs_get_no_bar_updates():
    stream = io.StringIO()
    bar = Progress("gen", 100, stream=stream)
    for _ in range(100):
        bar.update(1)
    bar.close()
    assert "\r" not in stream.getvalue() and stream.getvalue().count("\n") <= 1


def test_terminal_gets_a_live_line_with_rate_and_eta():
    stream = _Terminal()
    bar = Progress("gen", 10, stream=stream)
    bar._last -= 1  # as if the last redraw was a second ago
    bar.update(4)
    bar.close()
    text = stream.getvalue()
    assert text.startswith("\rgen: 4/10 (40%)") and "/s eta" in text and text.endswith("\n")


def test_disabled_writes_nothing():
    stream = _Terminal()
    bar = Progress("gen", 3, stream=stream, enabled=False)
    bar.update(3)
    bar.close()
    assert stream.getvalue() == ""


def test_the_line_says_what_runs_now():
    stream = _Terminal()
    bar = Progress("smoke: batches", 30, stream=stream, unit="samples")
    bar._last -= 1
    bar.doing("generating candidate")
    bar.close()
    assert "smoke: batches: 0/30 samples (0%)" in stream.getvalue() and stream.getvalue().rstrip().endswith("· generating candidate\x1b[K")

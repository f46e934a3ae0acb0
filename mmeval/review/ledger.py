"""`RUN_DIR/reviews.jsonl`: every rating, appended at once, as a SHA-256 hash chain.

One line per answer: `seq`, `time`, `run_id`, `rater` (the policy principal), `sample_id`,
`shown` (the models in the order the rater saw them: left, right), `pick` (`left`,
`right` or `tie`), `scores` (`{model: {criterion: 1..scale}}`), `prev` (the previous
line's hash; 64 zeros first) and `hash` over every other field, as the audit log does
(security/auditcheck.entry_hash). An edited, dropped, reordered or inserted line breaks
the chain; the run's attestation covers the file once `mmeval review summarize` signed it,
so a rebuilt chain is caught too (report/signing.py: an appendable subject).

Crash safety: each append takes an `fcntl` lock, writes one line with O_APPEND and fsyncs
before the page hears "saved"; a process killed mid-write leaves at most a torn last line,
the answer in flight, which the next append or summary cuts off with a warning.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import IntegrityError
from ..runinfo import utc_now
from ..security.auditcheck import GENESIS, entry_hash

REVIEWS = "reviews.jsonl"
PICKS = ("left", "right", "tie")


class Ratings:
    """The ledger of one run. An instance remembers what it has read and checked, so a
    server reads only the lines appended since (by itself or by another rater's server);
    a new instance (the summary) reads and checks the whole file."""

    def __init__(self, run_dir: Path, run_id: str):
        self.path = Path(run_dir) / REVIEWS
        self.run_id = run_id
        self._entries: list[dict[str, Any]] = []
        self._offset = 0  # bytes of the file behind `_entries`

    def append(self, rater: str, sample_id: str, shown: list[str], pick: str, scores: dict[str, dict[str, int]]) -> dict[str, Any]:
        """Add one answer, durable when this returns; the entry as written."""
        with self._locked() as fd:
            entries = self._read(fd)
            entry: dict[str, Any] = {"seq": len(entries), "time": utc_now(), "run_id": self.run_id, "rater": rater,
                                     "sample_id": sample_id, "shown": list(shown), "pick": pick, "scores": scores,
                                     "prev": entries[-1]["hash"] if entries else GENESIS}
            entry["hash"] = entry_hash(entry)
            os.write(fd, (json.dumps(entry, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
            os.fsync(fd)
            return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every answer, the chain checked; a torn last line (a crash mid-write) is cut off."""
        if not self.path.exists():
            return []
        with self._locked() as fd:
            return self._read(fd)

    @contextmanager
    def frozen(self) -> Iterator[list[dict[str, Any]]]:
        """Every answer, with appends held off until the block ends (a summary signs them)."""
        with self._locked() as fd:
            yield self._read(fd)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)

    def _read(self, fd: int) -> list[dict[str, Any]]:
        size = os.fstat(fd).st_size
        if size < self._offset:  # cut since it was read: read and check it all again
            self._entries, self._offset = [], 0
        data = os.pread(fd, size - self._offset, self._offset)
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) < len(data):  # the answer in flight when a process died: never acknowledged
            sys.stderr.write(f"warning: {self.path}: cut off a torn last line ({len(data) - len(complete)} bytes), "
                             "an answer that was being written when the server stopped\n")
            os.ftruncate(fd, self._offset + len(complete))
        self._entries += check_chain(complete, self.path, self.run_id, self._entries[-1] if self._entries else None)
        self._offset += len(complete)
        return list(self._entries)


def check_chain(data: bytes, where: Path, run_id: str | None, after: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The entries of complete `data` (lines that follow entry `after`, or the whole file);
    IntegrityError naming the first line that breaks the chain."""
    entries: list[dict[str, Any]] = []
    first = after["seq"] + 1 if after else 0
    prev = after["hash"] if after else GENESIS
    for number, line in enumerate(data.splitlines(), start=first + 1):
        try:
            entry = json.loads(line)
        except ValueError:
            raise IntegrityError(f"{where}: line {number} is not a JSON rating") from None
        ok = isinstance(entry, dict) and entry.get("seq") == number - 1 and entry.get("prev") == prev
        ok = ok and entry.get("hash") == entry_hash(entry) and _well_formed(entry)
        if not ok:
            raise IntegrityError(f"{where}: line {number} breaks the rating chain (edited, inserted, dropped or reordered)")
        if run_id is not None and entry["run_id"] != run_id:
            raise IntegrityError(f"{where}: line {number} rates run {entry['run_id']}, not this run ({run_id})")
        entries.append(entry)
        prev = entry["hash"]
    return entries


def _well_formed(entry: dict[str, Any]) -> bool:
    shown, scores = entry.get("shown"), entry.get("scores")
    return (all(isinstance(entry.get(k), str) for k in ("time", "run_id", "rater", "sample_id"))
            and isinstance(shown, list) and len(shown) == 2 and all(isinstance(m, str) for m in shown) and shown[0] != shown[1]
            and entry.get("pick") in PICKS and isinstance(scores, dict)
            and all(m in shown and isinstance(s, dict) and all(isinstance(v, int) and not isinstance(v, bool) for v in s.values())
                    for m, s in scores.items()))

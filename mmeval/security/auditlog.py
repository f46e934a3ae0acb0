"""Append-only, tamper-evident audit log: a SHA-256 hash chain of JSON lines.

Each entry holds `seq`, `time`, `event`, `principal`, identifier fields, `prev` (the
previous entry's hash; 64 zeros for the first) and `hash` = sha256 of the canonical JSON
of every other field. Editing, deleting, reordering or inserting an entry breaks the chain
at that entry; `verify()` raises IntegrityError naming it. A head file (`<log>.head`,
rewritten atomically after each append) holds the last seq and hash, so a cut tail is
caught too.

Limits: someone who can rewrite both the log and its head can rebuild a consistent
chain; copy the head hash (`mmeval log show --head`) somewhere they cannot write (a
ticket, a signed release) to pin history up to that point. Entries hold identifiers only
(ids, names, decisions, counts), never sample text, PII or key material.

Path: `$MMEVAL_AUDIT_LOG`, else `.mmeval/audit.log` under the working directory.
Appends take an exclusive `fcntl` lock, write with O_APPEND and fsync.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import IntegrityError
from ..fsutil import write_atomic
from ..runinfo import utc_now

ENV = "MMEVAL_AUDIT_LOG"
GENESIS = "0" * 64
_RESERVED = {"seq", "time", "event", "principal", "prev", "hash"}


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")

    @classmethod
    def default(cls) -> AuditLog:
        return cls(Path(os.environ.get(ENV) or Path(".mmeval") / "audit.log"))

    def append(self, event: str, principal: str | None = None, **fields: Any) -> dict[str, Any]:
        """Add one entry; returns it. Field values must be JSON scalars or lists of them."""
        clash = _RESERVED & set(fields)
        if clash:
            raise ValueError(f"audit field names reserved: {sorted(clash)}")
        if principal is None:
            from .policy import resolve_principal

            principal = resolve_principal()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            last = self._last_entry()
            self._check_head(last)
            entry = {
                "seq": 0 if last is None else int(last["seq"]) + 1,
                "time": utc_now(),
                "event": event,
                "principal": principal,
                **fields,
                "prev": GENESIS if last is None else last["hash"],
            }
            entry["hash"] = entry_hash(entry)
            os.write(fd, (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode())
            os.fsync(fd)
            write_atomic(self.head_path, (json.dumps({"seq": entry["seq"], "hash": entry["hash"]}) + "\n").encode(), 0o600)
        finally:
            os.close(fd)  # closing releases the lock
        return entry

    def entries(self) -> Iterator[dict[str, Any]]:
        """Parsed entries, unverified. Unparseable lines raise IntegrityError."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    entry = json.loads(line)
                    if not isinstance(entry, dict):
                        raise ValueError
                except ValueError:
                    raise IntegrityError(f"audit log {self.path}: line {number} is not a JSON entry") from None
                yield entry

    def verify(self) -> int:
        """Check the whole chain and the head; returns the number of entries."""
        prev, count = GENESIS, 0
        for number, entry in enumerate(self.entries(), start=1):
            where = f"audit log {self.path}: entry {number - 1} (line {number})"
            if entry.get("seq") != number - 1:
                raise IntegrityError(f"{where} has seq {entry.get('seq')!r}: an entry was deleted, inserted or reordered")
            if entry.get("prev") != prev:
                raise IntegrityError(f"{where} does not follow the previous entry: deleted, inserted or reordered")
            if entry.get("hash") != entry_hash(entry):
                raise IntegrityError(f"{where} was edited (hash mismatch)")
            prev, count = entry["hash"], count + 1
        head = self.head()
        if head is not None and (head.get("seq") != count - 1 or head.get("hash") != prev):
            raise IntegrityError(
                f"audit log {self.path}: ends at entry {count - 1} but its head says {head.get('seq')}: "
                "the tail was cut or the log replaced"
            )
        if head is None and count:
            raise IntegrityError(f"audit log {self.path}: head file {self.head_path.name} is missing")
        return count

    def head(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.head_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            raise IntegrityError(f"audit log head {self.head_path} is unreadable") from None

    def _check_head(self, last: dict[str, Any] | None) -> None:
        """Refuse to extend a log whose tail was cut: the append would hide the cut."""
        head = self.head()
        if last is None and head is None:
            return
        if last is None or head is None or head.get("seq") != last.get("seq") or head.get("hash") != last.get("hash"):
            raise IntegrityError(
                f"audit log {self.path} does not end where its head says; run 'mmeval log verify'"
            )

    def _last_entry(self) -> dict[str, Any] | None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return None
        if size == 0:
            return None
        with open(self.path, "rb") as handle:
            chunk = 65536
            while True:
                start = max(0, size - chunk)
                handle.seek(start)
                data = handle.read()
                lines = data.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or start == 0:
                    break
                chunk *= 4
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise IntegrityError(f"audit log {self.path}: last entry is damaged; run 'mmeval log verify'") from None

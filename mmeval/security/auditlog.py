"""Append-only, tamper-evident audit log: a SHA-256 hash chain of JSON lines.

Each entry holds `seq`, `time`, `event`, `principal`, identifier fields, `prev` (the
previous entry's hash; 64 zeros for the first) and `hash` = sha256 of the canonical JSON
of every other field. Editing, deleting, reordering or inserting an entry breaks the chain
at that entry; `verify()` raises IntegrityError naming it. A head file (`<log>.head`,
rewritten atomically after each append) holds the last seq and hash, so a cut tail is
caught too, and the pin (`$MMEVAL_HOME/audit.pin`, see auditpin.py) records how far the
log reached, so deleting log and head together is caught as well.

Crash consistency: an append writes the line (O_APPEND, fsync), then the head, then the
pin. A process killed between line and head leaves the log exactly one complete,
chain-valid entry ahead of its head; the next append adopts that entry (one `warning:`
line). A missing head is recomputed from a chain that verifies. A failed write is cut
back off the log; a torn last line (no trailing newline) that is left anyway makes
appends refuse until `mmeval log repair` moves it aside. A log shorter than its head
refuses appends (the append would hide the cut). A log missing, replaced or shorter than
its pin still takes appends, with a warning each time, because refusing would stop every
audited command after a `git clean`; the pin is then left as it was, so `mmeval log
verify` keeps exiting 4 until `mmeval log repair --accept-loss` records the loss in the
chain and re-pins.

Limits: someone who can rewrite the log, its head and the pin can rebuild a consistent
chain; copy the head hash (`mmeval log show --head`) somewhere they cannot write (a
ticket, a signed release) to pin history up to that point. Entries hold identifiers only
(ids, names, decisions, counts), never sample text, PII or key material.

Path: `$MMEVAL_AUDIT_LOG`, else `.mmeval/audit.log` under the working directory.
Appends take an exclusive `fcntl` lock, write with O_APPEND and fsync.
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

from ..errors import IntegrityError, MmevalError
from ..fsutil import write_atomic
from ..runinfo import utc_now
from .auditcheck import GENESIS, REPAIR_HINT, LogCheck, entry_hash, findings, scan_log
from .auditpin import read_pin, write_pin

ENV = "MMEVAL_AUDIT_LOG"
_RESERVED = {"seq", "time", "event", "principal", "prev", "hash"}


def _warn(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


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
        with self._locked() as fd:
            return self._append_locked(fd, event, principal, fields)

    def entries(self) -> Iterator[dict[str, Any]]:
        """Parsed entries, unverified. Unparseable lines raise IntegrityError."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.endswith(b"\n"):
                    raise IntegrityError(f"audit log {self.path}: line {number} is torn; {REPAIR_HINT}")
                try:
                    entry = json.loads(line)
                    if not isinstance(entry, dict):
                        raise ValueError
                except ValueError:
                    raise IntegrityError(f"audit log {self.path}: line {number} is not a JSON entry") from None
                yield entry

    def check(self) -> LogCheck:
        """Everything wrong with the log, its head and its pin; never raises for damage."""
        head, head_error = self._head_or_error()
        pin, pin_error = _pin_or_error(self.path)
        want = {h["seq"] for h in (head, pin) if isinstance(h, dict) and isinstance(h.get("seq"), int)}
        scan = scan_log(self.path, want)
        return findings(self.path, scan, head, head_error, pin, pin_error)

    def verify(self) -> int:
        """Check the whole chain, the head and the pin; returns the number of entries."""
        result = self.check()
        if result.problems:
            raise IntegrityError(f"audit log {self.path}: " + "; ".join(p["message"] for p in result.problems))
        return result.entries

    def head(self) -> dict[str, Any] | None:
        head, error = self._head_or_error()
        if error:
            raise IntegrityError(error)
        return head

    def repair(self, principal: str, *, accept_loss: bool = False, policy: str = "none") -> dict[str, Any]:
        """Move a torn tail aside, recompute the head, and (with accept_loss) record a lost
        history; never rewrites or drops a complete entry. Returns what was done."""
        from .auditrepair import repair_locked

        with self._locked() as fd:
            return repair_locked(self, fd, principal, accept_loss=accept_loss, policy=policy)

    # -- internals ---------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[int]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _append_locked(self, fd: int, event: str, principal: str, fields: dict[str, Any],
                       repin: bool = False) -> dict[str, Any]:
        last = self._settled_tail()
        pin_issue = None if repin else self._pin_issue(last)
        entry = {
            "seq": 0 if last is None else int(last["seq"]) + 1,
            "time": utc_now(),
            "event": event,
            "principal": principal,
            **fields,
            "prev": GENESIS if last is None else last["hash"],
        }
        entry["hash"] = entry_hash(entry)
        self._write_line(fd, (json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n").encode())
        try:
            self._write_head(entry)
        except OSError as exc:  # the line is durable; the next append recomputes the head
            _warn(f"audit log {self.path}: head not updated ({exc.strerror}); the next append adopts entry {entry['seq']}")
        if pin_issue:
            _warn(f"audit log {self.path}: {pin_issue}; recorded anyway, and 'mmeval log verify' fails until "
                  "'mmeval log repair --accept-loss' records the loss")
        else:
            self._update_pin(entry)
        return entry

    def _settled_tail(self) -> dict[str, Any] | None:
        """The last entry, once the head agrees with it; adopts the one entry an interrupted
        append left ahead of the head and recomputes a missing head. Refuses anything else."""
        last = self._last_entry()
        head = self.head()
        if head is not None and last is not None and head.get("seq") == last.get("seq") and head.get("hash") == last.get("hash"):
            return last
        if head is None and last is None:
            return None
        if head is None:
            scan = scan_log(self.path, set())
            if scan.broken:
                raise IntegrityError(f"audit log {self.path}: head file {self.head_path.name} is missing and "
                                     f"{scan.broken}; run 'mmeval log verify'")
            self._write_head(last)
            _warn(f"audit log {self.path}: head file {self.head_path.name} was missing; recomputed from "
                  f"{scan.entries} verified entries")
            return last
        if last is not None and last.get("seq") == head["seq"] + 1 and last.get("prev") == head["hash"] \
                and last.get("hash") == entry_hash(last):
            self._write_head(last)
            _warn(f"audit log {self.path}: adopted entry {last['seq']}, written by an append that was interrupted "
                  "before it updated the head; head rewritten")
            return last
        if last is None:
            raise IntegrityError(f"audit log {self.path} is missing or empty but its head says entry "
                                 f"{head.get('seq')!r}; run 'mmeval log verify'")
        raise IntegrityError(f"audit log {self.path} does not end where its head says; run 'mmeval log verify'")

    def _pin_issue(self, last: dict[str, Any] | None) -> str | None:
        """Cheap pin check for appends (the last and first lines only); verify does the full one."""
        pin, error = _pin_or_error(self.path)
        if error or pin is None:
            return error
        pinned = f"the pin records entries up to seq {pin['seq']}"
        if last is None:
            return f"log is missing but {pinned}: the history was deleted"
        if self._first_hash() != pin.get("first"):
            return f"entry 0 is not the pinned one ({pinned}): the log was deleted or replaced"
        if last["seq"] < pin["seq"]:
            return f"ends at entry {last['seq']} but {pinned}: the tail was cut"
        if last["seq"] == pin["seq"] and last.get("hash") != pin.get("hash"):
            return f"entry {last['seq']} differs from its pinned hash: history was rewritten"
        return None

    def _update_pin(self, entry: dict[str, Any]) -> None:
        first = entry["hash"] if entry["seq"] == 0 else self._first_hash()
        try:
            write_pin(self.path, entry["seq"], entry["hash"], first or "")
        except (OSError, IntegrityError) as exc:
            _warn(f"audit pin not updated ({getattr(exc, 'strerror', None) or exc})")

    def _write_line(self, fd: int, data: bytes) -> None:
        size = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:  # a full disk: cut the partial line back off, so no torn tail stays
            try:
                os.ftruncate(fd, size)
                os.fsync(fd)
            except OSError:
                pass
            raise MmevalError(f"could not append to audit log {self.path} ({exc.strerror}); the action was not "
                              "recorded and did not run") from None

    def _write_head(self, entry: dict[str, Any]) -> None:
        write_atomic(self.head_path, (json.dumps({"seq": entry["seq"], "hash": entry["hash"]}) + "\n").encode(), 0o600)

    def _head_or_error(self) -> tuple[dict[str, Any] | None, str | None]:
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, None
        except (OSError, ValueError, UnicodeDecodeError):
            return None, f"audit log head {self.head_path} is unreadable; {REPAIR_HINT}"
        if not isinstance(head, dict) or not isinstance(head.get("seq"), int) or not isinstance(head.get("hash"), str):
            return None, f"audit log head {self.head_path} is not a head file; {REPAIR_HINT}"
        return head, None

    def _first_hash(self) -> str | None:
        try:
            with open(self.path, "rb") as handle:
                return json.loads(handle.readline()).get("hash")
        except (OSError, ValueError, AttributeError):
            return None

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
                if not data.endswith(b"\n"):
                    raise IntegrityError(f"audit log {self.path} ends in a torn line (an append was interrupted or "
                                         f"the disk was full); {REPAIR_HINT}")
                lines = data[:-1].split(b"\n")
                if len(lines) > 1 or start == 0:
                    break
                chunk *= 4
        try:
            entry = json.loads(lines[-1])
            if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
                raise ValueError
            return entry
        except ValueError:
            raise IntegrityError(f"audit log {self.path}: last entry is damaged; run 'mmeval log verify'") from None


def _pin_or_error(log_path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return read_pin(log_path), None
    except IntegrityError as exc:
        return None, str(exc)

"""`AuditLog.repair`: recover from a crash without hiding anything.

A torn tail (bytes after the last newline) moves to `<log>.torn-<UTC time>` (0600, kept as
evidence) and the log is cut back to its last complete, verified entry; the head is
recomputed from the chain. A chain break in the middle is not repairable. A log shorter
than its head or pin (a loss) is recorded, with the lost seq and hash, only when the
caller passes accept_loss. Every repair that changes something appends a `log-repair` entry.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import IntegrityError
from .auditcheck import LOSSES, findings, scan_log

if TYPE_CHECKING:
    from .auditlog import AuditLog


def repair_locked(log: AuditLog, fd: int, principal: str, *, accept_loss: bool, policy: str) -> dict[str, Any]:
    from .auditlog import _pin_or_error

    head, head_error = log._head_or_error()
    pin, pin_error = _pin_or_error(log.path)
    want = {h["seq"] for h in (head, pin) if isinstance(h, dict) and isinstance(h.get("seq"), int)}
    scan = scan_log(log.path, want)
    check = findings(log.path, scan, head, head_error, pin, pin_error)
    if scan.broken:
        raise IntegrityError(f"audit log {log.path}: {scan.broken}: entries after it cannot be trusted, so it is "
                             "not repairable; keep the file as evidence and start a new log elsewhere")
    losses = [p for p in check.problems if p["kind"] in LOSSES]
    if losses and not accept_loss:
        raise IntegrityError(f"audit log {log.path}: " + "; ".join(p["message"] for p in losses)
                             + "; repair does not hide a loss: rerun with --accept-loss to record it in the log")
    if not check.problems and not check.notes:
        return {"changed": False}
    fields: dict[str, Any] = {"policy": policy, "problems": sorted({p["kind"] for p in check.problems + check.notes})}
    if scan.torn:
        side = _keep_torn(log.path, scan.torn)
        os.ftruncate(fd, scan.good_size)
        os.fsync(fd)
        fields.update(torn_bytes=len(scan.torn), torn_file=side.name)
    if losses:
        furthest = max((h for h in (head, pin) if h), key=lambda h: h["seq"], default=None)
        fields.update(lost_seq=furthest and furthest["seq"], lost_hash=furthest and furthest.get("hash"))
    if scan.last is None:
        log.head_path.unlink(missing_ok=True)
    else:
        log._write_head(scan.last)
    entry = log._append_locked(fd, "log-repair", principal, fields, repin=True)
    return {"changed": True, "entry": entry, **fields}


def _keep_torn(path: Path, data: bytes) -> Path:
    """Write the torn bytes to a new 0600 side file (never over an older one)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        side = path.with_name(f"{path.name}.torn-{stamp}" + (f".{n}" if n else ""))
        try:
            fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return side
    raise IntegrityError(f"audit log {path}: too many torn side files; move them away and retry")

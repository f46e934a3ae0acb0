"""The audit pin: a per-user record, outside the log's folder, of how far each log reached.

`$MMEVAL_HOME/audit.pin` (0600) maps each log's absolute path to its last `seq`, `hash`
and the hash of entry 0 (`first`, which names the chain). A log and head deleted or cut
together no longer pass as a fresh start: the pin still says how far the history went.
It is one more file to rewrite for whoever forges history, not a proof; the head hash
copied somewhere they cannot write stays the real pin.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from ..errors import IntegrityError
from ..fsutil import write_atomic
from ..runinfo import utc_now


def pin_path() -> Path:
    from ..home import mmeval_home

    return mmeval_home() / "audit.pin"


def _key(log_path: Path) -> str:
    return str(Path(log_path).resolve())


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": 1, "logs": {}}
    except (OSError, ValueError, UnicodeDecodeError):
        raise IntegrityError(f"audit pin {path} is unreadable") from None
    if not isinstance(data, dict) or not isinstance(data.get("logs"), dict):
        raise IntegrityError(f"audit pin {path} is not a pin file")
    return data


def read_pin(log_path: Path) -> dict[str, Any] | None:
    """The pinned {seq, hash, first} of this log, or None when it was never pinned."""
    entry = _load(pin_path())["logs"].get(_key(log_path))
    if entry is not None and not (isinstance(entry, dict) and isinstance(entry.get("seq"), int)):
        raise IntegrityError(f"audit pin {pin_path()} has a malformed entry for {log_path}")
    return entry


def write_pin(log_path: Path, seq: int, hash_: str, first: str) -> None:
    """Record the log's new end; a lock file serialises writers of different logs."""
    path = pin_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = _load(path)
        data["logs"][_key(log_path)] = {"seq": seq, "hash": hash_, "first": first, "time": utc_now()}
        write_atomic(path, (json.dumps(data, indent=1, sort_keys=True) + "\n").encode(), 0o600)
    finally:
        os.close(fd)

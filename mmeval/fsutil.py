"""Atomic file and directory writes: readers see the old content or the new, never half."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_bytes(obj: Any) -> bytes:
    """How mmeval writes a JSON file: indented, key order kept, no NaN."""
    return (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode()


def write_json(path: Path, obj: Any, mode: int = 0o644) -> None:
    write_atomic(path, json_bytes(obj), mode)


def sha256_file(path: Path, limit: int | None = None) -> str:
    """Hex sha256 of a file (of its first `limit` bytes), read in 1 MiB chunks."""
    digest = hashlib.sha256()
    left = -1 if limit is None else limit
    with Path(path).open("rb") as handle:
        while left != 0:
            chunk = handle.read(1 << 20 if left < 0 else min(left, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            left = left - len(chunk) if left > 0 else left
    return digest.hexdigest()


def safe_stem(name: str) -> str:
    """One path component for a name from a suite or dataset (sample id, model name):
    never a separator, never `.`/`..` or a hidden name, never empty. Names that needed
    changes get a hash suffix so distinct names stay distinct ("a/b" vs "a_b")."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120] or "_"
    if safe.startswith("."):  # ".." climbs out of a folder; ".x" hides a file
        safe = "_" + safe[1:]
    return safe if safe == name else f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"

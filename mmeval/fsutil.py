"""Atomic file and directory writes: readers see the old content or the new, never half."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from collections.abc import Iterator
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


def write_json(path: Path, obj: Any, mode: int = 0o644) -> None:
    write_atomic(path, (json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n").encode(), mode)


@contextmanager
def staged_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `final`; on success it replaces `final` in one rename.

    On any error the temporary folder is removed, so no half-written run is left behind.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def safe_stem(sample_id: str) -> str:
    """A file name stem for a sample id; ids that needed changes get a hash suffix so
    distinct ids stay distinct ("a/b" vs "a_b")."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in sample_id)
    return safe if safe == sample_id else f"{safe}-{hashlib.sha256(sample_id.encode()).hexdigest()[:8]}"

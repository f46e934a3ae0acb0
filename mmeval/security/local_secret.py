"""A per-user secret key under `$MMEVAL_HOME` (default `~/.config/mmeval`), mode 0600.

Used to authenticate local state that is read back later (e.g. the resume cache), so a
file planted or edited by someone else is detected. Created on first use in one atomic
step (written to a temporary file, then hard-linked into place, which fails if another
process got there first); a file that others could read or write is refused.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from ..errors import InputError
from ..fsutil import write_atomic
from ..home import mmeval_home, require_private

SECRET_BYTES = 32


def local_secret(name: str) -> bytes:
    """The secret in `$MMEVAL_HOME/<name>`, created 0600 on first use."""
    path = mmeval_home() / name
    if not path.exists() and not path.is_symlink():
        _create(path)
    return _read(path)


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.new")
    write_atomic(tmp, secrets.token_bytes(SECRET_BYTES), mode=0o600)
    try:
        os.link(tmp, path)  # never replaces a secret another process created meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _read(path: Path) -> bytes:
    try:
        info = require_private(path, "secret", InputError)
    except OSError as exc:
        raise InputError(f"secret {path}: cannot read ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"secret {path} is not a regular file; remove it and it is created again")
    if os.name == "posix":
        if info.st_uid != os.getuid():
            raise InputError(f"secret {path} is owned by another user; remove it and it is created again")
    data = path.read_bytes()
    if len(data) < SECRET_BYTES:
        raise InputError(f"secret {path} is truncated ({len(data)} bytes); remove it and it is created again")
    return data

"""Per-user state: where it lives, and the one check every secret file passes.

`$MMEVAL_HOME` (default `~/.config/mmeval`) holds the signing key, the key ring, the
cache secret and the audit pin. A secret that group or others may open is refused with
the `chmod` that fixes it, whichever secret it is.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import MmevalError


def mmeval_home() -> Path:
    return Path(os.environ.get("MMEVAL_HOME") or Path.home() / ".config" / "mmeval")


def require_private(path: Path, what: str, error: type[MmevalError]) -> os.stat_result:
    """`path`'s lstat if only its owner may open it, else raise `error` naming the fix."""
    info = path.lstat()
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise error(f"{what} {path} is open to other users (mode {info.st_mode & 0o777:04o}); run: chmod 600 {path}")
    return info

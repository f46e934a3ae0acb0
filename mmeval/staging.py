"""Output folders that appear whole or not at all, and never cost a user a file.

`staged_directory(final)` yields a hidden sibling `.NAME.<random>.partial`; on success it
takes `final`'s place in one rename, on any error (SIGINT and SIGTERM included, see
`cli.main`) it is removed. Before anything is written:

- `final` must be a folder that does not exist, an empty folder, or an earlier mmeval
  output (it holds the `.mmeval-output` marker, or a signed `report.json` from before the
  marker existed), and an earlier output is replaced only with `replace=True` (`--force`).
  A file, a folder of the user's, the working directory or one above it: exit 2.
- Two writers of one `final` at once: each holds an `fcntl` lock on its own partial
  folder; the second to start sees the first's live lock and exits 2. A partial folder
  whose lock nobody holds was left by a killed process: it is removed, with a warning,
  since it may hold plaintext outputs.

No lock or marker file is ever left outside `final`.

`private_directory()` is the same idea for work that must not appear in any output (a
rank's shard of a distributed run, whose files travel to rank 0): a locked folder in the
temporary directory, removed at the end, and when a `kill -9` left one, by the next start.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError

MARKER = ".mmeval-output"
_LEGACY_RUN_FILES = ("report.json", "attestation.dsse.json")


def is_mmeval_output(folder: Path) -> bool:
    return (folder / MARKER).is_file() or all((folder / name).is_file() for name in _LEGACY_RUN_FILES)


def check_target(final: Path, replace: bool) -> None:
    """Refuse a target that is not ours to replace (InputError, exit 2)."""
    resolved = final.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise InputError(f"{final}: is the working directory or one above it; give a new folder for the output")
    if final.is_symlink():
        raise InputError(f"{final}: is a symbolic link; give a real folder for the output")
    if not final.exists():
        return
    if not final.is_dir():
        raise InputError(f"{final}: is a file, not a folder; give a new folder for the output")
    if not any(final.iterdir()):
        return
    if not is_mmeval_output(final):
        raise InputError(f"{final}: folder is not empty and is not an mmeval output; refusing to replace it")
    if not replace:
        raise InputError(f"{final}: holds an earlier mmeval output; pass --force to replace it")
    from .review.ledger import REVIEWS

    ratings = final / REVIEWS  # people's work, which no rerun can remake
    if ratings.is_file() and ratings.stat().st_size:
        raise InputError(f"{final}: holds human ratings ({ratings.name}) that --force would lose; "
                         "move the folder away first or write the new run elsewhere")


def _partials(final: Path) -> list[Path]:
    return sorted(final.parent.glob(f".{final.name}.*.partial"))


def _try_lock(folder: Path) -> int | None:
    """An fd holding an exclusive lock on `folder`, or None if another process holds it."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _sweep_stale(final: Path, own: Path | None = None) -> list[Path]:
    """Remove partial folders of `final` left by killed processes; return the live ones."""
    live = []
    for partial in _partials(final):
        if partial == own:
            continue
        fd = _try_lock(partial)
        if fd is None:
            if partial.exists():
                live.append(partial)
            continue
        try:
            shutil.rmtree(partial, ignore_errors=True)
            sys.stderr.write(f"warning: removed {partial}, a partial output left by a killed run\n")
        finally:
            os.close(fd)
    return live


def _started_first(a: Path, b: Path) -> bool:
    """An order both writers agree on: names start with the creation time (`_new_partial`)."""
    return a.name < b.name


def _new_partial(final: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.{time.time_ns():020d}-", suffix=".partial", dir=final.parent))


@contextmanager
def staged_directory(final: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a locked temporary sibling of `final`; on success it replaces `final`."""
    check_target(final, replace)
    final.parent.mkdir(parents=True, exist_ok=True)
    if _sweep_stale(final):
        raise InputError(f"{final}: another mmeval process is writing this output now; wait for it or choose another --out")
    tmp = _new_partial(final)
    fd = _try_lock(tmp)
    try:
        if fd is None or any(_started_first(other, tmp) for other in _sweep_stale(final, own=tmp)):
            raise InputError(f"{final}: another mmeval process is writing this output now; wait for it or choose another --out")
        (tmp / MARKER).write_text("written by mmeval; this folder may be replaced by `--force`\n", encoding="utf-8")
        yield tmp
        check_target(final, replace)  # it may have changed while the run worked
        _swap_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if fd is not None:
            os.close(fd)


def _swap_into_place(tmp: Path, final: Path) -> None:
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        os.replace(final, old / "previous")  # only ever an empty folder or an earlier mmeval output
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


_PRIVATE_PREFIX = "mmeval-private-"


@contextmanager
def private_directory() -> Iterator[Path]:
    """Yield a locked, 0700 temporary folder; it is removed afterwards. Unlocked ones left
    by killed processes (they may hold plaintext outputs) are removed first."""
    root = Path(tempfile.gettempdir())
    for stale in root.glob(_PRIVATE_PREFIX + "*"):
        try:
            if time.time() - stale.stat().st_mtime < 60:  # may be a process's, between creating and locking it
                continue
        except OSError:
            continue
        fd = _try_lock(stale)  # None: live, or not ours to open
        if fd is not None:
            try:
                shutil.rmtree(stale, ignore_errors=True)
            finally:
                os.close(fd)
    folder = Path(tempfile.mkdtemp(prefix=_PRIVATE_PREFIX))
    fd = _try_lock(folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if fd is not None:
            os.close(fd)

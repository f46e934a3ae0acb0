"""A content-addressed cache of feature arrays and statistics, written atomically.

Keys are sha256 hex strings derived from what was measured (the content hashes of the
inputs) and how (the metric fingerprint: network, weights, preprocessing), so a hit is
always valid and nothing needs invalidating. Root: `$MMEVAL_CACHE_DIR/stats` or
`.mmeval-cache/stats` in the working directory; `MMEVAL_CACHE_DIR=off` disables it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from .fsutil import write_atomic

Arrays = dict[str, np.ndarray]


def cache_key(*parts: str | Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        for item in [part] if isinstance(part, str) else part:
            digest.update(item.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def default_root() -> Path | None:
    base = os.environ.get("MMEVAL_CACHE_DIR", ".mmeval-cache")
    return None if base == "off" else Path(base) / "stats"


class ArrayCache:
    """`get_or_compute(key, compute)` returns cached arrays or computes and stores them.

    The last entry also stays in memory: a metric's `compute` and its set-level bootstrap
    ask for the same reference features back to back, and with the cache off the second
    ask would otherwise run the network again.
    """

    def __init__(self, root: Path | None = None):
        self.root = root if root is not None else default_root()
        self.hits = self.misses = 0
        self._last: tuple[str, Arrays] | None = None

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.npz"

    def get_or_compute(self, key: str, compute: Callable[[], Arrays]) -> Arrays:
        if self._last is not None and self._last[0] == key:
            self.hits += 1
            return self._last[1]
        arrays = self._load_or_compute(key, compute)
        self._last = (key, arrays)
        return arrays

    def _load_or_compute(self, key: str, compute: Callable[[], Arrays]) -> Arrays:
        if self.root is not None:
            path = self._path(key)
            if path.is_file():
                try:
                    with np.load(path) as data:
                        self.hits += 1
                        return {name: data[name] for name in data.files}
                except (OSError, ValueError):
                    pass  # a damaged entry is recomputed and replaced
        self.misses += 1
        arrays = compute()
        if self.root is not None:
            buffer = io.BytesIO()
            np.savez(buffer, **arrays)
            try:
                write_atomic(self._path(key), buffer.getvalue(), mode=0o600)  # derived from possibly private media
            except OSError:
                pass  # a cache that cannot be written only costs time
        return arrays

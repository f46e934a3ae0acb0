"""Sample-level resume: outputs already generated are reused, so a killed run continues.

Key: sha256 of (suite sha256, model name, adapter `use` + args, adapter `fingerprint()`,
suite seed). Under `<root>/<key>/` each generated batch is one JSON file written
atomically (temp file + rename) right after generation, so a `kill -9` loses at most the
batch in flight; media outputs (PNG/WAV in the run directory) are copied next to it and
restored into the new run directory on reuse. Only adapters with a `fingerprint()` are
cached (their outputs are a function of what the key holds).

Root: `$MMEVAL_CACHE_DIR` or `.mmeval-cache/outputs` under the working directory;
`MMEVAL_CACHE_DIR=off` disables it. Raw outputs may be sensitive: folders are 0700 and
files 0600; delete the folder to forget them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..fsutil import write_atomic

_JSON_SCALARS = (str, int, float, bool, type(None))


def cache_root() -> Path | None:
    value = os.environ.get("MMEVAL_CACHE_DIR", ".mmeval-cache/outputs")
    return None if value.lower() in ("off", "0", "none", "") else Path(value)


def cache_key(suite_sha256: str, model: str, use: str, args: dict[str, Any], fingerprint: str, seed: int) -> str:
    blob = json.dumps([suite_sha256, model, use, args, fingerprint, seed], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class OutputCache:
    """Per-(suite, model, seed) store of outputs by sample id."""

    def __init__(self, root: Path, key: str, run_dir: Path):
        self.dir = root / key
        self.run_dir = Path(run_dir)
        if not root.exists():
            root.mkdir(parents=True, mode=0o700)
        self.dir.mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        self._entries: dict[str, dict[str, Any]] = {}
        for path in sorted(self.dir.glob("batch-*.json")):
            try:
                self._entries.update(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a torn file cannot exist (atomic writes), but never trust a cache

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._entries

    def get(self, sample_id: str) -> Any:
        entry = self._entries[sample_id]
        if "media" not in entry:
            return entry["value"]
        source = self.dir / entry["media"]
        target = self.run_dir / entry["rel"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return target.resolve()

    def _encode(self, output: Any) -> dict[str, Any] | None:
        if isinstance(output, Path):
            try:
                rel = output.resolve().relative_to(self.run_dir.resolve())
            except ValueError:
                return None  # a file outside the run folder may change; do not cache it
            data = output.read_bytes()
            name = f"media-{hashlib.sha256(data).hexdigest()}{output.suffix.lower()}"
            if not (self.dir / name).exists():
                write_atomic(self.dir / name, data, mode=0o600)
            return {"media": name, "rel": rel.as_posix()}
        if isinstance(output, _JSON_SCALARS) or (isinstance(output, (list, dict)) and _is_json(output)):
            return {"value": output}
        return None

    def put(self, ids: Sequence[str], outputs: Sequence[Any]) -> None:
        """Store one generated batch (skipped entirely if an output cannot be stored)."""
        batch = {}
        for sid, output in zip(ids, outputs):
            entry = self._encode(output)
            if entry is None:
                return
            batch[sid] = entry
        if not batch:
            return
        digest = hashlib.sha256(json.dumps(sorted(batch)).encode()).hexdigest()[:24]
        write_atomic(self.dir / f"batch-{digest}.json", json.dumps(batch, sort_keys=True).encode(), mode=0o600)
        self._entries.update(batch)


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True

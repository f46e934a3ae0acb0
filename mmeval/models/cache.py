"""Resume of a run that did not complete: outputs it already generated are reused.

This is resume, not memoisation. A run that finishes marks its folders complete, and a
later run starts a completed folder afresh (clearing it), so its outputs and efficiency
figures are measured again. Reusing a completed run's outputs happens only on request
(`mmeval run --reuse-outputs`, `runner.run(..., reuse_outputs=True)`).

Key: sha256 of (suite sha256, model name, adapter `use` + args, adapter `fingerprint()`,
suite seed). Under `<root>/<key>/` each generated batch is one JSON file
`{sample id: entry}` written atomically right after generation, so a `kill -9` loses at
most the batch in flight; media outputs are stored as `media-<sha256><suffix>` next to
it and restored into the new run directory on reuse. Only adapters with a
`fingerprint()` are cached (their outputs are a function of what the key holds).

An entry is valid for one sample input only: it holds the sha256 of that input (for a
media input, of the file's bytes), so changed inputs under the same ids are generated
again. Entries are untrusted: each carries an HMAC-SHA256 over (key, sample id, input
hash, content; for media the bytes' sha256 and paths) under a per-user secret
(`$MMEVAL_HOME/cache-hmac.key`, 0600), and every path an entry names must stay inside
its folder. Entries that fail are ignored (counted in `rejected`) and regenerated.

Root: `$MMEVAL_CACHE_DIR` or `.mmeval-cache/outputs` under the working directory;
`MMEVAL_CACHE_DIR=off` disables it. Raw outputs may be sensitive: folders are 0700 and
files 0600; delete the folder to forget them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from ..fsutil import sha256_file, write_atomic

_JSON_SCALARS = (str, int, float, bool, type(None))
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MEDIA_NAME = re.compile(r"media-[0-9a-f]{64}(\.[a-z0-9]{1,8})?")
COMPLETE = "complete"  # marker: a run that used this folder finished
SECRET_NAME = "cache-hmac.key"
MISS = object()  # `lookup` found no valid entry


def cache_root() -> Path | None:
    value = os.environ.get("MMEVAL_CACHE_DIR", ".mmeval-cache/outputs")
    return None if value.lower() in ("off", "0", "none", "") else Path(value)


def cache_key(suite_sha256: str, model: str, use: str, args: dict[str, Any], fingerprint: str, seed: int) -> str:
    blob = json.dumps([suite_sha256, model, use, args, fingerprint, seed], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def cache_secret() -> bytes:
    from ..security.local_secret import local_secret

    return local_secret(SECRET_NAME)


def input_sha256(value: Any) -> str:
    """What a model reads for one sample: media by content, anything else as canonical JSON."""
    if isinstance(value, Path):
        blob = f"file{value.suffix.lower()}:{sha256_file(value)}"
    else:
        blob = "json:" + json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class OutputCache:
    """Per-(suite, model, seed) store of outputs by (sample id, input hash)."""

    def __init__(self, root: Path, key: str, run_dir: Path, secret: bytes, *, reuse_completed: bool = False):
        self.key = key
        self.dir = root / key
        self.run_dir = Path(run_dir)
        self._secret = secret
        self.rejected = 0  # entries ignored: bad MAC, bad shape, path outside its folder, changed media
        if not root.exists():
            root.mkdir(parents=True, mode=0o700)
        self.dir.mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        self._entries: dict[str, dict[str, dict[str, Any]]] = {}  # sample id -> input hash -> entry
        if (self.dir / COMPLETE).exists() and not reuse_completed:
            self._clear()  # a finished run's outputs are not resumed: this run starts fresh
        else:
            self._load()

    def _clear(self) -> None:
        for path in self.dir.iterdir():
            if path.name.startswith(("batch-", "media-")):
                path.unlink(missing_ok=True)
        (self.dir / COMPLETE).unlink(missing_ok=True)  # last: an interrupted clear is redone

    def _load(self) -> None:
        for path in sorted(self.dir.glob("batch-*.json")):
            try:
                if not stat.S_ISREG(path.lstat().st_mode):  # a link may point anywhere
                    raise ValueError
                batch = json.loads(path.read_text(encoding="utf-8"))
                if not isinstance(batch, dict):
                    raise ValueError
            except (OSError, ValueError):
                self.rejected += 1
                continue
            for sid, entry in batch.items():
                if self._valid(sid, entry):
                    self._entries.setdefault(sid, {})[entry["input"]] = entry
                else:
                    self.rejected += 1

    def _mac(self, sid: str, input_hash: str, content: list[Any]) -> str:
        message = json.dumps(["mmeval-output-cache/1", self.key, sid, input_hash, *content], sort_keys=True)
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def _content(entry: dict[str, Any]) -> list[Any]:
        if "media" in entry:
            return ["media", entry["sha256"], entry["media"], entry["rel"]]
        return ["value", json.dumps(entry["value"], sort_keys=True)]

    def _valid(self, sid: Any, entry: Any) -> bool:
        try:
            if not (isinstance(sid, str) and isinstance(entry, dict) and isinstance(entry.get("mac"), str)
                    and isinstance(entry.get("input"), str) and _SHA256.fullmatch(entry["input"])):
                return False
            if not hmac.compare_digest(entry["mac"], self._mac(sid, entry["input"], self._content(entry))):
                return False
        except (KeyError, TypeError, ValueError):
            return False
        if "media" in entry:  # paths are checked even under a valid MAC: never leave the folders
            return self._media_source(entry) is not None and _safe_rel(entry["rel"]) is not None
        return True

    def _media_source(self, entry: dict[str, Any]) -> bytes | None:
        """The media bytes, if the name is a plain file in this folder whose content matches."""
        name, digest = entry.get("media"), entry.get("sha256")
        if not (isinstance(name, str) and _MEDIA_NAME.fullmatch(name) and isinstance(digest, str)):
            return None
        path = self.dir / name
        try:
            if not stat.S_ISREG(path.lstat().st_mode):
                return None
            data = path.read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == digest else None

    def lookup(self, sample_id: str, input_hash: str) -> Any:
        """The stored output for this sample and input, or MISS; media is restored into the run folder."""
        entry = self._entries.get(sample_id, {}).get(input_hash)
        if entry is None:
            return MISS
        if "media" not in entry:
            return entry["value"]
        data = self._media_source(entry)  # read again: the file may have changed since loading
        target = self._restore_target(entry["rel"])
        if data is None or target is None:
            self.rejected += 1
            del self._entries[sample_id][input_hash]
            return MISS
        write_atomic(target, data, mode=0o644)  # replaces a link at the target instead of following it
        return target.resolve()

    def _restore_target(self, rel: Any) -> Path | None:
        parts = _safe_rel(rel)
        if parts is None:
            return None
        target = self.run_dir.joinpath(*parts)
        if not target.parent.resolve().is_relative_to(self.run_dir.resolve()):  # a link inside the run folder
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def _encode(self, sid: str, input_hash: str, output: Any) -> dict[str, Any] | None:
        if isinstance(output, Path):
            try:
                rel = output.resolve().relative_to(self.run_dir.resolve())
            except ValueError:
                return None  # a file outside the run folder may change; do not cache it
            data = output.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            entry: dict[str, Any] = {"media": f"media-{digest}{output.suffix.lower()}", "rel": rel.as_posix(), "sha256": digest}
            write_atomic(self.dir / entry["media"], data, mode=0o600)  # always: never trust a file already there
        elif isinstance(output, _JSON_SCALARS) or (isinstance(output, (list, dict)) and _is_json(output)):
            # Stored as JSON is what comes back (dict keys become strings): authenticate that.
            entry = {"value": output if isinstance(output, _JSON_SCALARS) else json.loads(json.dumps(output))}
        else:
            return None
        entry["input"] = input_hash
        entry["mac"] = self._mac(sid, input_hash, self._content(entry))
        return entry

    def put(self, ids: Sequence[str], input_hashes: Sequence[str], outputs: Sequence[Any]) -> None:
        """Store one generated batch (skipped entirely if an output cannot be stored)."""
        batch = {}
        for sid, input_hash, output in zip(ids, input_hashes, outputs):
            entry = self._encode(sid, input_hash, output)
            if entry is None:
                return
            batch[sid] = entry
        if not batch:
            return
        digest = hashlib.sha256(json.dumps(sorted((s, e["input"]) for s, e in batch.items())).encode()).hexdigest()[:24]
        write_atomic(self.dir / f"batch-{digest}.json", json.dumps(batch, sort_keys=True).encode(), mode=0o600)
        for sid, entry in batch.items():
            self._entries.setdefault(sid, {})[entry["input"]] = entry

    def mark_complete(self) -> None:
        """The run that used this folder finished: a later run starts afresh unless asked to reuse."""
        write_atomic(self.dir / COMPLETE, b"", mode=0o600)


def _safe_rel(rel: Any) -> tuple[str, ...] | None:
    """The parts of a relative POSIX path that cannot climb out of its folder, else None."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel:
        return None
    path = PurePosixPath(rel)
    if path.is_absolute() or any(part in ("..", ".", "") for part in path.parts) or rel != path.as_posix():
        return None
    return path.parts


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True

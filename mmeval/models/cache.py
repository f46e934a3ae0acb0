"""Resume of a run that did not complete: outputs it already generated are reused.

This is resume, not memoisation. A run that finishes marks its folders complete, and a
later run starts a completed folder afresh (clearing it), so its outputs and efficiency
figures are measured again. Reusing a completed run's outputs happens only on request
(`mmeval run --reuse-outputs`, `runner.run(..., reuse_outputs=True)`).

Key: sha256 of (suite sha256, model name, adapter `use` + args, adapter `fingerprint()`,
suite seed). Under `<root>/<key>/` each generated batch is one sealed file
`batch-<digest>.sealed` written atomically right after generation, so a `kill -9` loses
at most the batch in flight. Only adapters with a `fingerprint()` are cached (their
outputs are a function of what the key holds).

Sealed, not plaintext: the cache holds raw outputs from before the gates run (a resumed
run gates them again and reports the same findings), so each batch file is AES-256-GCM
under a key derived (HKDF-SHA256) from a per-user secret (`$MMEVAL_HOME/cache-hmac.key`,
0600), with the cache key and file name as associated data. Nothing in a batch is a
path: media are stored as bytes and come back as in-memory `MediaBlob`s. A batch that
fails to open (planted, edited, moved from another key) is ignored, counted in
`rejected`, and its outputs are generated again.

An entry is valid for one sample input only: it holds the sha256 of that input (for a
media input, of the file's bytes), so changed inputs under the same ids are generated
again.

Root: `$MMEVAL_CACHE_DIR` or `.mmeval-cache/outputs` under the working directory;
`MMEVAL_CACHE_DIR=off` disables it. Runs with a key ring do not use it (their outputs
belong in the run's encrypted store only). Folders are 0700 and files 0600.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..fsutil import safe_stem, sha256_file, write_atomic
from ..media.blob import MediaBlob

_JSON_SCALARS = (str, int, float, bool, type(None))
_SHA256 = re.compile(r"[0-9a-f]{64}")
COMPLETE = "complete"  # marker: a run that used this folder finished
SECRET_NAME = "cache-hmac.key"  # the name of format 1's MAC key; now the sealing key's secret
FORMAT = "mmeval-output-cache/2"
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
        self._aead = _aead(secret)
        self.rejected = 0  # batches and entries ignored: failed to open, bad shape
        root.mkdir(parents=True, mode=0o700, exist_ok=True)  # ranks of one torchrun run start at once
        self.dir.mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        self._entries: dict[str, dict[str, Any]] = {}  # sample id -> input hash -> output (decoded once)
        if (self.dir / COMPLETE).exists() and not reuse_completed:
            self._clear()  # a finished run's outputs are not resumed: this run starts fresh
        else:
            self._load()

    def _clear(self) -> None:
        for path in self.dir.iterdir():
            if path.name.startswith(("batch-", "media-")):  # media-*: plaintext of cache format 1
                path.unlink(missing_ok=True)
        (self.dir / COMPLETE).unlink(missing_ok=True)  # last: an interrupted clear is redone

    def _aad(self, name: str) -> bytes:
        return json.dumps([FORMAT, self.key, name]).encode()

    def _load(self) -> None:
        from cryptography.exceptions import InvalidTag

        for path in sorted(self.dir.glob("batch-*")):
            try:
                if not stat.S_ISREG(path.lstat().st_mode):  # a link may point anywhere
                    raise ValueError
                sealed = path.read_bytes()
                batch = json.loads(self._aead.decrypt(sealed[:12], sealed[12:], self._aad(path.name)))
                if not isinstance(batch, dict):
                    raise ValueError
            except (InvalidTag, OSError, ValueError):  # not a batch this user sealed here
                self.rejected += 1
                continue
            for sid, entry in batch.items():
                output = _output_of(entry) if isinstance(sid, str) else MISS
                if output is MISS:
                    self.rejected += 1
                else:
                    self._entries.setdefault(sid, {})[entry["input"]] = output

    def lookup(self, sample_id: str, input_hash: str) -> Any:
        """The stored output for this sample and input, or MISS; media come back as blobs."""
        return self._entries.get(sample_id, {}).get(input_hash, MISS)

    def _encode(self, input_hash: str, output: Any) -> dict[str, Any] | None:
        if isinstance(output, Path):  # a file an adapter wrote in the run folder: kept as bytes
            if not output.resolve().is_relative_to(self.run_dir.resolve()):
                return None  # a file outside the run folder may change; do not cache it
            output = MediaBlob(output.read_bytes(), safe_stem(output.name))
        if isinstance(output, MediaBlob):
            entry: dict[str, Any] = {"media": {"name": output.name, "b64": base64.b64encode(output.data).decode()}}
        elif isinstance(output, _JSON_SCALARS) or (isinstance(output, (list, dict)) and _is_json(output)):
            # Stored as JSON is what comes back (dict keys become strings).
            entry = {"value": output if isinstance(output, _JSON_SCALARS) else json.loads(json.dumps(output))}
        else:
            return None
        entry["input"] = input_hash
        return entry

    def put(self, ids: Sequence[str], input_hashes: Sequence[str], outputs: Sequence[Any]) -> None:
        """Store one generated batch (skipped entirely if an output cannot be stored)."""
        batch = {}
        for sid, input_hash, output in zip(ids, input_hashes, outputs):
            entry = self._encode(input_hash, output)
            if entry is None:
                return
            batch[sid] = entry
        if not batch:
            return
        digest = hashlib.sha256(json.dumps(sorted((s, e["input"]) for s, e in batch.items())).encode()).hexdigest()[:24]
        name = f"batch-{digest}.sealed"
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, json.dumps(batch, sort_keys=True).encode(), self._aad(name))
        write_atomic(self.dir / name, sealed, mode=0o600)
        for sid, entry in batch.items():
            self._entries.setdefault(sid, {})[entry["input"]] = _output_of(entry)

    def mark_complete(self) -> None:
        """The run that used this folder finished: a later run starts afresh unless asked to reuse."""
        write_atomic(self.dir / COMPLETE, b"", mode=0o600)


def _aead(secret: bytes) -> Any:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=FORMAT.encode()).derive(secret)
    return AESGCM(key)


def _output_of(entry: Any) -> Any:
    """A sealed entry's output (a value, or media as a blob), or MISS when its shape is wrong
    (no input hash, or media whose name is a path rather than a file name)."""
    if not (isinstance(entry, dict) and isinstance(entry.get("input"), str) and _SHA256.fullmatch(entry["input"])):
        return MISS
    if "media" not in entry:
        return entry["value"] if "value" in entry else MISS
    media = entry["media"]
    if not (isinstance(media, dict) and isinstance(media.get("name"), str) and isinstance(media.get("b64"), str)):
        return MISS
    if safe_stem(media["name"]) != media["name"]:  # a file name, never a path
        return MISS
    try:
        return MediaBlob(base64.b64decode(media["b64"], validate=True), media["name"])
    except ValueError:
        return MISS


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True

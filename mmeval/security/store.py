"""Encrypted per-record store inside a run directory (`RUN_DIR/store/`).

Envelope encryption: each record (any JSON value) is sealed with AES-256-GCM under a fresh
256-bit data key; the data key is sealed with the key ring's active master key (AES-GCM,
its own nonce). Both seals use associated data binding the store's run id, the record id
and the master key id, so a record moved to another id, run or key fails to open. Nonces
are random 96-bit values; every key is used for one message only. The data key is also
wrapped for every reader role the ring lists (X25519 + HKDF + AES-GCM, readers.py), so a
reader's private key alone opens the record, without the master key.

    store = RecordStore(run_dir / "store", ring, run_id="abc")      # the run writes
    store.put("model/sample-1", {"output": "..."})
    RecordStore.open(run_dir, ring).get("model/sample-1")           # everyone else reads
    RecordStore.open(run_dir, None, reader=load_reader_key(path))   # ... or as a reader role

Reads go through `verified_store` (`RecordStore.open`): the run's attestation must verify
with a trusted key, so the store's files are exactly the ones the run signed (a deleted,
added or swapped record file, or a whole store/ from another run, is an IntegrityError
before any record is read), and the store's run id must be the attested one.

Record files are named by sha256 of the record id (no sample text in names), hold the id,
key id, nonces and ciphertexts as canonical JSON, and are written atomically (0600). The
only plaintext is the record id (and reader role names and key ids). Encryption happens in memory: no plaintext temp files.
Any changed byte, wrong key or swapped file raises IntegrityError naming the record id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

from ..errors import InputError, IntegrityError
from ..fsutil import write_atomic
from .keyring import KeyRing
from .readers import ReaderKey, wrap_for

FORMAT = "mmeval-store/1"
MANIFEST = "manifest.json"
SUFFIX = ".rec"


def record_file_name(record_id: str) -> str:
    return hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:40] + SUFFIX


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    # Re-encoding must give the same text: otherwise unused padding bits could change unseen.
    if not isinstance(text, str):
        raise ValueError("not a string")
    data = base64.b64decode(text, validate=True)
    if _b64(data) != text:
        raise ValueError("non-canonical base64")
    return data


def verified_store(run_dir: Path, ring: KeyRing | None, trusted_key: Path | None = None, *,
                   reader: ReaderKey | None = None, statement: dict[str, Any] | None = None) -> RecordStore:
    """The store of a signed run, bound to it: every file under store/ is one the run's
    attestation lists with that sha256 (nothing missing, nothing added), checked with
    `trusted_key` (default: your signing key), and the store belongs to the attested run id.
    `statement`: the attestation the caller has just verified (`verify_attestation`)."""
    from ..report.signing import verify_attestation

    run_dir = Path(run_dir)
    if statement is None:
        statement = verify_attestation(run_dir, trusted_key)  # every file, store/ included, against the signed list
    listed = sorted(str(s.get("name")) for s in statement["subject"] if str(s.get("name")).startswith("store/"))
    if f"store/{MANIFEST}" not in listed:
        raise InputError(f"{run_dir} has no encrypted store (the run was made without a key ring)")
    present = sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "store").rglob("*") if p.is_file())
    if present != listed:  # verify_attestation saw to this; kept here so the binding does not hang on its details
        raise IntegrityError(f"store {run_dir / 'store'}: its files are not the ones the run's attestation lists")
    run_id = (statement.get("predicate") or {}).get("run_id")
    if not isinstance(run_id, str) or not run_id:
        raise IntegrityError(f"{run_dir}: the attestation names no run id to bind the store to")
    return RecordStore(run_dir / "store", ring, run_id=run_id, reader=reader, existing=True)


class RecordStore:
    """Records of one run. `ring` may be None for listing ids only, or with a `reader` key."""

    def __init__(self, root: Path, ring: KeyRing | None, run_id: str | None = None, *,
                 reader: ReaderKey | None = None, existing: bool = False):
        self.root = Path(root)
        self.ring = ring
        self.reader = reader
        manifest = self.root / MANIFEST
        if manifest.exists():
            try:
                meta = json.loads(manifest.read_text(encoding="utf-8"))
                stored = str(meta["run_id"])
            except (OSError, ValueError, KeyError, TypeError):
                raise IntegrityError(f"store {self.root}: {MANIFEST} is unreadable") from None
            if meta.get("format") != FORMAT:
                raise IntegrityError(f"store {self.root}: {MANIFEST} is not {FORMAT}")
            if run_id is not None and run_id != stored:
                raise IntegrityError(f"store {self.root} belongs to run {stored}, not {run_id}")
            self.run_id = stored
        elif run_id is None or existing:
            raise InputError(f"{self.root} is not an encrypted store (no {MANIFEST})")
        else:
            self.run_id = run_id
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_atomic(manifest, _canonical({"format": FORMAT, "run_id": run_id}), mode=0o600)

    @classmethod
    def open(cls, run_dir: Path, ring: KeyRing | None, trusted_key: Path | None = None, *,
             reader: ReaderKey | None = None) -> RecordStore:
        """The store of an existing, verified run directory (see `verified_store`)."""
        return verified_store(run_dir, ring, trusted_key, reader=reader)

    # --- crypto ----------------------------------------------------------------------
    def _aad(self, record_id: str, key_id: str, part: str) -> bytes:
        return _canonical([FORMAT, part, self.run_id, record_id, key_id])

    def _reader_aad(self, record_id: str, role: str, key_id: str) -> bytes:
        return _canonical([FORMAT, "reader", self.run_id, record_id, role, key_id])

    def _need_ring(self) -> KeyRing:
        if self.ring is None:
            raise InputError("a key ring is needed to read or write records (--keyring or $MMEVAL_KEYRING, "
                             "or a reader role's --reader-key to read)")
        return self.ring

    def _seal(self, record_id: str, value: Any) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        ring = self._need_ring()
        key_id, master = ring.active_master()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce, wrap_nonce = secrets.token_bytes(12), secrets.token_bytes(12)
        plaintext = json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        body = {
            "format": FORMAT,
            "id": record_id,
            "key_id": key_id,
            "wrap_nonce": _b64(wrap_nonce),
            "wrapped_key": _b64(AESGCM(master).encrypt(wrap_nonce, data_key, self._aad(record_id, key_id, "key"))),
            "nonce": _b64(nonce),
            "ciphertext": _b64(AESGCM(data_key).encrypt(nonce, plaintext, self._aad(record_id, key_id, "data"))),
        }
        readers = []
        for reader in sorted(ring.readers(), key=lambda r: r.role):
            wrap = wrap_for(reader, data_key, self._reader_aad(record_id, reader.role, reader.key_id))
            readers.append({"role": reader.role, "key_id": reader.key_id, **{k: _b64(v) for k, v in wrap.items()}})
        if readers:
            body["readers"] = readers
        return _canonical(body)

    def _header(self, path: Path, record_id: str | None) -> dict[str, Any]:
        """Parse a record file; checks shape, canonical bytes and that its name matches its id."""
        label = record_id if record_id is not None else path.name
        try:
            raw = path.read_bytes()
            body = json.loads(raw)
            ok = isinstance(body, dict) and _canonical(body) == raw and body.get("format") == FORMAT
            ok = ok and isinstance(body.get("id"), str) and isinstance(body.get("key_id"), str)
            readers = body.get("readers", []) if isinstance(body, dict) else None
            ok = ok and isinstance(readers, list) and all(isinstance(r, dict) for r in readers)
        except FileNotFoundError:
            raise InputError(f"store {self.root} has no record {label!r}") from None
        except (OSError, ValueError):
            ok = False
        if not ok:
            raise IntegrityError(f"store {self.root}: record {label!r} is damaged or tampered ({path.name})")
        if record_file_name(body["id"]) != path.name or (record_id is not None and body["id"] != record_id):
            raise IntegrityError(f"store {self.root}: record {label!r} was swapped or renamed ({path.name})")
        return body

    def _open(self, body: dict[str, Any]) -> Any:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        record_id, key_id = body["id"], body["key_id"]
        try:
            data_key = self._data_key(body) if self.reader is not None else self._master_data_key(body)
            plaintext = AESGCM(data_key).decrypt(
                _unb64(body.get("nonce")), _unb64(body.get("ciphertext")), self._aad(record_id, key_id, "data")
            )
            return json.loads(plaintext.decode("utf-8"))
        except (InvalidTag, ValueError, binascii.Error):
            raise IntegrityError(
                f"store {self.root}: record {record_id!r} failed authentication (wrong key, tampered or swapped)"
            ) from None

    def _master_data_key(self, body: dict[str, Any]) -> bytes:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        record_id, key_id = body["id"], body["key_id"]
        ring = self._need_ring()
        if key_id not in ring.master_ids():
            raise IntegrityError(
                f"store {self.root}: record {record_id!r} needs master key {key_id!r}, "
                f"which key ring {ring.path} does not hold (wrong ring, removed key, or tampered)"
            )
        return AESGCM(ring.master(key_id)).decrypt(
            _unb64(body.get("wrap_nonce")), _unb64(body.get("wrapped_key")), self._aad(record_id, key_id, "key")
        )

    def _data_key(self, body: dict[str, Any]) -> bytes:
        """The data key from the wrap for this store's reader key (its role's, by key id)."""
        assert self.reader is not None
        record_id = body["id"]
        wraps = [r for r in body.get("readers", []) if r.get("key_id") == self.reader.key_id]
        if len(wraps) != 1:
            raise IntegrityError(
                f"store {self.root}: record {record_id!r} is not sealed for reader key {self.reader.key_id} "
                f"({self.reader.path}): the role was removed and the store re-wrapped, or it was never a reader of this run"
            )
        wrap = wraps[0]
        return self.reader.unwrap(
            _unb64(wrap.get("epk")), _unb64(wrap.get("nonce")), _unb64(wrap.get("wrapped_key")),
            self._reader_aad(record_id, str(wrap.get("role")), self.reader.key_id),
        )

    # --- API -------------------------------------------------------------------------
    def put(self, record_id: str, value: Any) -> None:
        if not isinstance(record_id, str) or not record_id:
            raise InputError("record id must be a non-empty string")
        write_atomic(self.root / record_file_name(record_id), self._seal(record_id, value), mode=0o600)

    def get(self, record_id: str) -> Any:
        return self._open(self._header(self.root / record_file_name(record_id), record_id))

    def ids(self) -> list[str]:
        """Record ids (checked against their file names; contents are not decrypted)."""
        return sorted(self._header(p, None)["id"] for p in self._files())

    def key_ids(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self._files():
            key_id = self._header(p, None)["key_id"]
            counts[key_id] = counts.get(key_id, 0) + 1
        return counts

    def verify(self) -> int:
        """Open every record; returns how many. Raises IntegrityError at the first bad one."""
        files = self._files()
        for p in files:
            self._open(self._header(p, None))
        return len(files)

    def rewrap(self, ring: KeyRing | None = None) -> int:
        """Re-seal every record under the ring's active master key (after `keys rotate`).

        Every record is opened first; if any fails nothing is rewritten. Each record then
        gets a fresh data key and nonces and replaces its file atomically, in memory only.
        """
        if ring is not None:
            self.ring = ring
        values = [(body["id"], self._open(body)) for body in (self._header(p, None) for p in self._files())]
        for record_id, value in values:
            self.put(record_id, value)
        return len(values)

    def _files(self) -> list[Path]:
        return sorted(self.root.glob("*" + SUFFIX))

"""The key ring: master keys for the encrypted store, one signing key, one watermark secret,
and the public keys of reader roles (kind `reader`: a role name and an X25519 public key,
never private material; see readers.py).

One JSON file, written atomically with mode 0600 (the temporary file is created 0600 by
`tempfile.mkstemp`, so no reader ever sees a world-readable copy). A ring that is group-
or world-readable is refused. Keys never live in a repository (see .gitignore).

    ring = KeyRing.init(Path("keyring.json"))
    key_id, key = ring.active_master()

Path: `--keyring`, else `$MMEVAL_KEYRING`, else `$MMEVAL_HOME/keyring.json`
(`~/.config/mmeval/keyring.json`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, SpecError
from ..home import mmeval_home, require_private
from ..fsutil import write_atomic
from ..runinfo import utc_now
from .readers import ROLE, Reader, check_role, reader_key_id

ENV = "MMEVAL_KEYRING"
FORMAT = "mmeval-keyring/1"
KINDS = ("master", "signing", "watermark", "reader")
SINGLE_ACTIVE = ("master", "signing", "watermark")  # readers: any number, all in use


def default_path() -> Path:
    return mmeval_home() / "keyring.json"


def resolve_path(explicit: str | Path | None = None) -> Path:
    """`--keyring`, else $MMEVAL_KEYRING, else the per-user default."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return default_path()


def configured_path(explicit: str | Path | None = None) -> Path | None:
    """The ring a run should encrypt with: only when named by `--keyring` or $MMEVAL_KEYRING."""
    if explicit or os.environ.get(ENV):
        return resolve_path(explicit)
    return None


@dataclass
class _Key:
    id: str
    kind: str
    material: bytes
    created: str
    active: bool = False
    role: str | None = None  # readers only

    def to_json(self) -> dict[str, Any]:
        body = {
            "id": self.id,
            "kind": self.kind,
            "created": self.created,
            "active": self.active,
            "material": base64.b64encode(self.material).decode(),
        }
        if self.role is not None:
            body["role"] = self.role
        return body


def _valid_reader(key: _Key) -> bool:
    return isinstance(key.role, str) and bool(ROLE.fullmatch(key.role)) and len(key.material) == 32


def _new_id(kind: str) -> str:
    return f"{kind[0]}-{secrets.token_hex(6)}"


class KeyRing:
    def __init__(self, path: Path, keys: list[_Key]):
        self.path = path
        self._keys = keys

    # --- lifecycle -------------------------------------------------------------------
    @classmethod
    def init(cls, path: Path) -> KeyRing:
        """Create a new ring at `path`; refuses to overwrite an existing one."""
        path = Path(path)
        if path.exists():
            raise SpecError(f"key ring {path} already exists; use 'mmeval keys rotate' to add a master key")
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        now = utc_now()
        signing = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        keys = [
            _Key(_new_id("master"), "master", secrets.token_bytes(32), now, active=True),
            _Key(_new_id("signing"), "signing", signing, now, active=True),
            _Key(_new_id("watermark"), "watermark", secrets.token_bytes(32), now, active=True),
        ]
        ring = cls(path, keys)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        ring.save()
        return ring

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        path = Path(path)
        try:
            require_private(path, "key ring", IntegrityError)
        except FileNotFoundError:
            raise SpecError(f"key ring {path} not found; create it with: mmeval keys init --keyring {path}") from None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SpecError(f"key ring {path} is unreadable: {type(exc).__name__}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("keys"), list):
            raise SpecError(f"key ring {path}: not a {FORMAT} file")
        keys = []
        for i, entry in enumerate(data["keys"]):
            try:
                key = _Key(
                    str(entry["id"]), str(entry["kind"]), base64.b64decode(entry["material"], validate=True),
                    str(entry.get("created", "")), bool(entry.get("active", False)),
                    entry.get("role") if entry.get("kind") == "reader" else None,
                )
            except (KeyError, TypeError, ValueError):
                raise SpecError(f"key ring {path}: keys[{i}] is malformed (needs id, kind, material)") from None
            if key.kind not in KINDS:
                raise SpecError(f"key ring {path}: keys[{i}].kind {key.kind!r} is not one of {', '.join(KINDS)}")
            if key.kind == "reader" and not _valid_reader(key):
                raise SpecError(f"key ring {path}: keys[{i}] is not a reader (needs a role and a 32-byte X25519 public key)")
            keys.append(key)
        ring = cls(path, keys)
        for kind in SINGLE_ACTIVE:
            if sum(1 for k in keys if k.kind == kind and k.active) != 1:
                raise SpecError(f"key ring {path}: needs exactly one active {kind} key")
        return ring

    def save(self) -> None:
        body = {"format": FORMAT, "keys": [k.to_json() for k in self._keys]}
        write_atomic(self.path, (json.dumps(body, indent=2) + "\n").encode(), mode=0o600)

    # --- access ----------------------------------------------------------------------
    def active_master(self) -> tuple[str, bytes]:
        return self.secret("master")

    def master(self, key_id: str) -> bytes:
        for k in self._keys:
            if k.kind == "master" and k.id == key_id:
                return k.material
        raise IntegrityError(f"key ring {self.path} has no master key {key_id!r} (removed or wrong ring)")

    def master_ids(self) -> list[str]:
        return [k.id for k in self._keys if k.kind == "master"]

    def secret(self, kind: str) -> tuple[str, bytes]:
        """The active key of `kind` as (key id, raw bytes)."""
        for k in self._keys:
            if k.kind == kind and k.active:
                return k.id, k.material
        raise SpecError(f"key ring {self.path} has no active {kind} key")

    def signing_key(self) -> Any:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.secret("signing")[1])

    def public_keys(self) -> dict[str, str]:
        """Signing key id -> raw public key, hex. Safe to share."""
        from cryptography.hazmat.primitives import serialization

        key_id, _ = self.secret("signing")
        raw = self.signing_key().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {key_id: raw.hex()}

    def readers(self) -> list[Reader]:
        """The reader roles every new or re-wrapped record is sealed for."""
        return [Reader(str(k.role), k.material) for k in self._keys if k.kind == "reader"]

    def describe(self) -> list[dict[str, Any]]:
        """Ids, kinds, dates, which is active and reader roles, never key material."""
        return [{"id": k.id, "kind": k.kind, "created": k.created, "active": k.active, **({"role": k.role} if k.role else {})}
                for k in self._keys]

    # --- changes ---------------------------------------------------------------------
    def rotate(self) -> str:
        """Add a fresh master key and make it active; old ones stay for reading until removed."""
        for k in self._keys:
            if k.kind == "master":
                k.active = False
        key = _Key(_new_id("master"), "master", secrets.token_bytes(32), utc_now(), active=True)
        self._keys.append(key)
        self.save()
        return key.id

    def require_new_reader(self, role: str) -> None:
        """SpecError unless `role` is a valid name the ring does not list yet."""
        check_role(role)
        if any(r.role == role for r in self.readers()):
            raise SpecError(f"key ring {self.path} already has reader role {role!r}; "
                            f"run 'mmeval keys reader-remove {role}' first")

    def add_reader(self, role: str, public_raw: bytes) -> str:
        """List a reader role's public key; one key per role (remove it to replace it)."""
        self.require_new_reader(role)
        key = _Key(reader_key_id(public_raw), "reader", public_raw, utc_now(), active=True, role=role)
        self._keys.append(key)
        self.save()
        return key.id

    def remove_reader(self, role: str) -> str:
        """Drop a reader role; records keep its wraps until the store is re-wrapped."""
        found = [k for k in self._keys if k.kind == "reader" and k.role == role]
        if not found:
            raise SpecError(f"key ring {self.path} has no reader role {role!r}")
        self._keys = [k for k in self._keys if k not in found]
        self.save()
        return found[0].id

    def remove_master(self, key_id: str) -> None:
        """Drop an inactive master key (after every store was re-wrapped)."""
        self.master(key_id)
        if self.active_master()[0] == key_id:
            raise SpecError(f"master key {key_id!r} is active; rotate first")
        self._keys = [k for k in self._keys if not (k.kind == "master" and k.id == key_id)]
        self.save()

"""Reader roles: `read-raw` held as a key, not granted by a CLI check.

A reader role is an X25519 key pair. The key ring holds only its public key (kind
`reader`); the private key lives in a file of the role's holders (0600, PEM PKCS#8).
Every record's data key is wrapped for each reader the ring lists when the record is
sealed:

    shared   = X25519(ephemeral private, reader public)
    kek      = HKDF-SHA256(shared, info = INFO || ephemeral public || reader public)
    wrapped  = AES-256-GCM(kek, nonce, data key, aad = [format, "reader", run id, record id, role, key id])

so only a holder of that role's private key can open the record, whatever code runs, and
a wrap moved to another record, run or role fails authentication. A key id is derived
from the public key (`r-` + 24 hex of its sha256), so a private key finds its own wraps.
Revocation: remove the role from the ring and re-wrap the store (`keys rotate --store`);
re-wrapped records get fresh data keys, wrapped only for the roles still listed.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, SpecError
from ..home import require_private

INFO = b"mmeval-store/1 reader data-key wrap"
ROLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_role(role: str) -> str:
    if not isinstance(role, str) or not ROLE.fullmatch(role):
        raise SpecError(f"reader role {role!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return role


def reader_key_id(public_raw: bytes) -> str:
    return "r-" + hashlib.sha256(public_raw).hexdigest()[:24]


@dataclass(frozen=True)
class Reader:
    """One reader role as the ring lists it: public key only."""

    role: str
    public_raw: bytes

    @property
    def key_id(self) -> str:
        return reader_key_id(self.public_raw)


def wrap_for(reader: Reader, data_key: bytes, aad: bytes) -> dict[str, bytes]:
    """The data key sealed for `reader`: {"epk", "nonce", "wrapped_key"} (raw bytes)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes_raw()
    kek = _kek(ephemeral.exchange(X25519PublicKey.from_public_bytes(reader.public_raw)), epk, reader.public_raw)
    nonce = secrets.token_bytes(12)
    return {"epk": epk, "nonce": nonce, "wrapped_key": AESGCM(kek).encrypt(nonce, data_key, aad)}


def _kek(shared: bytes, epk: bytes, reader_public: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO + epk + reader_public).derive(shared)


class ReaderKey:
    """A reader role's private key, loaded from its file."""

    def __init__(self, private: Any, path: Path):
        self._private = private
        self.path = path
        self.public_raw = private.public_key().public_bytes_raw()
        self.key_id = reader_key_id(self.public_raw)

    def unwrap(self, epk: bytes, nonce: bytes, wrapped: bytes, aad: bytes) -> bytes:
        """The data key; raises cryptography's InvalidTag (or ValueError) if anything changed."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        kek = _kek(self._private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, self.public_raw)
        return AESGCM(kek).decrypt(nonce, wrapped, aad)


def create_reader_key(path: Path) -> bytes:
    """Write a new X25519 private key to `path` (0600, never over an existing file); return its public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    key = X25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        raise InputError(f"{path} already exists; a reader key is never overwritten (choose another --out)") from None
    except OSError as exc:
        raise InputError(f"cannot create reader key {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return key.public_key().public_bytes_raw()


def load_reader_key(path: Path) -> ReaderKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    path = Path(path)
    try:
        require_private(path, "reader key", InputError)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise InputError(f"reader key {path} not found") from None
    except (ValueError, TypeError):
        raise InputError(f"reader key {path} is not an unencrypted PEM private key") from None
    except OSError as exc:
        raise InputError(f"cannot read reader key {path}: {exc.strerror}") from None
    if not isinstance(key, X25519PrivateKey):
        raise InputError(f"reader key {path} is not an X25519 key (made by: mmeval keys reader-new ROLE --out FILE)")
    return ReaderKey(key, path)

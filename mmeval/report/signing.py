"""Sign a run: a DSSE envelope over an in-toto Statement whose subjects are the run's files.

    attestation.dsse.json = {payloadType, payload: base64(Statement), signatures: [{keyid, sig}]}

The signature is Ed25519 over DSSE's pre-authentication encoding (PAE), so the payload
type is signed too. Every file in the run directory is a subject (report.json, report.md,
report.html, per-sample records, generated artifacts, every file of the encrypted store)
with its sha256; `verify_run` rechecks each one, names what does not match (missing,
changed, or not covered), and then checks the run's sign-off (report/signoff.py): a
sign-off that does not hold fails verification, it is never ignored.

Keys: `$MMEVAL_SIGNING_KEY` (a PEM Ed25519 private key) or a per-user key created 0600
on first use under `$MMEVAL_HOME` (default `~/.config/mmeval`). Keys never live in a repo.
Only signing creates a key; verifying reads one or fails. A key file that other users may
read or change (any group/other permission bit) is refused, as the key ring is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, InputError
from ..home import mmeval_home, require_private
from ..review.ledger import REVIEWS
from ..fsutil import json_bytes, sha256_file, write_atomic

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://mmeval.dev/attestation/run/v1"
ATTESTATION = "attestation.dsse.json"
SIGNOFF = "signoff.dsse.json"  # format and checks: report/signoff.py
# Files added after signing by design (they carry their own signatures).
UNSIGNED = {ATTESTATION, SIGNOFF}
# Files that grow after signing by design: human ratings (review/ledger.py). They are signed
# as a prefix (`annotations.bytes`): readers of the run accept lines appended since, while
# `verify` and sign-off want every line signed (`mmeval review summarize` signs them).
APPENDABLE = {REVIEWS}


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def key_id(public_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def signing_key_path(path: Path | None = None) -> tuple[Path, bool]:
    """Where the signing key is, and whether the user named it (a named key is never created)."""
    explicit = path or (Path(os.environ["MMEVAL_SIGNING_KEY"]) if os.environ.get("MMEVAL_SIGNING_KEY") else None)
    return (explicit, True) if explicit else (mmeval_home() / "signing-key.pem", False)


def load_signing_key(path: Path | None = None) -> Any:
    """The Ed25519 private key to sign with; a per-user key is created on first use."""
    target, explicit = signing_key_path(path)
    if not explicit and not target.exists():
        return _create_signing_key(target)
    return read_signing_key(target)


def _create_signing_key(target: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(target, pem, mode=0o600)
    write_atomic(target.with_suffix(".pub.pem"), public_pem(key.public_key()))
    return key


def read_signing_key(path: Path) -> Any:
    """An existing Ed25519 private key; creates nothing, refuses a file others may open."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        require_private(path, "signing key", InputError)
    except FileNotFoundError:
        raise InputError(f"signing key {path} not found") from None
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise InputError(f"signing key {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"signing key {path} is not an Ed25519 key")
    return key


def public_pem(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_public_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"public key {path} not found") from None
    except ValueError:
        raise InputError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{path} is not an Ed25519 public key")
    return key


def run_files(run_dir: Path) -> list[str]:
    """Every file of a run that the attestation covers, as sorted relative POSIX paths."""
    return sorted(
        p.relative_to(run_dir).as_posix()
        for p in run_dir.rglob("*")
        if p.is_file() and p.relative_to(run_dir).as_posix() not in UNSIGNED
    )


def sign_envelope(payload: bytes, key: Any, payload_type: str = PAYLOAD_TYPE) -> dict[str, Any]:
    signature = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key_id(key.public_key()), "sig": base64.b64encode(signature).decode()}],
    }


def open_envelope(envelope: dict[str, Any], trusted: list[Any], where: str) -> bytes:
    """Return the payload if one signature verifies with a trusted key, else IntegrityError."""
    return open_envelope_by(envelope, trusted, where)[0]


def open_envelope_by(envelope: dict[str, Any], trusted: list[Any], where: str) -> tuple[bytes, str]:
    """(payload, key id of the trusted key whose signature verified), else IntegrityError."""
    from cryptography.exceptions import InvalidSignature

    try:
        payload = base64.b64decode(envelope["payload"], validate=True)
        payload_type = envelope["payloadType"]
        signatures = envelope["signatures"]
    except (KeyError, TypeError, ValueError):
        raise IntegrityError(f"{where}: not a DSSE envelope") from None
    by_id = {key_id(k): k for k in trusted}
    known = [s for s in signatures if isinstance(s, dict) and s.get("keyid") in by_id]
    if not known:
        ids = ", ".join(str(s.get("keyid")) for s in signatures if isinstance(s, dict))
        raise IntegrityError(f"{where}: signed by an untrusted key ({ids or 'none'})")
    for sig in known:
        try:
            by_id[sig["keyid"]].verify(base64.b64decode(sig["sig"]), pae(payload_type, payload))
            return payload, sig["keyid"]
        except (InvalidSignature, ValueError, TypeError):
            continue
    raise IntegrityError(f"{where}: signature does not verify")


def sign_run(run_dir: Path, report: dict[str, Any], key: Any | None = None) -> Path:
    """Write `attestation.dsse.json` covering every file now in `run_dir`."""
    write_atomic(run_dir / ATTESTATION, attestation_bytes(run_dir, report, key))
    return run_dir / ATTESTATION


def attestation_bytes(run_dir: Path, report: dict[str, Any], key: Any | None = None,
                      contents: dict[str, bytes] | None = None) -> bytes:
    """The attestation file's bytes over every file in `run_dir`, with `contents` (name ->
    bytes) standing in for files about to be written: a run rewritten in place can sign
    before it writes (review/fold.py)."""
    key = key or load_signing_key()
    contents = contents or {}
    names = sorted(set(run_files(run_dir)) | set(contents))
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [_subject(run_dir, name, contents.get(name)) for name in names],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "status": report.get("status"),
            "run_id": report.get("run_id"),
            "suite": report.get("suite"),
        },
    }
    payload = json.dumps(statement, sort_keys=True, separators=(",", ":")).encode()
    return json_bytes(sign_envelope(payload, key))


def _subject(run_dir: Path, name: str, data: bytes | None = None) -> dict[str, Any]:
    digest = sha256_file(run_dir / name) if data is None else hashlib.sha256(data).hexdigest()
    subject: dict[str, Any] = {"name": name, "digest": {"sha256": digest}}
    if name in APPENDABLE:
        subject["annotations"] = {"bytes": (run_dir / name).stat().st_size if data is None else len(data)}
    return subject


def trusted_keys(public_key_path: Path | None) -> list[Any]:
    """The keys a run may be signed with: `--key`, else your own signing key (never created here)."""
    if public_key_path is not None:
        return [load_public_key(public_key_path)]
    own, explicit = signing_key_path()
    if not explicit and not own.exists():
        raise InputError(f"no key to verify with: {own} does not exist; pass --key PUBKEY (the signer's public key)")
    return [read_signing_key(own).public_key()]


def verify_run(run_dir: Path, public_key_path: Path | None = None, signoff_keys: Sequence[Path] = ()) -> dict[str, Any]:
    """Check the signature, every covered file and the sign-off; return the statement or
    raise IntegrityError. A sign-off may be signed by a run-trusted key or one of `signoff_keys`."""
    return verify_release(run_dir, public_key_path, signoff_keys)[0]


def verify_release(
    run_dir: Path, public_key_path: Path | None = None, signoff_keys: Sequence[Path] = ()
) -> tuple[dict[str, Any], Any]:
    """`verify_run`, also returning the run's checked `signoff.Approval` (None: not signed off)."""
    from .signoff import check_signoff

    trusted = trusted_keys(public_key_path)
    statement = open_attestation(run_dir, trusted)
    check_files(run_dir, statement)
    approval = check_signoff(run_dir, statement, trusted + [load_public_key(Path(p)) for p in signoff_keys])
    return statement, approval


def verify_attestation(run_dir: Path, public_key_path: Path | None = None) -> dict[str, Any]:
    """The signature and every covered file, not the sign-off: for readers of the run's data
    (the store), whose reads must not hang on whose approval the run carries."""
    statement = open_attestation(run_dir, trusted_keys(public_key_path))
    check_files(run_dir, statement, appended_ok=True)
    return statement


def open_attestation(run_dir: Path, trusted: list[Any]) -> dict[str, Any]:
    """The run's attestation statement, its signature checked (its files not yet)."""
    envelope_path = run_dir / ATTESTATION
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: not a run directory")
    try:
        envelope = json.loads(envelope_path.read_bytes())
    except FileNotFoundError:
        raise IntegrityError(f"{envelope_path}: missing; the run is not signed") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IntegrityError(f"{envelope_path}: not valid JSON") from None
    if not isinstance(envelope, dict):
        raise IntegrityError(f"{envelope_path}: not a DSSE envelope")
    statement = json.loads(open_envelope(envelope, trusted, str(envelope_path)))
    if not isinstance(statement, dict) or not isinstance(statement.get("subject"), list):
        raise IntegrityError(f"{envelope_path}: signed payload is not a run statement")
    return statement


def check_files(run_dir: Path, statement: dict[str, Any], appended_ok: bool = False) -> None:
    """The files under `run_dir` are exactly the statement's subjects, each with its sha256;
    with `appended_ok`, an APPENDABLE file may have grown past its signed prefix (or be new)."""
    covered: set[str] = set()
    missing, changed, appended = [], [], []
    for subject in statement["subject"]:
        try:
            name, digest = subject["name"], subject["digest"]["sha256"]
        except (KeyError, TypeError):
            raise IntegrityError(f"{run_dir / ATTESTATION}: a subject has no name or sha256") from None
        covered.add(name)
        path = run_dir / name
        signed_bytes = (subject.get("annotations") or {}).get("bytes") if name in APPENDABLE else None
        if ".." in Path(name).parts or Path(name).is_absolute() or not path.is_file():
            missing.append(name)
        elif isinstance(signed_bytes, int) and path.stat().st_size > signed_bytes:
            (changed if sha256_file(path, signed_bytes) != digest else appended).append(name)
        elif sha256_file(path) != digest:
            changed.append(name)
    extra = [name for name in run_files(run_dir) if name not in covered]
    grown = appended + [name for name in extra if name in APPENDABLE]
    extra = [name for name in extra if name not in APPENDABLE]
    if grown and not appended_ok and not missing and not changed and not extra:
        raise IntegrityError(f"{run_dir / grown[0]}: holds ratings the attestation does not cover yet; "
                             f"run 'mmeval review summarize {run_dir}' to add them to the signed report")
    for names, what in ((missing, "covered by the attestation but missing"), (changed, "sha256 does not match the attestation"),
                        (extra, "not covered by the attestation")):
        if names:
            more = f" (and {len(names) - 1} more {'file' if len(names) == 2 else 'files'})" if len(names) > 1 else ""
            raise IntegrityError(f"{run_dir / names[0]}: {what}{more}")

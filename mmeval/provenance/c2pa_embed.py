"""Real C2PA manifests embedded in PNG, JPEG and WAV files (c2pa-python), and their X.509 signer.

The sidecar manifests of `manifest.py` are C2PA-like; these are the standard itself, so any
C2PA reader (Adobe's Content Credentials, `c2patool`) sees who made the asset. The manifest
holds two assertions: `c2pa.actions` (created by mmeval, IPTC trainedAlgorithmicMedia) and
`org.mmeval.claim` with the fields of today's claim (suite, model, sha256 of the asset as
generated, and the watermark soft binding: key id, scheme, detection). The watermark stays
in the pixels or samples; the assertion only describes it. The hard binding is C2PA's own
`c2pa.hash.data` over the file outside the manifest, so changing any byte breaks it.

C2PA signs with an X.509 certificate, not the key ring's bare Ed25519 key; `make_signer`
(behind `mmeval keys c2pa-cert`) makes a local CA and a leaf in the C2PA certificate profile.

    data = embed(png_bytes, "image/png", claim, chain_pem, key_pem)
    found = read(data, "image/png", trust_anchors=ca_pem)   # None when there is no manifest
    found["valid"], found["trusted"], found["claim"]
"""

from __future__ import annotations

import datetime
import io
import os
from pathlib import Path
from typing import Any

from ..errors import InputError, IntegrityError, MissingExtra

CLAIM_LABEL = "org.mmeval.claim"
UNTRUSTED = "signingCredential.untrusted"
SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CA_CERT, CA_KEY, SIGNER_CERT, SIGNER_KEY = "ca.pem", "ca.key", "signer.pem", "signer.key"


def mime_of(path: Path) -> str | None:
    from ..media import MEDIA_TYPES

    return MEDIA_TYPES.get(Path(path).suffix.lower())


def require() -> None:
    """MissingExtra (one line: pip install 'mmeval[c2pa]') unless c2pa-python is installed."""
    _c2pa()


def _c2pa() -> Any:
    try:
        import c2pa
    except ImportError:
        raise MissingExtra("c2pa-python", "c2pa") from None
    return c2pa


def _context(trust_anchors: bytes | None) -> Any:
    # No thumbnail: it would put a second, unmarked copy of the image into the file.
    settings: dict[str, Any] = {"version": 1, "builder": {"thumbnail": {"enabled": False}}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors.decode()}
    return _c2pa().Context.from_dict(settings)


def _manifest(claim: dict[str, Any]) -> dict[str, Any]:
    from .. import __version__

    agent = {"name": "mmeval", "version": __version__}
    created = {"action": "c2pa.created", "softwareAgent": agent, "digitalSourceType": SOURCE_TYPE}
    return {
        "claim_generator_info": [agent],
        "title": str(claim.get("name") or "asset"),
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [created]}},
            {"label": CLAIM_LABEL, "data": claim},
        ],
    }


def claim_fields(claim: dict[str, Any], detection: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `org.mmeval.claim` assertion from a `manifest.build_claim` claim (and the mark's detection at embed time)."""
    mark = claim.get("watermark") or None
    generator = claim.get("generator") or {}
    return {
        "name": (claim.get("asset") or {}).get("name"),
        "suite": claim.get("suite"),
        "model": generator.get("model"),
        "generator": generator,
        "run_id": claim.get("run_id"),
        "sha256": (claim.get("asset") or {}).get("sha256"),  # the asset as generated, before the manifest went in
        "created": claim.get("created"),
        "watermark": None if mark is None else {
            "key_id": mark.get("key_id"), "scheme": mark.get("algorithm"), "params": mark.get("params"),
            "detection": detection,
        },
    }


def _signing_alg(key_pem: bytes) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key = serialization.load_pem_private_key(key_pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return "es256"
    raise InputError("C2PA signing key must be P-256 (ES256) or Ed25519")


def embed(asset_bytes: bytes, mime: str, claim: dict[str, Any], cert_chain: bytes, key: bytes) -> bytes:
    """The asset with a signed C2PA manifest embedded. `cert_chain`: leaf first, PEM; `key`: PEM."""
    c2pa = _c2pa()
    info = c2pa.C2paSignerInfo(alg=_signing_alg(key).encode(), sign_cert=cert_chain, private_key=key, ta_url=None)
    out = io.BytesIO()
    try:
        with c2pa.Signer.from_info(info) as signer, c2pa.Builder(_manifest(claim), context=_context(None)) as builder:
            builder.sign(signer, mime, io.BytesIO(asset_bytes), out)
    except c2pa.C2paError as exc:
        raise InputError(f"cannot embed a C2PA manifest ({mime}): {_first_line(exc)}") from None
    return out.getvalue()


def read(asset_bytes: bytes, mime: str, trust_anchors: bytes | None = None) -> dict[str, Any] | None:
    """The active manifest's assertions and validation status; None when the file has none.

    `valid`: the signature and every binding check out; `trusted`: the signer chains to one of
    `trust_anchors` (PEM); `failures`: the C2PA codes that broke validity. A manifest too
    damaged to parse is reported invalid, not None.
    """
    c2pa = _c2pa()
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(asset_bytes), context=_context(trust_anchors))
        if reader is None:
            return None
        with reader:
            state = reader.get_validation_state() or "Invalid"
            results = (reader.get_validation_results() or {}).get("activeManifest") or {}
            active = reader.get_active_manifest() or {}
    except (c2pa.C2paError, KeyError) as exc:  # KeyError: a store whose active manifest is damaged
        return {"valid": False, "trusted": False, "state": "Invalid", "failures": [_first_line(exc)],
                "assertions": {}, "claim": None, "signer": None}
    assertions = {a["label"]: a.get("data") for a in active.get("assertions", [])}
    failures = [f["code"] for f in results.get("failure", [])]
    # With trust anchors set, an unknown signer makes the state Invalid too; keep "the bytes
    # and signature are intact" apart from "we trust who signed".
    broken = [code for code in failures if code != UNTRUSTED]
    return {
        "valid": not broken and (state in ("Valid", "Trusted") or UNTRUSTED in failures),
        "trusted": state == "Trusted",
        "state": state,
        "failures": broken,
        "assertions": assertions,
        "claim": assertions.get(CLAIM_LABEL),
        "signer": active.get("signature_info"),
    }


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


# --- the signing certificate -------------------------------------------------------------


def default_dir() -> Path:
    from ..home import mmeval_home

    return mmeval_home() / "c2pa"


def make_signer(out_dir: Path, ca_cert: Path | None = None, ca_key: Path | None = None) -> list[Path]:
    """Write a C2PA leaf certificate (and, without `ca_cert`, its local root CA) into `out_dir`.

    Files: signer.pem (leaf then CA, the chain C2PA embeds), signer.key (0600), and for a local
    CA ca.pem (the trust anchor to share with verifiers) and ca.key (0600). Never overwrites.
    """
    from cryptography.hazmat.primitives import serialization

    if (ca_cert is None) != (ca_key is None):
        raise InputError("keys c2pa-cert needs both --ca-cert and --ca-key, or neither")
    names = [SIGNER_CERT, SIGNER_KEY] + ([CA_CERT, CA_KEY] if ca_cert is None else [])
    taken = [n for n in names if (out_dir / n).exists()]
    if taken:
        raise InputError(f"{out_dir / taken[0]} already exists; C2PA keys are never overwritten (choose another --out)")
    if ca_cert is None:
        issuer_key = _new_key()
        issuer = _root_cert(issuer_key)
    else:
        issuer, issuer_key = _load_ca(ca_cert, ca_key)  # type: ignore[arg-type]
    leaf_key = _new_key()
    leaf = _leaf_cert(leaf_key, issuer, issuer_key)
    pem = serialization.Encoding.PEM
    files = {SIGNER_CERT: leaf.public_bytes(pem) + issuer.public_bytes(pem), SIGNER_KEY: _key_pem(leaf_key)}
    if ca_cert is None:
        files |= {CA_CERT: issuer.public_bytes(pem), CA_KEY: _key_pem(issuer_key)}
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written: list[Path] = []
    try:
        for name, data in files.items():
            written.append(_write_new(out_dir / name, data, 0o600 if name.endswith(".key") else 0o644))
    except BaseException:
        for path in written:  # leave no half-made signer behind
            path.unlink(missing_ok=True)
        raise
    return written


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())  # ES256: what every C2PA validator accepts


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mmeval"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, sign: bool, ca: bool) -> Any:
    from cryptography import x509

    return x509.KeyUsage(digital_signature=sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _builder(subject: Any, issuer: Any, public_key: Any, days: int) -> Any:
    from cryptography import x509

    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate a little clock skew
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _root_cert(key: Any) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    name = _name("mmeval local C2PA CA")
    return (_builder(name, name, key.public_key(), days=3650)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(sign=False, ca=True), critical=True)
            .sign(key, hashes.SHA256()))


def _leaf_cert(key: Any, issuer: Any, issuer_key: Any) -> Any:
    """The C2PA signer profile: not a CA, digitalSignature only, emailProtection EKU."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    return (_builder(_name("mmeval C2PA signer"), issuer.subject, key.public_key(), days=365)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(sign=True, ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
            .sign(issuer_key, None if _is_ed25519(issuer_key) else hashes.SHA256()))


def _is_ed25519(key: Any) -> bool:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return isinstance(key, ed25519.Ed25519PrivateKey)


def _load_ca(cert_path: Path, key_path: Path) -> tuple[Any, Any]:
    """The user's CA, checked to be one and to match its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename} not found") from None
    except (ValueError, TypeError):
        raise InputError(f"{cert_path} / {key_path}: not a PEM certificate and an unencrypted PEM private key") from None
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise InputError(f"{cert_path}: not a CA certificate (basicConstraints CA:TRUE missing)")
    pub = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*pub) != key.public_key().public_bytes(*pub):
        raise InputError(f"{key_path} is not the key of {cert_path}")
    return cert, key


def _write_new(path: Path, data: bytes, mode: int) -> Path:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    except FileExistsError:
        raise InputError(f"{path} already exists; C2PA keys are never overwritten (choose another --out)") from None
    except OSError as exc:
        raise InputError(f"cannot create {path}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return path


def trust_anchors(given: Path | None) -> bytes | None:
    """The CA certificates embedded manifests must chain to: `given` (`--c2pa-trust`, which
    must exist), else the local CA of `keys c2pa-cert` if there is one, else None (then no
    embedded manifest is trusted)."""
    path = given or default_dir() / CA_CERT
    try:
        return path.read_bytes()
    except FileNotFoundError:
        if given is not None:
            raise InputError(f"{path} not found") from None
        return None


def embedded_state(path: Path, anchors: bytes | None) -> dict[str, Any] | None:
    """An asset's embedded manifest as an audit sees it: `{"state": "valid"|"invalid", ...}`,
    or None when the file has none (or is no PNG/JPEG/WAV, or c2pa-python is missing)."""
    mime = mime_of(path)
    if mime is None:
        return None
    try:
        _c2pa()
    except MissingExtra:  # without the extra an embedded manifest is not seen: the audit says "missing"
        return None
    found = read(path.read_bytes(), mime, anchors)
    if found is None:
        return None
    try:
        claim = require_valid(found, str(path))
    except IntegrityError as exc:
        return {"state": "invalid", "format": "c2pa", "reason": str(exc)}
    return {"state": "valid", "format": "c2pa", "generator": claim.get("generator"), "run_id": claim.get("run_id"),
            "created": claim.get("created")}


def load_signer(directory: Path) -> tuple[bytes, bytes]:
    """(certificate chain PEM, private key PEM) from a `keys c2pa-cert` directory."""
    try:
        return (directory / SIGNER_CERT).read_bytes(), (directory / SIGNER_KEY).read_bytes()
    except FileNotFoundError:
        raise InputError(f"no C2PA signer in {directory}; run: mmeval keys c2pa-cert") from None


def require_valid(found: dict[str, Any], where: str) -> dict[str, Any]:
    """The claim of a valid, trusted embedded manifest, else IntegrityError naming why."""
    if not found["valid"]:
        raise IntegrityError(f"{where}: embedded C2PA manifest is invalid ({', '.join(found['failures']) or found['state']})")
    if not found["trusted"]:
        raise IntegrityError(f"{where}: embedded C2PA manifest is signed by an untrusted certificate "
                             f"(pass --c2pa-trust CA.pem)")
    if not isinstance(found["claim"], dict):
        raise IntegrityError(f"{where}: embedded C2PA manifest has no {CLAIM_LABEL} assertion")
    return found["claim"]


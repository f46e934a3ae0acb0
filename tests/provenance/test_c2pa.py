"""Embedded C2PA manifests: the signer certificate, embed/read round trips checked by c2pa's own
Reader, tampering, and `mmeval provenance verify` on real suite files."""

from __future__ import annotations

import io
import json
import stat
import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

c2pa = pytest.importorskip("c2pa")

from mmeval.provenance import c2pa_embed  # noqa: E402
from tests.cli.test_cli import assert_one_line_error, mmeval  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PNG = ROOT / "suites/data/ecommerce/images/p0000.png"
WAV = ROOT / "suites/data/media-smoke/audio/degraded/p0000.wav"
CLAIM = {"suite": "ecommerce", "model": "studio-gen", "sha256": "0" * 64,
         "watermark": {"key_id": "wm-test", "scheme": "mmeval-image-tile/1", "detection": {"p_value": 1e-9}}}


@pytest.fixture
def signer(ring, tmp_path):
    """A local CA and leaf made by the CLI, as a user makes them."""
    proc = mmeval("keys", "c2pa-cert")
    assert proc.returncode == 0, proc.stderr
    directory = c2pa_embed.default_dir()
    chain, key = c2pa_embed.load_signer(directory)
    return {"dir": directory, "chain": chain, "key": key, "ca": (directory / "ca.pem").read_bytes()}


@pytest.fixture
def other_ca(tmp_path):
    c2pa_embed.make_signer(tmp_path / "other")
    return tmp_path / "other" / "ca.pem"


def _certs(pem: bytes):
    from cryptography import x509

    return x509.load_pem_x509_certificates(pem)


def test_c2pa_cert_writes_a_c2pa_profile_leaf_under_a_local_ca(signer):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    d = signer["dir"]
    assert sorted(p.name for p in d.iterdir()) == ["ca.key", "ca.pem", "signer.key", "signer.pem"]
    assert stat.S_IMODE((d / "signer.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "ca.key").stat().st_mode) == 0o600
    leaf, ca = _certs(signer["chain"])
    assert ca == _certs(signer["ca"])[0]
    leaf.verify_directly_issued_by(ca)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # Never over existing keys.
    assert_one_line_error(mmeval("keys", "c2pa-cert"), 2, "already exists")


def test_c2pa_cert_signs_the_leaf_with_the_users_ca_and_refuses_a_non_ca(signer, tmp_path):
    d, out = signer["dir"], tmp_path / "team"
    proc = mmeval("keys", "c2pa-cert", "--out", str(out), "--ca-cert", str(d / "ca.pem"), "--ca-key", str(d / "ca.key"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["signer.key", "signer.pem"]
    leaf, ca = _certs((out / "signer.pem").read_bytes())
    leaf.verify_directly_issued_by(_certs(signer["ca"])[0])
    assert_one_line_error(mmeval("keys", "c2pa-cert", "--out", str(tmp_path / "x"), "--ca-cert", str(d / "signer.pem"),
                                 "--ca-key", str(d / "signer.key")), 2, "not a CA certificate")
    assert_one_line_error(mmeval("keys", "c2pa-cert", "--out", str(tmp_path / "y"), "--ca-cert", str(d / "ca.pem"),
                                 "--ca-key", str(d / "signer.key")), 2, "is not the key of")


def _independent_reader(data: bytes, mime: str, anchors: bytes) -> c2pa.Reader:
    context = c2pa.Context.from_dict({"version": 1, "trust": {"trust_anchors": anchors.decode()}})
    return c2pa.Reader(mime, io.BytesIO(data), context=context)


def _pixels(data: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def _samples(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data)) as w:
        return w.readframes(w.getnframes())


@pytest.mark.parametrize("path, mime, content", [(PNG, "image/png", _pixels), (WAV, "audio/wav", _samples)])
def test_embed_then_read_back_with_ours_and_with_c2pas_reader(signer, other_ca, path, mime, content):
    original = path.read_bytes()
    assert c2pa_embed.read(original, mime, signer["ca"]) is None
    data = c2pa_embed.embed(original, mime, CLAIM, signer["chain"], signer["key"])
    assert content(data) == content(original)  # the manifest rides beside the pixels / samples

    found = c2pa_embed.read(data, mime, signer["ca"])
    assert found["valid"] and found["trusted"] and found["state"] == "Trusted" and found["failures"] == []
    assert found["claim"] == CLAIM
    assert found["signer"]["common_name"] == "mmeval C2PA signer"
    # c2pa writes claim v2, so the actions assertion is labelled c2pa.actions.v2
    [actions] = [data for label, data in found["assertions"].items() if label.startswith("c2pa.actions")]
    created = actions["actions"][0]
    assert created["action"] == "c2pa.created" and created["softwareAgent"]["name"] == "mmeval"

    with _independent_reader(data, mime, signer["ca"]) as reader:
        assert reader.get_validation_state() == "Trusted"
        labels = {a["label"]: a["data"] for a in reader.get_active_manifest()["assertions"]}
        assert labels[c2pa_embed.CLAIM_LABEL] == CLAIM

    # Signed by someone the verifier does not trust: intact, but not trusted.
    stranger = c2pa_embed.read(data, mime, other_ca.read_bytes())
    assert stranger["valid"] and not stranger["trusted"]


@pytest.mark.parametrize("path, mime", [(PNG, "image/png"), (WAV, "audio/wav")])
def test_a_flipped_byte_in_the_media_makes_the_manifest_invalid(signer, path, mime):
    original = path.read_bytes()
    data = bytearray(c2pa_embed.embed(original, mime, CLAIM, signer["chain"], signer["key"]))
    data[_media_offset(bytes(data), original)] ^= 0x01
    found = c2pa_embed.read(bytes(data), mime, signer["ca"])
    assert found is not None and not found["valid"]
    with _independent_reader(bytes(data), mime, signer["ca"]) as reader:
        assert reader.get_validation_state() == "Invalid"


def _media_offset(signed: bytes, original: bytes) -> int:
    """Where the original's middle bytes (image data, samples) lie in the signed file."""
    middle = len(original) // 2
    return signed.index(original[middle:middle + 64]) + 10


def _manifest_span(signed: bytes) -> range:
    """The bytes of the C2PA manifest store and the chunk around it (PNG caBX, WAV C2PA)."""
    jumb = signed.index(b"jumb")  # the JUMBF superbox type; its 4-byte size is just before
    size = int.from_bytes(signed[jumb - 4:jumb], "big")
    return range(jumb - 12, jumb - 4 + size + 4)  # chunk length + type, the box, PNG's CRC / WAV's pad


@pytest.fixture(scope="module")
def signed_media(tmp_path_factory):
    directory = tmp_path_factory.mktemp("c2pa")
    c2pa_embed.make_signer(directory)
    chain, key = c2pa_embed.load_signer(directory)
    return {mime: c2pa_embed.embed(path.read_bytes(), mime, CLAIM, chain, key)
            for path, mime in [(PNG, "image/png"), (WAV, "audio/wav")]}, (directory / "ca.pem").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mime=st.sampled_from(["image/png", "audio/wav"]), where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_flipped_bit_outside_the_manifest_invalidates_it(signed_media, mime, where, bit):
    # Inside the manifest store C2PA leaves some bytes unsigned (box headers, the signature's
    # zero padding), so the property is for the media and container bytes around it. A flip
    # in the container's chunk header can also hide the manifest (read gives None: "no
    # manifest", which verify and audit never count as valid); either way it is never valid.
    files, anchors = signed_media
    signed = files[mime]
    span = _manifest_span(signed)
    outside = [*range(0, span.start), *range(span.stop, len(signed))]
    data = bytearray(signed)
    data[outside[int(where * len(outside))]] ^= 1 << bit
    found = c2pa_embed.read(bytes(data), mime, anchors)
    assert found is None or not found["valid"]


def _marked_with_embedded_manifest(tmp_path: Path, src: Path, signer) -> tuple[Path, bytes]:
    """`mmeval watermark embed`, then its claim as an embedded C2PA manifest (no sidecar)."""
    staged = tmp_path / "src" / src.name
    staged.parent.mkdir(exist_ok=True)
    staged.write_bytes(src.read_bytes())
    proc = mmeval("watermark", "embed", str(staged), "--out", str(tmp_path / "marked"), "--model", "studio-gen")
    assert proc.returncode == 0, proc.stderr
    marked = tmp_path / "marked" / src.name
    claim = json.loads((tmp_path / "marked" / (src.name + ".manifest.json")).read_text())["claim"]
    fields = c2pa_embed.claim_fields(claim, detection={"detected": True})
    out = tmp_path / "c2pa" / src.name
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(c2pa_embed.embed(marked.read_bytes(), c2pa_embed.mime_of(src), fields, signer["chain"], signer["key"]))
    return out, marked.read_bytes()


@pytest.mark.parametrize("src", [PNG, WAV], ids=["png", "wav"])
def test_provenance_verify_reports_embedded_manifests_and_fails_on_tampering(signer, other_ca, tmp_path, src):
    asset, media = _marked_with_embedded_manifest(tmp_path, src, signer)
    ok = mmeval("provenance", "verify", str(asset))
    assert ok.returncode == 0, ok.stderr
    assert "embedded C2PA manifest valid" in ok.stdout and "watermark detected" in ok.stdout
    row = json.loads(mmeval("provenance", "verify", str(asset), "--json").stdout)
    assert row["valid"] and row["c2pa"]["state"] == "Trusted"
    assert row["c2pa"]["claim"]["model"] == "studio-gen" and row["c2pa"]["claim"]["watermark"]["key_id"]
    assert row["watermark"]["detected"]

    assert_one_line_error(mmeval("provenance", "verify", str(asset), "--c2pa-trust", str(other_ca)), 4, "untrusted")

    raw = bytearray(asset.read_bytes())
    raw[_media_offset(bytes(raw), media)] ^= 0x01
    asset.write_bytes(bytes(raw))
    bad = mmeval("provenance", "verify", str(asset))
    assert_one_line_error(bad, 4, "embedded C2PA manifest is invalid")
    assert "INVALID" in bad.stdout


@pytest.mark.parametrize("src", [PNG, WAV], ids=["png", "wav"])
def test_watermark_embed_c2pa_writes_the_manifest_into_the_file(signer, tmp_path, src):
    """The CLI path: marked files that carry their own C2PA manifest, no sidecar, and verify."""
    proc = mmeval("watermark", "embed", str(src), "--out", str(tmp_path / "marked"), "--model", "studio-gen", "--c2pa")
    assert proc.returncode == 0, proc.stderr
    assert "(C2PA manifest embedded)" in proc.stdout
    assert [p.name for p in (tmp_path / "marked").iterdir() if not p.name.startswith(".")] == [src.name]
    asset = tmp_path / "marked" / src.name
    reader = _independent_reader(asset.read_bytes(), c2pa_embed.mime_of(src), signer["ca"])
    assert "org.mmeval.claim" in reader.json()
    row = json.loads(mmeval("provenance", "verify", str(asset), "--json").stdout)
    assert row["valid"] and row["c2pa"]["claim"]["model"] == "studio-gen" and row["watermark"]["detected"]


def test_audit_accepts_embedded_manifests_and_flags_tampered_ones(signer, tmp_path):
    assert mmeval("watermark", "embed", str(PNG), str(WAV), "--out", str(tmp_path / "marked"), "--c2pa").returncode == 0
    done = mmeval("audit", str(tmp_path / "marked"), "--out", str(tmp_path / "audit"), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert [(f["manifest"]["state"], f["manifest"].get("format")) for f in report["files"]] == [("valid", "c2pa")] * 2
    asset = tmp_path / "marked" / PNG.name
    raw = bytearray(asset.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # inside the image data, which the manifest's hash covers
    asset.write_bytes(bytes(raw))
    done = mmeval("audit", str(tmp_path / "marked"), "--out", str(tmp_path / "audit2"))
    assert done.returncode == 1
    report = json.loads((tmp_path / "audit2" / "audit.json").read_text())
    states = {f["file"]: f["manifest"]["state"] for f in report["files"]}
    assert states == {PNG.name: "invalid", WAV.name: "valid"} and report["summary"]["by_violation"]["invalid-manifest"] == 1


def test_watermark_embed_c2pa_without_a_signer_says_how_to_make_one(ring, tmp_path):
    proc = mmeval("watermark", "embed", str(PNG), "--out", str(tmp_path / "marked"), "--c2pa")
    assert_one_line_error(proc, 2, "run: mmeval keys c2pa-cert")
    assert not (tmp_path / "marked").exists()


def test_provenance_verify_still_checks_sidecars_and_wants_a_manifest(signer, tmp_path):
    src = tmp_path / "plain.png"
    src.write_bytes(PNG.read_bytes())
    assert_one_line_error(mmeval("provenance", "verify", str(src)), 2, "no manifest")
    proc = mmeval("watermark", "embed", str(src), "--out", str(tmp_path / "marked"), "--model", "studio-gen")
    assert proc.returncode == 0, proc.stderr
    ok = mmeval("provenance", "verify", str(tmp_path / "marked" / "plain.png"))
    assert ok.returncode == 0 and "manifest signed, sha256 matches" in ok.stdout and "C2PA" not in ok.stdout


def _mmeval_without_c2pa(*args: str):
    import os
    import subprocess
    import sys

    code = "import sys; sys.modules['c2pa'] = None; from mmeval.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_without_c2pa_python_sidecars_verify_and_embedded_ones_name_the_extra(signer, tmp_path):
    src = tmp_path / "shoe.png"
    src.write_bytes(PNG.read_bytes())
    assert mmeval("watermark", "embed", str(src), "--out", str(tmp_path / "marked"), "--model", "m").returncode == 0
    assert _mmeval_without_c2pa("provenance", "verify", str(tmp_path / "marked" / "shoe.png")).returncode == 0
    embedded = tmp_path / "embedded.png"
    embedded.write_bytes(c2pa_embed.embed(PNG.read_bytes(), "image/png", CLAIM, signer["chain"], signer["key"]))
    assert_one_line_error(_mmeval_without_c2pa("provenance", "verify", str(embedded)), 2, "pip install 'mmeval[c2pa]'")

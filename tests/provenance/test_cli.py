"""`mmeval watermark`, `mmeval provenance verify`, `mmeval audit` end to end, as a user runs them."""

from __future__ import annotations

import json

import pytest

from mmeval.security.policy import os_user
from tests.cli.test_cli import assert_one_line_error, mmeval
from tests.provenance.conftest import product_png, spot_wav


@pytest.fixture
def marked(tmp_path, ring):
    src = tmp_path / "src"
    src.mkdir()
    (src / "shoe.png").write_bytes(product_png(1))
    (src / "jingle.wav").write_bytes(spot_wav(2))
    proc = mmeval("watermark", "embed", str(src / "shoe.png"), str(src / "jingle.wav"), "--out", str(tmp_path / "out"),
                  "--model", "studio-gen")
    assert proc.returncode == 0, proc.stderr
    return src, tmp_path / "out"


def test_embed_writes_marked_copies_with_manifests_and_detect_tells_them_apart(marked):
    src, out = marked
    assert sorted(p.name for p in out.iterdir()) == [
        ".mmeval-output", "jingle.wav", "jingle.wav.manifest.json", "shoe.png", "shoe.png.manifest.json"]
    proc = mmeval("watermark", "detect", *(str(p) for p in [src / "shoe.png", src / "jingle.wav",
                                                            out / "shoe.png", out / "jingle.wav"]), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["detected"] for r in rows] == [False, False, True, True]
    assert all(r["p_value"] < 1e-6 for r in rows[2:]) and all(r["p_value"] > 1e-3 for r in rows[:2])


def test_provenance_verify_passes_then_fails_on_any_change(marked, tmp_path):
    _, out = marked
    ok = mmeval("provenance", "verify", str(out / "shoe.png"), str(out / "jingle.wav.manifest.json"))
    assert ok.returncode == 0, ok.stderr
    assert "watermark detected" in ok.stdout
    # The public key alone is enough to verify (no key ring).
    pem = tmp_path / "signer.pem"
    pem.write_text(mmeval("keys", "public").stdout)
    assert mmeval("provenance", "verify", str(out / "shoe.png"), "--public-key", str(pem)).returncode == 0
    for target in (out / "shoe.png", out / "jingle.wav.manifest.json"):
        raw = bytearray(target.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        target.write_bytes(bytes(raw))
        asset = out / target.name.removesuffix(".manifest.json")
        proc = mmeval("provenance", "verify", str(asset))
        assert proc.returncode == 4, proc.stderr
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_embed_refuses_text_and_missing_files_without_writing(tmp_path, ring):
    (tmp_path / "a.txt").write_text("hello")
    assert_one_line_error(mmeval("watermark", "embed", str(tmp_path / "a.txt"), "--out", str(tmp_path / "o")), 2,
                          "text is marked during generation")
    assert_one_line_error(mmeval("watermark", "embed", str(tmp_path / "nope.png"), "--out", str(tmp_path / "o")), 2,
                          "not found")
    assert not (tmp_path / "o").exists()


def test_without_a_key_ring_the_error_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_KEYRING", str(tmp_path / "no-ring.json"))
    (tmp_path / "a.png").write_bytes(product_png(3))
    assert_one_line_error(mmeval("watermark", "detect", str(tmp_path / "a.png")), 2, "mmeval keys init")


def test_audit_classifies_a_mixed_folder(marked, ring, tmp_path):
    src, out = marked
    folder = tmp_path / "content"
    folder.mkdir()
    for name in ("shoe.png", "shoe.png.manifest.json", "jingle.wav", "jingle.wav.manifest.json"):
        (folder / name).write_bytes((out / name).read_bytes())
    (folder / "plain.png").write_bytes(product_png(4))  # unmarked
    (folder / "forged.png").write_bytes((out / "shoe.png").read_bytes())  # a changed copy under a valid manifest
    (folder / "forged.png.manifest.json").write_bytes((out / "shoe.png.manifest.json").read_bytes())
    raw = bytearray((folder / "forged.png").read_bytes())
    raw[-30] ^= 0x40
    (folder / "forged.png").write_bytes(bytes(raw))
    (folder / "reply.txt").write_text("Thanks! Write to jane.doe@example.com or call +1 415 555 0100.")
    (folder / "notes.md").write_text("not content")
    proc = mmeval("audit", str(folder), "--json", "--out", str(tmp_path / "audit-out"))
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    verdicts = {f["file"]: f["violations"] for f in report["files"]}
    assert verdicts["shoe.png"] == [] and verdicts["jingle.wav"] == []
    # An unmarked image is flagged unless the detector itself (p < 1e-3 under this run's
    # random key) calls it marked: the audit must agree with the detector, not flake with it.
    from mmeval.provenance.files import WatermarkKeys, detect_file

    falsely_marked = any(d.detected for _, d in detect_file(folder / "plain.png", WatermarkKeys.from_ring(ring)))
    assert verdicts["plain.png"] == ([] if falsely_marked else ["unmarked"])
    assert "invalid-manifest" in verdicts["forged.png"]
    assert "pii" in verdicts["reply.txt"] and "unmarked" in verdicts["reply.txt"]
    by_file = {f["file"]: f for f in report["files"]}
    assert by_file["reply.txt"]["pii"] == {"EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}
    assert "jane" not in proc.stdout  # findings carry types and counts, never values
    assert report["skipped"] == ["notes.md"]
    assert mmeval("verify", str(tmp_path / "audit-out")).returncode == 0  # the audit itself is signed
    # Clean content passes.
    for name in ("plain.png", "forged.png", "forged.png.manifest.json", "reply.txt"):
        (folder / name).unlink()
    assert mmeval("audit", str(folder), "--out", str(tmp_path / "audit-out2")).returncode == 0


def test_policy_audit_rules_and_permission(marked, tmp_path):
    _, out = marked
    policy = tmp_path / "policy.yaml"
    policy.write_text("roles:\n  auditor: [audit]\nprincipals:\n  ann: [auditor]\n"
                      "audit:\n  require_manifest: true\n  require_watermark: false\n"
                      f"impersonation:\n  {os_user()}: [ann, bob]\n")  # the principal is the OS user otherwise
    (out / "extra.png").write_bytes(product_png(5))  # unmarked, no manifest
    proc = mmeval("audit", str(out), "--json", "--policy", str(policy), "--principal", "ann", "--out", str(tmp_path / "a"))
    assert proc.returncode == 1
    verdicts = {f["file"]: f["violations"] for f in json.loads(proc.stdout)["files"]}
    assert verdicts["extra.png"] == ["missing-manifest"]
    denied = mmeval("audit", str(out), "--policy", str(policy), "--principal", "bob")
    assert denied.returncode == 3


def test_detect_text_files_and_jsonl_lines(tmp_path, ring):
    """Text marked with the ring's key (sampled with the green bias over the reference
    tokenizer's vocabulary) is detected from the decoded text; plain text is not."""
    import numpy as np

    from mmeval.provenance.files import WatermarkKeys
    from mmeval.provenance.text import DEFAULT_TOKENIZER, GreenList, load_tokenizer

    tokenizer = load_tokenizer(DEFAULT_TOKENIZER)
    vocab = tokenizer.get_vocab_size()
    green = GreenList(WatermarkKeys.from_ring(ring).key("text"), 0.25)
    rng = np.random.default_rng(0)
    tokens = [int(rng.integers(1, vocab))]
    for _ in range(300):
        logits = 4.0 * green.mask(tokens[-1], vocab)
        logits[0] = -np.inf  # no end-of-text token
        p = np.exp(logits - logits.max())
        tokens.append(int(rng.choice(vocab, p=p / p.sum())))
    (tmp_path / "marked.txt").write_text(tokenizer.decode(tokens))
    plain = "Meet our blue cotton vase. Made for fresh or dried flowers. Yours for $29.99."
    (tmp_path / "replies.jsonl").write_text(json.dumps({"id": "r1", "output": plain}) + "\n")
    proc = mmeval("watermark", "detect", str(tmp_path / "marked.txt"), str(tmp_path / "replies.jsonl"), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["item"], r["detected"]) for r in rows] == [("marked.txt", True), ("replies.jsonl#r1", False)]
    assert rows[0]["p_value"] < 1e-6 and rows[0]["score"] > 5

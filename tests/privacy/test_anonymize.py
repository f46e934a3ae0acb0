"""Anonymization: every operator, keyed pseudonyms, no planted value survives."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

import mmeval.privacy
from mmeval.errors import SpecError
from mmeval.privacy.anonymize import Anonymizer, load_pseudonym_key, pseudonym
from mmeval.privacy.evaluate import evaluate

KEY = bytes(range(32))
TEXT = "Mail jane.doe@example.com or call +44 20 7946 0958."


def test_operators(detector):
    spans = detector.analyze(TEXT)
    assert Anonymizer("replace").anonymize(TEXT, spans) == "Mail <EMAIL_ADDRESS> or call <PHONE_NUMBER>."
    assert Anonymizer("redact").anonymize(TEXT, spans) == "Mail  or call ."
    masked = Anonymizer("mask").anonymize(TEXT, spans)
    assert masked == "Mail " + "*" * 20 + " or call " + "*" * 16 + "."
    assert Anonymizer("replace").anonymize("no pii", []) == "no pii"


def test_pseudonym_is_keyed_hmac_and_stable(detector):
    spans = detector.analyze(TEXT)
    out = Anonymizer("pseudonym", key=KEY).anonymize(TEXT, spans)
    expected = hmac.new(KEY, b"EMAIL_ADDRESS\x00jane.doe@example.com", hashlib.sha256).hexdigest()[:12]
    assert f"<EMAIL_ADDRESS_{expected}>" in out
    assert Anonymizer("pseudonym", key=KEY).anonymize(TEXT, spans) == out  # stable per value
    assert Anonymizer("pseudonym", key=bytes(32)).anonymize(TEXT, spans) != out  # depends on the key
    assert pseudonym(KEY, "PERSON", "Ann") != pseudonym(KEY, "PERSON", "Anne")


@pytest.mark.parametrize("operator", ["replace", "mask", "redact", "pseudonym"])
def test_no_planted_value_survives(detector, corpus, operator):
    targeted = ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "PHONE_NUMBER", "LOCATION", "PERSON")
    ev = evaluate(detector, corpus[:400], Anonymizer(operator, key=KEY))
    assert all(ev.survived[e] == 0 for e in targeted), ev.table()


def test_key_loading(tmp_path, monkeypatch):
    monkeypatch.delenv("MMEVAL_PSEUDONYM_KEY", raising=False)
    with pytest.raises(SpecError, match="needs a key"):
        load_pseudonym_key()
    monkeypatch.setenv("MMEVAL_PSEUDONYM_KEY", "zz" * 16)
    with pytest.raises(SpecError, match="not hex") as err:
        load_pseudonym_key()
    assert "zz" not in str(err.value)
    path = tmp_path / "key.hex"
    path.write_text(KEY.hex())
    assert load_pseudonym_key(path) == KEY
    path.write_text("ab" * 4)
    with pytest.raises(SpecError, match="too short"):
        load_pseudonym_key(path)


def test_never_uses_presidio_encrypt():
    source = (Path(mmeval.privacy.__file__).parent / "anonymize.py").read_text()
    assert '"encrypt"' not in source and "'encrypt'" not in source
    with pytest.raises(SpecError):
        Anonymizer("encrypt")

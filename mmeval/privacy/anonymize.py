"""Anonymization on presidio-anonymizer: replace, mask, redact, keyed pseudonyms.

`pseudonym` is HMAC-SHA256 over (entity type, value) with a secret key, so one value gets
one stable token across a run and across runs with the same key, and nobody without the
key can test a guess. Presidio's own `encrypt` operator (AES-CBC without a MAC) is never used.

Example:
    Anonymizer("pseudonym", key=bytes(32)).anonymize("Mail jane@example.com", spans)
    # 'Mail <EMAIL_ADDRESS_4f1c0a9b2e7d>'
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, MissingExtra, SpecError
from .ecommerce import Span

OPERATORS = ("replace", "mask", "redact", "pseudonym")
KEY_ENV = "MMEVAL_PSEUDONYM_KEY"


def pseudonym(key: bytes, entity: str, value: str) -> str:
    """`<ENTITY_xxxxxxxxxxxx>`: the first 48 bits of HMAC-SHA256(key, entity NUL value)."""
    digest = hmac.new(key, f"{entity}\x00{value}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"<{entity}_{digest[:12]}>"


def load_pseudonym_key(key_file: Path | None = None) -> bytes:
    """The pseudonym key from `key_file` (hex) or $MMEVAL_PSEUDONYM_KEY (hex), at least 16 bytes.

    Messages name where the key should be, never the key.
    """
    if key_file is not None:
        try:
            text, where = key_file.read_text("ascii").strip(), f"key file {key_file}"
        except (OSError, UnicodeDecodeError):
            raise InputError(f"cannot read pseudonym key file {key_file}") from None
    else:
        text, where = os.environ.get(KEY_ENV, "").strip(), f"${KEY_ENV}"
        if not text:
            raise SpecError(f"the pseudonym operator needs a key: set ${KEY_ENV} (hex) or pass --key-file")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise SpecError(f"{where} is not hex") from None
    if len(key) < 16:
        raise SpecError(f"{where} is too short: a pseudonym key needs at least 16 bytes (32 hex digits)")
    return key


class Anonymizer:
    """Rewrites the spans a detector found, with one operator for every entity type."""

    def __init__(self, operator: str = "replace", key: bytes | None = None, mask_char: str = "*"):
        if operator not in OPERATORS:
            raise SpecError(f"unknown anonymization operator {operator!r}; choose from {', '.join(OPERATORS)}")
        if operator == "pseudonym" and not key:
            raise SpecError("the pseudonym operator needs a key")
        try:
            from presidio_anonymizer import AnonymizerEngine
        except ImportError:
            raise MissingExtra("presidio-anonymizer", "privacy") from None
        self.operator = operator
        self._key = key
        self._mask_char = mask_char
        self._engine = AnonymizerEngine()

    def _config(self, entity: str) -> Any:
        from presidio_anonymizer.entities import OperatorConfig

        if self.operator == "replace":
            return OperatorConfig("replace", {"new_value": f"<{entity}>"})
        if self.operator == "mask":
            # chars_to_mask larger than any value masks the whole span.
            return OperatorConfig("mask", {"masking_char": self._mask_char, "chars_to_mask": 10**6, "from_end": False})
        if self.operator == "redact":
            return OperatorConfig("redact", {})
        key = self._key
        assert key is not None
        return OperatorConfig("custom", {"lambda": lambda value, _e=entity: pseudonym(key, _e, value)})

    def anonymize(self, text: str, spans: Sequence[Span]) -> str:
        """`text` with every span rewritten; text without spans comes back unchanged."""
        if not spans:
            return text
        from presidio_anonymizer.entities import RecognizerResult

        results = [RecognizerResult(s.entity, s.start, s.end, s.score) for s in spans]
        operators = {entity: self._config(entity) for entity in {s.entity for s in spans}}
        return self._engine.anonymize(text=text, analyzer_results=results, operators=operators).text

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"operator": self.operator, "engine": "presidio-anonymizer"}
        if self.operator == "pseudonym":
            info["pseudonym"] = "HMAC-SHA256(key, entity NUL value), first 48 bits"
        return info

"""E-commerce context rules: product identifiers are not phones, SSNs or card numbers.

A number right after "SKU", "EAN", "order", "model", "part no." and the like identifies a
product or an order, whatever its digits look like; a number next to a unit or currency
is a measurement or a price. Words such as "call", "card" or "SSN" before a number raise
confidence instead. Rules look only at a short window of text around each finding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMERIC_ENTITIES = frozenset({"PHONE_NUMBER", "US_SSN", "CREDIT_CARD", "IP_ADDRESS"})

# A product/order word, optionally followed by "no."/"number"/"id"/"code", right before the number.
_PRODUCT_CUE = re.compile(
    r"(?i:\b(?:sku|ean|ean-13|gtin|upc|isbn|asin|mpn|item|items|art|article|part|parts|p/n|pn|model|models|"
    r"order|orders|invoice|ref|reference|tracking|shipment|parcel|batch|lot|serial|s/n|sn|catalog|catalogue|"
    r"product|barcode|version|firmware|fw|build|release|v|rev|ticket|case|rma|voucher|coupon|promo)"
    r"\.?[\s:#\-]*(?:(?:no|nr|number|id|code)\b\.?[\s:#\-]*)?)$"
)
_HASH_BEFORE = re.compile(r"#\s*$")
_UNIT_AFTER = re.compile(
    # Word units need a word boundary ("m" is not "my"); "in" is left out: "call 555 0100 in the evening".
    r"^\s?(?:(?:mm|cm|m|km|inch|inches|ft|kg|g|lb|lbs|oz|ml|l|w|kw|v|mah|wh|hz|gb|tb|mb|px|dpi|pcs|units|x|kr|zł|zl|"
    r"eur|usd|gbp|chf)\b|[\"×€$£])",
    re.IGNORECASE,
)
_MONEY_BEFORE = re.compile(r"(?:[$€£¥]|\b(?:usd|eur|gbp|chf|sek|nok|dkk|pln)\s?)$", re.IGNORECASE)

_POSITIVE_CUE = {
    "PHONE_NUMBER": re.compile(r"(?i:\b(?:phone|tel|telephone|mobile|cell|call|ring|text|whatsapp|fax|contact|reach)\b)"),
    "US_SSN": re.compile(r"(?i:\b(?:ssn|social security|social sec|ss#|ss no|taxpayer)\b)"),
    "CREDIT_CARD": re.compile(r"(?i:\b(?:card|visa|mastercard|amex|american express|discover|diners|jcb|cc|credit|debit|paid with|pay|charge)\b)"),
    "IP_ADDRESS": re.compile(r"(?i:\b(?:ip|ipv4|ipv6|address|host|server|login|logged|from)\b)"),
}


@dataclass(frozen=True)
class Span:
    """One detected entity: type, character offsets, confidence. Never the text itself."""

    entity: str
    start: int
    end: int
    score: float


def rescore(text: str, span: Span) -> Span | None:
    """Apply the e-commerce rules to one numeric finding; None drops it."""
    if span.entity not in NUMERIC_ENTITIES:
        return span
    before = text[max(0, span.start - 40) : span.start]
    after = text[span.end : span.end + 8]
    if _PRODUCT_CUE.search(before) or _HASH_BEFORE.search(before):
        return None  # the word right before names a product or order identifier
    if span.entity != "IP_ADDRESS" and (_UNIT_AFTER.match(after) or _MONEY_BEFORE.search(before)):
        return None  # a measurement or a price, whatever words come before it
    positive = _POSITIVE_CUE[span.entity].search(text[max(0, span.start - 30) : span.start])
    if span.entity == "IP_ADDRESS" and re.search(r"(?i:\b(?:v|version|firmware|fw|build|release|rev)\.?\s*)$", before):
        return None  # 2.1.0.4 after "firmware" is a version number
    score = min(1.0, max(span.score + 0.35, 0.6)) if positive else span.score
    return Span(span.entity, span.start, span.end, score)


def resolve_overlaps(spans: list[Span]) -> list[Span]:
    """Keep the best of overlapping findings (higher score, then longer), sorted by start."""
    ordered = sorted(spans, key=lambda s: (-s.score, -(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in ordered:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)

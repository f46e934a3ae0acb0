"""Presidio recognizers mmeval adds or adjusts: offline e-mail, brand-checked cards, strict phones.

Presidio's own IBAN, IP, US SSN and URL recognizers are used as they are; these three
replace presidio's versions because the originals either reach the network (the e-mail
recognizer's tldextract fetches the public-suffix list), miss card brands (Mastercard's
2-series) or over-match product numbers (the phone matcher across eight regions).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import phonenumbers
from presidio_analyzer import EntityRecognizer, LocalRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer


@functools.lru_cache(maxsize=1)
def offline_tld_extractor() -> Any:
    """tldextract with the bundled public-suffix snapshot only: never the network."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail pattern, validated against the bundled suffix list (no download)."""

    def validate_result(self, pattern_text: str) -> bool:
        return offline_tld_extractor()(pattern_text).fqdn != ""


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    """The issuer of a card number by its IIN prefix and length, or None."""
    n, p2, p4 = len(digits), int(digits[:2]), int(digits[:4])
    if digits[0] == "4" and n in (16, 19):  # 13-digit Visa is retired; 13 digits here are EANs
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or p2 == 65 or 644 <= int(digits[:3]) <= 649) and 16 <= n <= 19:
        return "discover"
    if (300 <= int(digits[:3]) <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 16:
        return "diners"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    return None


class CardRecognizer(LocalRecognizer):
    """Card numbers: 14-19 digits in any common grouping, Luhn-valid, with a known issuer."""

    PATTERN = re.compile(r"(?<![\w.,-])\d(?:[ -]?\d){13,18}(?![\w]|[.,-]\d)")
    SCORE = 0.9

    def __init__(self) -> None:
        super().__init__(supported_entities=["CREDIT_CARD"], name="CardRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        results = []
        for m in self.PATTERN.finditer(text):
            span = _card_within(m.group())
            if span is not None:
                results.append(RecognizerResult("CREDIT_CARD", m.start() + span[0], m.start() + span[1], self.SCORE))
        return results


def _is_card(raw: str) -> bool:
    digits = re.sub(r"\D", "", raw)
    return 14 <= len(digits) <= 19 and _consistent_groups(raw) and luhn_valid(digits) and card_brand(digits) is not None


def _card_within(raw: str) -> tuple[int, int] | None:
    """Offsets of the card number in `raw`: all of it, or a run of its groups when a number
    written next to it (a status code, an account number) ran into the match."""
    if _is_card(raw):
        return 0, len(raw)
    groups = [m.span() for m in re.finditer(r"\d+", raw)]
    for size in range(len(groups) - 1, 0, -1):
        for i in range(len(groups) - size + 1):
            start, end = groups[i][0], groups[i + size - 1][1]
            joined_by_space = (start == 0 or raw[start - 1] == " ") and (end == len(raw) or raw[end] == " ")
            if joined_by_space and _is_card(raw[start:end]):
                return start, end
    return None


def _consistent_groups(raw: str) -> bool:
    """One separator kind throughout, and groups of 3+ digits (no '1-2-3' sequences)."""
    seps = set(re.findall(r"[ -]", raw))
    return len(seps) <= 1 and all(len(g) >= 3 for g in re.split(r"[ -]", raw))


# Phone candidates: an optional +CC or 00CC, then digit groups joined by space . - / or ( ).
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+#/.,-])(?:\+|00)?\(?\d(?:[\d()\-/ \u00a0]|\.(?=\d)){5,20}\d(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![\w]|[.,-]\d)"
)


class StrictPhoneRecognizer(LocalRecognizer):
    """Phone numbers that `phonenumbers` says are valid, in international or national form.

    International numbers (+CC / 00CC) are parsed as such; national numbers are accepted
    when valid in one of `regions` (the hint list, tried in order). Requiring validity,
    not just a possible length, is what keeps prices, SKUs and dimensions out.
    """

    DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "IN", "ES", "IT", "NL", "AU", "BR", "CA")

    def __init__(self, regions: tuple[str, ...] = DEFAULT_REGIONS) -> None:
        self.regions = tuple(regions)
        super().__init__(supported_entities=["PHONE_NUMBER"], name="StrictPhoneRecognizer")

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        results = []
        for m in _PHONE_CANDIDATE.finditer(text):
            raw = _balance_parens(m.group())
            digits = re.sub(r"\D", "", raw)
            if not 7 <= len(digits) <= 15 or _looks_like_date(raw) or _NOT_PHONE_SHAPE.fullmatch(raw):
                continue
            if len(digits) >= 14 and luhn_valid(digits) and card_brand(digits):
                continue  # a card number, which the card recognizer reports
            score = self._score(raw)
            if score:
                results.append(RecognizerResult("PHONE_NUMBER", m.start(), m.start() + len(raw), score))
        return EntityRecognizer.remove_duplicates(results)

    def _score(self, raw: str) -> float:
        international = raw.startswith(("+", "00"))
        text = "+" + raw[2:] if raw.startswith("00") else raw
        for region in [None] if international else self.regions:
            try:
                number = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number):
                # Grouped like a phone number (separators or +CC): strong; a bare digit run: weaker.
                return 0.85 if international or re.search(r"[ ().\-/]", raw) else 0.5
        return 0.0


# No numbering plan groups digits 3-2-4 (US SSNs do), and dotted quads are IPv4 addresses.
# Year ranges (2021/2022) are not phones either.
_NOT_PHONE_SHAPE = re.compile(r"\d{3}([- .])\d{2}\1\d{4}|\d{1,3}(?:\.\d{1,3}){3}|(?:19|20)\d\d\s?[/-]\s?(?:19|20)\d\d")


def _balance_parens(raw: str) -> str:
    """Drop a ')' closing text before the number, or a '(' opening text after it."""
    if raw.count("(") < raw.count(")"):
        return raw.rstrip(" )")
    if "(" in raw and ")" not in raw and not raw.startswith("("):
        return raw.split(" (")[0].split("(")[0].rstrip()
    return raw


def _looks_like_date(raw: str) -> bool:
    return bool(re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}", raw.strip()))

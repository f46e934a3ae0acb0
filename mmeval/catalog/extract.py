"""A rule-based attribute extractor for product text: category, colour, material, price.

It knows the catalogue's closed vocabulary (`vocab.py`), matches whole words case-
insensitively, and takes the first mention of each attribute; a price is the first
`$12.34`-style amount. Absent attributes are None.
"""

from __future__ import annotations

import re

from .vocab import CATEGORIES, COLOURS, MATERIALS

_PRICE = re.compile(r"\$\s?(\d{1,6}(?:\.\d{1,2})?)")


def _first(text: str, words: list[str]) -> str | None:
    best: tuple[int, str] | None = None
    for word in words:
        match = re.search(rf"(?<![\w-]){re.escape(word)}s?(?![\w-])", text)
        if match and (best is None or match.start() < best[0]):
            best = (match.start(), word)
    return best[1] if best else None


def extract(text: str) -> dict[str, object]:
    """{"category", "colour", "material", "price"}; e.g. "Red wool cap, $19.99" -> all four."""
    lower = text.lower()
    price = _PRICE.search(text)
    return {
        "category": _first(lower, CATEGORIES),
        "colour": _first(lower, list(COLOURS)),
        "material": _first(lower, MATERIALS),
        "price": float(price.group(1)) if price else None,
    }

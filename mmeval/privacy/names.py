"""mmeval's compact PERSON/LOCATION detector: a small gazetteer plus context rules.

Used when no NER model is installed or given. It finds names after cues people write
around names ("Dear X", "Mr. X", "my name is X", sign-offs, "ship to X"), gazetteer given
names followed by a capitalised word, and street addresses; a name it has never seen is
still found when a cue precedes it. Places named as product origin ("made in", "designed
in") are not personal data and are skipped.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

from presidio_analyzer import LocalRecognizer, RecognizerResult

_CAP = r"[A-Z][a-z]+(?:['’-][A-Z]?[a-z]+)?"
_CAPSEQ = rf"{_CAP}(?:[ \t]+(?:(?:van|von|de|del|da|di|le|la|al|bin)[ \t]+)?{_CAP}){{0,2}}"

# Capitalised words that start sentences or name things, never people or places.
_NOT_NAMES = frozenset(
    """The This That These Those Our We Your You I It Its He She They Their His Her Order Orders Customer Customers
    Team Support Service Shop Store Sir Madam Thanks Thank Please Hello Hi Dear All Everyone There Here Regards Best
    Kind Sincerely Cheers Item Items Product Products Delivery Shipping Price Sale New Free Great Good Size Color Colour
    Black White Blue Red Green Grey Gray Silver Gold Pink Brown Beige Navy Monday Tuesday Wednesday Thursday Friday
    Saturday Sunday January February March April May June July August September October November December Street
    Road Avenue Your Yours Warm Many Much Just Also Note Made Designed Model Package Box Set Pack""".split()
)

_PERSON_CUE = re.compile(
    r"(?:\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+(?P<hon>" + _CAPSEQ + r"))"
    r"|(?:\b(?:Dear|Hi|Hello|Hey|Attn:?|Attention:?)[ \t]+(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?[ \t]+)?(?P<greet>" + _CAPSEQ + r"))"
    r"|(?:(?i:\b(?:my name is|name:|customer name:?|customer:?|contact person:?|cardholder:?|card holder:?|"
    r"recipient:?|signed by|ordered by|placed by|account holder:?)\s+)(?P<intro>" + _CAPSEQ + r"))"
    r"|(?:\b(?:Regards|Best regards|Kind regards|Best wishes|Sincerely|Thanks|Thank you|Cheers|Best),?\s*\n?\s*"
    r"(?:--\s*)?(?P<sign>" + _CAPSEQ + r"))"
    # Review attributions, a cue after the name: "Ana Silva left a five-star review".
    r"|(?:\b(?P<review>" + _CAPSEQ + r")(?=[ \t]+(?:left|wrote|posted|gave)[ \t]+(?:us[ \t]+)?an?[ \t]+"
    r"(?:[\w-]+[ \t]+){0,2}(?:review|rating)\b))"
)
_LOCATION_CUE = re.compile(
    r"(?i:\b(?:ship(?:ped|ping)? to|deliver(?:ed|y)? to|send it to|live in|lives in|living in|located in|"
    r"based in|moved to|address:?|city:?|hometown:?|residing in|resident of)\s+)"
    r"(?:\d{1,5}[A-Za-z]?[ \t]+)?(?P<loc>" + _CAPSEQ + r")"
)
_STREET = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?[ \t]+(?:" + _CAP + r"[ \t]+){1,3}"
    r"(?:Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Lane|Ln\.?|Boulevard|Blvd\.?|Drive|Dr\.?|Way|Court|Ct\.?|"
    r"Place|Pl\.?|Square|Terrace|Close|Crescent|Parkway|Highway|Row|Gardens)\b"
    r"|\b" + _CAP + r"(?:straße|strasse|weg|gasse|platz|allee|ring|damm)[ \t]+\d{1,4}[a-z]?\b"
    r"|\b\d{1,4},?[ \t]+(?:rue|avenue|boulevard|place|chemin|via|viale|calle|avenida|plaza|rua)"
    r"[ \t]+(?:(?:de la|de|del|des|du|della|da|do)[ \t]+)?" + _CAP + r"(?:[ \t]+" + _CAP + r")?"
)
_ORIGIN = re.compile(r"(?i:(?:made|designed|manufactured|printed|assembled|crafted|sourced|bottled|shipped from|warehouse)\s+(?:in\s+)?)$")


@functools.lru_cache(maxsize=1)
def gazetteer() -> dict[str, frozenset[str]]:
    raw = json.loads(resources.files("mmeval.privacy").joinpath("data/gazetteer.json").read_text("utf-8"))
    return {key: frozenset(raw[key]) for key in ("first_names", "last_names", "places")}


def _trim(span: str) -> str:
    """Drop trailing words that are clearly not part of a name (e.g. 'Anna Thanks')."""
    words = span.split()
    while words and words[-1] in _NOT_NAMES:
        words.pop()
    return " ".join(words)


class GazetteerNameRecognizer(LocalRecognizer):
    """PERSON and LOCATION from context cues and a gazetteer (see module docstring)."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["PERSON", "LOCATION"], name="GazetteerNameRecognizer")

    def load(self) -> None:
        gaz = gazetteer()
        first = "|".join(sorted(gaz["first_names"], key=len, reverse=True))
        places = "|".join(re.escape(p) for p in sorted(gaz["places"], key=len, reverse=True))
        self._first_name = re.compile(rf"\b(?:{first})[ \t]+{_CAP}\b")
        self._place = re.compile(rf"\b(?:in|to|near|from|at)[ \t]+(?P<place>{places})\b")
        self._last_names = gaz["last_names"]

    def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[RecognizerResult]:
        found: list[RecognizerResult] = []
        if "PERSON" in entities:
            found += self._persons(text)
        if "LOCATION" in entities:
            found += self._locations(text)
        return found

    def _persons(self, text: str) -> list[RecognizerResult]:
        out = []
        for m in _PERSON_CUE.finditer(text):
            group = next(g for g in ("hon", "greet", "intro", "sign", "review") if m.group(g))
            name = _trim(m.group(group))
            if group == "review":  # the match may begin at a sentence word: "Great Ana Silva left a review"
                words = name.split()
                while words and words[0] in _NOT_NAMES:
                    words.pop(0)
                name = " ".join(words)
            start = m.start(group) + (m.group(group).find(name) if name else 0)
            if name and name.split()[0] not in _NOT_NAMES:
                score = 0.85 if group in ("hon", "intro") else 0.7
                out.append(RecognizerResult("PERSON", start, start + len(name), score))
        for m in self._first_name.finditer(text):
            last = m.group().split()[-1]
            if last not in _NOT_NAMES:
                out.append(RecognizerResult("PERSON", m.start(), m.end(), 0.8 if last in self._last_names else 0.65))
        return out

    def _locations(self, text: str) -> list[RecognizerResult]:
        out = [RecognizerResult("LOCATION", m.start(), m.end(), 0.85) for m in _STREET.finditer(text)]
        for m in _LOCATION_CUE.finditer(text):
            place = _trim(m.group("loc"))
            if place and place.split()[0] not in _NOT_NAMES:
                out.append(RecognizerResult("LOCATION", m.start("loc"), m.start("loc") + len(place), 0.7))
        for m in self._place.finditer(text):
            if not _ORIGIN.search(text[max(0, m.start() - 30) : m.start() + 3]):
                out.append(RecognizerResult("LOCATION", m.start("place"), m.end("place"), 0.6))
        return out

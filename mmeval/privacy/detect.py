"""PII detection on presidio-analyzer, fully offline.

An `AnalyzerEngine` runs over a custom NLP engine built on `spacy.blank("en")` (no model
download), with presidio's IBAN, IP, US SSN and URL recognizers and mmeval's offline
e-mail, brand-checked card, strict phone recognizers (`recognizers.py`). PERSON and
LOCATION come from a spaCy NER model when one is installed or given as a directory,
otherwise from mmeval's gazetteer detector (`names.py`). Findings then pass the
e-commerce context rules (`ecommerce.py`).

Example:
    detector = PiiDetector()
    detector.analyze("Mail jane@example.com")  # [Span(entity='EMAIL_ADDRESS', start=5, end=21, score=1.0)]
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import MissingExtra, SpecError
from .ecommerce import Span, rescore, resolve_overlaps

SUPPORTED_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "PERSON",
    "LOCATION",
    "URL",
)
# URL is opt-in: product pages link to shops, and a shop's address is not personal data.
DEFAULT_ENTITIES = tuple(e for e in SUPPORTED_ENTITIES if e != "URL")
SPACY_NER_MODELS = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm", "en_core_web_trf")

# Which characters a text must contain for an entity to be possible at all. Texts (and
# entities) that fail this cheap check never reach presidio: most product copy has no '@',
# and a text without digits cannot hold a phone, card, IBAN, IPv4 or SSN.
_TRIGGERS = {
    "EMAIL_ADDRESS": re.compile(r"@"),
    "PHONE_NUMBER": re.compile(r"\d[^\n]{0,6}\d[^\n]{0,6}\d"),
    "CREDIT_CARD": re.compile(r"\d{4}"),
    "IBAN_CODE": re.compile(r"[A-Z]{2}\d{2}"),
    "IP_ADDRESS": re.compile(r"\d\.\d|:[0-9A-Fa-f]*:"),
    "US_SSN": re.compile(r"\d{3}"),
    "URL": re.compile(r"[./]"),
}


def _presidio() -> Any:
    """presidio_analyzer, after checking every package of the `privacy` extra is importable."""
    import importlib

    for module, package in (("spacy", "spacy"), ("phonenumbers", "phonenumbers"), ("tldextract", "tldextract"),
                            ("presidio_analyzer", "presidio-analyzer")):
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtra(package, "privacy") from None
    return importlib.import_module("presidio_analyzer")


class BlankSpacyNlpEngine:
    """Factory for a presidio SpacyNlpEngine over a spaCy pipeline that needs no download."""

    @staticmethod
    def create(model: str | Path | None = None) -> Any:
        import spacy
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

        class _Engine(SpacyNlpEngine):
            def load(self) -> None:
                self.nlp = {"en": spacy.load(str(model)) if model else spacy.blank("en")}

        engine = _Engine(models=[{"lang_code": "en", "model_name": str(model or "blank:en")}],
                         ner_model_configuration=NerModelConfiguration())
        engine.load()
        return engine


def find_ner_model(ner_model: str | Path | None = None) -> str | None:
    """The NER model to use: the one given (spaCy package name, spaCy directory, or a
    transformers token-classification directory), else an installed spaCy English model."""
    _presidio()
    import spacy

    if ner_model:
        if Path(ner_model).is_dir() or spacy.util.is_package(str(ner_model)):
            return str(ner_model)
        raise SpecError(f"NER model {str(ner_model)!r} is neither an installed spaCy package nor a directory")
    return next((name for name in SPACY_NER_MODELS if spacy.util.is_package(name)), None)


def is_transformers_model(ner_model: str | None) -> bool:
    """A directory holding a transformers config (spaCy pipelines hold meta.json instead)."""
    return bool(ner_model) and (Path(str(ner_model)) / "config.json").is_file()


def _ner_recognizer(ner_model: str) -> Any:
    if is_transformers_model(ner_model):
        from .._compat.torchvision import ensure_torchvision

        ensure_torchvision()  # transformers' model classes import torchvision (DESIGN.md, Environment)
        try:
            import transformers  # noqa: F401
        except ImportError:
            raise MissingExtra("transformers", "models") from None
        from presidio_analyzer.predefined_recognizers import HuggingFaceNerRecognizer

        recognizer = HuggingFaceNerRecognizer(
            model_name=ner_model, supported_entities=["PERSON", "LOCATION"], device="cpu",
            label_mapping={"PER": "PERSON", "PERSON": "PERSON", "LOC": "LOCATION", "GPE": "LOCATION", "LOCATION": "LOCATION"},
        )
        recognizer.load()
        return recognizer
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    return SpacyRecognizer(supported_entities=["PERSON", "LOCATION"])


@functools.lru_cache(maxsize=4)
def build_analyzer(ner_model: str | None = None, phone_regions: tuple[str, ...] | None = None) -> tuple[Any, list[str]]:
    """The AnalyzerEngine and the names of its recognizers (cached: building takes ~0.5 s)."""
    presidio = _presidio()
    from presidio_analyzer.predefined_recognizers import IbanRecognizer, IpRecognizer, UrlRecognizer, UsSsnRecognizer

    from .names import GazetteerNameRecognizer
    from .recognizers import CardRecognizer, OfflineEmailRecognizer, StrictPhoneRecognizer

    # A spaCy NER model is the NLP engine itself; a transformers model runs beside a blank one.
    nlp_engine = BlankSpacyNlpEngine.create(None if is_transformers_model(ner_model) else ner_model)
    registry = presidio.RecognizerRegistry(supported_languages=["en"])
    phone = StrictPhoneRecognizer(phone_regions) if phone_regions else StrictPhoneRecognizer()
    for recognizer in (OfflineEmailRecognizer(), CardRecognizer(), phone, IbanRecognizer(), IpRecognizer(),
                       UsSsnRecognizer(), UrlRecognizer()):
        registry.add_recognizer(recognizer)
    if ner_model:
        registry.add_recognizer(_ner_recognizer(ner_model))
    else:
        names = GazetteerNameRecognizer()
        names.load()
        registry.add_recognizer(names)
    engine = presidio.AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])
    return engine, [r.name for r in registry.recognizers]


class PiiDetector:
    """Finds PII spans in text; see the module docstring. Build once and reuse."""

    def __init__(
        self,
        entities: Sequence[str] | None = None,
        threshold: float = 0.5,
        ner_model: str | Path | None = None,
        phone_regions: Sequence[str] | None = None,
    ):
        entities = tuple(entities) if entities else DEFAULT_ENTITIES
        unknown = [e for e in entities if e not in SUPPORTED_ENTITIES]
        if unknown:
            raise SpecError(f"unknown PII entity {unknown[0]!r}; supported: {', '.join(SUPPORTED_ENTITIES)}")
        if not 0.0 <= threshold <= 1.0:
            raise SpecError(f"threshold must be between 0 and 1 (got {threshold})")
        self.entities = entities
        self.threshold = threshold
        self.ner_model = find_ner_model(ner_model)
        self.phone_regions = tuple(phone_regions) if phone_regions else None
        self._engine, self._recognizers = build_analyzer(self.ner_model, self.phone_regions)
        # Names and places have no cheap character trigger; they are looked for in every text.
        self._always = [e for e in self.entities if e not in _TRIGGERS]

    def analyze(self, text: str) -> list[Span]:
        """Findings at or above the threshold, overlaps resolved, sorted by position."""
        wanted = self._wanted(text)
        if not wanted:
            return []
        return self._findings(text, self._engine.analyze(text, language="en", entities=wanted, score_threshold=0.0))

    def analyze_many(self, texts: Iterable[str]) -> list[list[Span]]:
        """`analyze` of each text, the same findings at a lower cost for many texts.

        Without an NER model no recognizer reads spaCy's tokens: they only rescore findings
        by the words before them. So each text is matched untokenised first, and only the
        texts with a finding are tokenised (together, in one `nlp.pipe`) and matched again.
        """
        texts = list(texts)
        wanted = [self._wanted(t) for t in texts]
        raw: list[list[Any]] = [[] for _ in texts]
        again = [i for i, w in enumerate(wanted) if w]
        if self.ner_model is None:
            untokenised = self._untokenised()
            for i in again:
                raw[i] = self._engine.analyze(texts[i], language="en", entities=wanted[i], score_threshold=0.0,
                                              nlp_artifacts=untokenised)
            again = [i for i in again if raw[i]]
        tokenised = self._engine.nlp_engine.process_batch([texts[i] for i in again], language="en", batch_size=64)
        for i, (_, artifacts) in zip(again, tokenised):
            raw[i] = self._engine.analyze(texts[i], language="en", entities=wanted[i], score_threshold=0.0,
                                          nlp_artifacts=artifacts)
        return [self._findings(t, r) if w else [] for t, r, w in zip(texts, raw, wanted)]

    def _wanted(self, text: str) -> list[str]:
        return self._always + [e for e in self.entities if e in _TRIGGERS and _TRIGGERS[e].search(text)]

    def _findings(self, text: str, raw: Sequence[Any]) -> list[Span]:
        spans = []
        for r in raw:
            span = rescore(text, Span(r.entity_type, r.start, r.end, float(r.score)))
            if span is not None and span.score >= self.threshold:
                spans.append(span)
        return resolve_overlaps(spans)

    def _untokenised(self) -> Any:
        """NLP artifacts of no tokens, for matching before tokenising (see `analyze_many`)."""
        from presidio_analyzer.nlp_engine import NlpArtifacts

        nlp = self._engine.nlp_engine
        return NlpArtifacts(entities=[], tokens=nlp.nlp["en"].make_doc(""), tokens_indices=[], lemmas=[],
                            nlp_engine=nlp, language="en")

    def _ner_source(self) -> str:
        if not self.ner_model:
            return "mmeval gazetteer + context rules"
        kind = "transformers" if is_transformers_model(self.ner_model) else "spaCy"
        return f"{kind} NER model {self.ner_model}"

    def describe(self) -> dict[str, Any]:
        """What ran: recognizers, the NER source for PERSON/LOCATION, entities and threshold."""
        return {
            "engine": "presidio-analyzer (offline, spaCy blank 'en' tokenizer)",
            "recognizers": list(self._recognizers),
            "person_location": self._ner_source(),
            "entities": list(self.entities),
            "threshold": self.threshold,
            "ecommerce_rules": "product-identifier, unit and price context suppress phone/SSN/card/IP findings",
        }

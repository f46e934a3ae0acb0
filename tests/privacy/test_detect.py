"""Detection quality on the planted-PII corpus, e-commerce false alarms, offline operation."""

from __future__ import annotations

import socket

import pytest

from mmeval.errors import SpecError
from mmeval.privacy.detect import PiiDetector
from mmeval.privacy.evaluate import evaluate
from mmeval.privacy.recognizers import card_brand, luhn_valid

STRICT = ("EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")


def test_corpus_has_what_the_issue_asks(corpus):
    from mmeval.privacy.corpus import build_corpus

    full = build_corpus(seed=0)
    assert sum(bool(t.planted) for t in full) >= 2000 and sum(not t.planted for t in full) >= 1000
    kinds = {p.entity for t in full for p in t.planted}
    assert {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN", "PERSON"} <= kinds
    assert build_corpus(seed=0, n_pii=5, n_clean=5)[0].text == full[0].text  # seeded
    for t in full[:300]:
        for p in t.planted:
            assert t.text[p.start : p.end] == p.value


def test_precision_recall_and_clean_flag_rate(detector, corpus):
    ev = evaluate(detector, corpus)
    for entity in STRICT:
        assert ev.tp[entity] >= 50, entity
        assert ev.recall(entity) >= 0.99, (entity, ev.table())
        assert ev.precision(entity) >= 0.98, (entity, ev.table())
    assert ev.recall("PHONE_NUMBER") >= 0.95 and ev.precision("PHONE_NUMBER") >= 0.95, ev.table()
    assert ev.clean_texts == 400 and ev.clean_flag_rate <= 0.01


@pytest.mark.parametrize(
    "text",
    [
        "Oak table 180 x 90 x 75 cm, 32.5 kg, now $1,299.99 (was $1,499.00).",
        "EAN 4006381333931 / UPC 036000291452 / ISBN 978-3-16-148410-0",
        "Order #100234987112 shipped; tracking 1Z999AA10123456784.",
        "Part No. 123-45-6789 replaces item 2045-118-330.",
        "Model KD-55X80K, firmware 2.1.0.4, 3840 x 2160 px, 5000 mAh.",
        "Gift set, art. 4111111111111111, ref. 4155550132, batch 20240315-07.",
        "Made in Portugal. Designed in Copenhagen. Ships 2024-03-15.",
    ],
)
def test_product_identifiers_are_not_pii(detector, text):
    assert detector.analyze(text) == []


@pytest.mark.parametrize(
    "text, entity",
    [
        ("Call +49 30 901820 today", "PHONE_NUMBER"),
        ("phone (415) 555-2671", "PHONE_NUMBER"),
        ("my SSN is 219099999", "US_SSN"),
        ("card 5555 5555 5555 4444", "CREDIT_CARD"),
        ("Mastercard 2223 0031 2200 3222", "CREDIT_CARD"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN_CODE"),
        ("from 2001:db8::ff00:42:8329", "IP_ADDRESS"),
        ("Dear Mrs. Quorvanyi, thanks", "PERSON"),
        ("ship to 22 Elmwick Road please", "LOCATION"),
    ],
)
def test_finds_each_entity(detector, text, entity):
    assert entity in {s.entity for s in detector.analyze(text)}


def test_luhn_and_brand_match_known_numbers():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_brand("378282246310005") == "amex" and card_brand("2223003122003222") == "mastercard"
    assert card_brand("4006381333931") is None  # 13 digits: an EAN, not a retired Visa


def test_threshold_and_entities_filter(detector):
    text = "Mail jane.doe@example.com or call +44 20 7946 0958"
    only_mail = PiiDetector(entities=["EMAIL_ADDRESS"])
    assert {s.entity for s in only_mail.analyze(text)} == {"EMAIL_ADDRESS"}
    assert PiiDetector(threshold=1.0).analyze("ref 555 123 4567") == []
    with pytest.raises(SpecError, match="unknown PII entity"):
        PiiDetector(entities=["EMAIL"])


def test_runs_without_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    from mmeval.privacy.detect import build_analyzer

    build_analyzer.cache_clear()
    spans = PiiDetector().analyze("write to someone@mail.example.co.uk")
    assert [s.entity for s in spans] == ["EMAIL_ADDRESS"]


def test_describe_names_the_detectors(detector):
    info = detector.describe()
    assert "StrictPhoneRecognizer" in info["recognizers"] and "GazetteerNameRecognizer" in info["recognizers"]
    assert info["person_location"] == "mmeval gazetteer + context rules"


def test_spacy_ner_model_directory_replaces_the_gazetteer(tmp_path):
    import spacy

    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for label in ("PERSON", "GPE"):
        ner.add_label(label)
    nlp.initialize()
    nlp.to_disk(tmp_path / "ner")
    detector = PiiDetector(ner_model=str(tmp_path / "ner"))
    info = detector.describe()
    assert info["person_location"].startswith("spaCy NER model") and "SpacyRecognizer" in info["recognizers"]
    assert "GazetteerNameRecognizer" not in info["recognizers"]
    assert [s.entity for s in detector.analyze("Mail a@example.com, Dear Bob")][0] == "EMAIL_ADDRESS"
    with pytest.raises(SpecError, match="neither an installed spaCy package nor a directory"):
        PiiDetector(ner_model=str(tmp_path / "missing"))


def _tiny_token_classifier(path):
    """A random 1-layer BERT token classifier with a locally trained tokenizer (no download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(["Dear Bob Smith, ship to Paris."] * 4, trainers.WordPieceTrainer(vocab_size=100, special_tokens=specials))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    config = BertConfig(vocab_size=fast.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, id2label=dict(enumerate(labels)), label2id={x: i for i, x in enumerate(labels)})
    BertForTokenClassification(config).save_pretrained(path)
    fast.save_pretrained(path)


def test_transformers_ner_directory_replaces_the_gazetteer(tmp_path):
    _tiny_token_classifier(tmp_path / "hf")
    detector = PiiDetector(ner_model=str(tmp_path / "hf"))
    info = detector.describe()
    assert info["person_location"].startswith("transformers NER model")
    assert "HuggingFaceNerRecognizer" in info["recognizers"] and "GazetteerNameRecognizer" not in info["recognizers"]
    spans = detector.analyze("Dear Bob Smith, mail a@example.com")
    assert "EMAIL_ADDRESS" in {s.entity for s in spans}
    assert all(s.entity in ("EMAIL_ADDRESS", "PERSON", "LOCATION") for s in spans)


@pytest.mark.parametrize("text, name", [
    ("Kawu Lenelmar left a five-star review for the lamp.", "Kawu Lenelmar"),
    ("Great Ana Silva left a review.", "Ana Silva"),  # a sentence word before the name is not part of it
    ("Order 7781: Zolenvo Dalen gave us a 5-star rating!", "Zolenvo Dalen"),
])
def test_review_attributions_name_a_person(detector, text, name):
    assert [(s.entity, text[s.start:s.end]) for s in detector.analyze(text)] == [("PERSON", name)]


@pytest.mark.parametrize("text", ["Our Aria lamp left a lasting impression.", "The Nordic Oak set left the warehouse today."])
def test_product_names_before_left_are_not_people(detector, text):
    assert detector.analyze(text) == []

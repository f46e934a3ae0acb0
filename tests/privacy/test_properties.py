"""Property tests: any text is handled, offsets are valid, planted e-mails never survive."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mmeval.privacy.anonymize import Anonymizer

_local = st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True)
_domain = st.from_regex(r"[a-z]{2,10}\.(com|org|de|co\.uk|shop)", fullmatch=True)
_filler = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_filler)
def test_any_text_gives_valid_spans(detector, text):
    spans = detector.analyze(text)
    assert all(0 <= s.start < s.end <= len(text) and 0 <= s.score <= 1 for s in spans)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))  # sorted, no overlaps
    Anonymizer("mask").anonymize(text, spans)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=_filler, local=_local, domain=_domain, after=_filler)
def test_planted_email_never_survives(detector, before, local, domain, after):
    email = f"{local}@{domain}"
    text = f"{before} {email} {after}"
    for operator in ("replace", "pseudonym"):
        out = Anonymizer(operator, key=b"k" * 32).anonymize(text, detector.analyze(text))
        assert email not in out

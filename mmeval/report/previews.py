"""Output digests for the per-sample records: each output's sha256 and a short redacted preview.

Previews are at most `PREVIEW_CHARS` long, with PII replaced: by the privacy extra's
presidio-based detector when it is installed (names, addresses, cards, ...), and always
by a regex for e-mail addresses and long digit runs, so a base install still hides those.
The detector is built once per process, on the first batch with text to preview (a run
of images or numbers never starts it), and reads a whole batch's previews in one call,
each only as far as its preview needs (see `LOOKAHEAD_CHARS`).

Example:
    output_digests(["Mail jane@example.com", Path("cat.png")])
    # [('5c0f…', 'Mail <EMAIL_ADDRESS>'), ('9a1b…', '[png] cat.png')]
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..media.blob import MediaBlob

PREVIEW_CHARS = 80
# Detection reads the text this far past the cut, and on to the next break (a space or CJK
# punctuation): no e-mail address or digit run without a break is ever split, and what
# a break can sit inside (a phone, an IBAN, a name) is far shorter, so a finding that
# reaches into the preview is matched whole, as in the full text.
LOOKAHEAD_CHARS = 160
_BREAK = re.compile(r"[ 。，、；！？]")
_PII = re.compile(
    r"[\w.+-]+@[\w-]+\.[\w.-]+"  # e-mail
    r"|\+?\d[\d\s().-]{7,}\d"  # phone / card-like digit runs
)


@lru_cache(maxsize=1)
def pii_tools() -> Any:
    """The privacy extra's detector and `<ENTITY>` replacer, or None on a base install.
    Built once per process; the seconds it takes are mostly imports (spaCy brings torch)."""
    from ..errors import MissingExtra

    try:
        from ..privacy import Anonymizer, PiiDetector

        return PiiDetector(), Anonymizer("replace")
    except (ImportError, MissingExtra):  # a base install: previews fall back to the regex
        return None


def output_digests(outputs: Sequence[Any]) -> list[tuple[str, str]]:
    """(sha256, preview) of each output: text, number, dict, media path or blob, or array."""
    digests: list[str] = []
    previews: list[str | None] = []
    texts: dict[int, str] = {}  # output position -> text still to redact
    for i, output in enumerate(outputs):
        digest, preview, text = _digest(output)
        digests.append(digest)
        previews.append(preview)
        if text is not None:
            texts[i] = text
    for i, preview in zip(texts, redact_previews(list(texts.values()))):
        previews[i] = preview
    return [(d, p or "") for d, p in zip(digests, previews)]


def redact_previews(texts: Sequence[str], limit: int = PREVIEW_CHARS) -> list[str]:
    """The redacted preview of each text; repeated texts are read once."""
    windows = [_window(" ".join(t.split()), limit) for t in texts]
    unique = [w for w in dict.fromkeys(windows) if w]
    redacted = unique
    tools = pii_tools() if unique else None
    if tools is not None:
        detector, anonymizer = tools
        redacted = [anonymizer.anonymize(w, spans) for w, spans in zip(unique, detector.analyze_many(unique))]
    done = {w: _cut(_PII.sub("<PII>", r), limit) for w, r in zip(unique, redacted)}
    return [done.get(w, "") for w in windows]


def _window(text: str, limit: int) -> str:
    """The part of `text` that detection reads for its preview (see `LOOKAHEAD_CHARS`)."""
    if len(text) <= limit + LOOKAHEAD_CHARS:
        return text
    stop = _BREAK.search(text, limit + LOOKAHEAD_CHARS)
    return text if stop is None else text[: stop.start()]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _digest(output: Any) -> tuple[str, str | None, str | None]:
    """(sha256, preview, None) of a non-text output; (sha256, None, text to redact) of text."""
    if isinstance(output, MediaBlob):
        return output.sha256, f"[{output.suffix.lstrip('.') or 'file'}] {output.name}", None
    if isinstance(output, Path):
        data = output.read_bytes() if output.is_file() else str(output).encode()
        return hashlib.sha256(data).hexdigest(), f"[{output.suffix.lstrip('.') or 'file'}] {output.name}", None
    tobytes = getattr(output, "tobytes", None)
    if tobytes is not None:
        return hashlib.sha256(tobytes()).hexdigest(), f"[array {getattr(output, 'shape', '')}]", None
    if isinstance(output, str):
        return hashlib.sha256(output.encode()).hexdigest(), None, output
    if output is None or isinstance(output, (bool, int, float)):  # no text: the regex is enough
        preview = _cut(_PII.sub("<PII>", json.dumps(_rounded(output))), PREVIEW_CHARS)
        return hashlib.sha256(json.dumps(output).encode()).hexdigest(), preview, None
    # Structured outputs ({label: probability}): one digest whatever the key order, and a
    # preview whose long floats are not mistaken for phone numbers by the PII regex.
    text = json.dumps(output, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), None, json.dumps(_rounded(output), default=str)


def _rounded(value: Any, _depth: int = 0) -> Any:
    """`value` with every float rounded to 4 significant digits, for previews only."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if _depth > 16:
        return value
    if isinstance(value, dict):
        return {k: _rounded(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v, _depth + 1) for v in value]
    return value

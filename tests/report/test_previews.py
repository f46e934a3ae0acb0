"""Record previews (`mmeval/report/previews.py`): batched and windowed, yet equal to the
one-by-one full-text redaction they replace; the detector built once, and only for text;
the regex alone on a base install."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmeval.catalog import make_products
from mmeval.media.blob import MediaBlob
from mmeval.privacy import Anonymizer, PiiDetector
from mmeval.privacy.corpus import build_corpus
from mmeval.report.previews import LOOKAHEAD_CHARS, PREVIEW_CHARS, output_digests, pii_tools, redact_previews
from tests.conftest import REPO

# The preview code as it was before batching: the whole text, one detector call per output.
_OLD_PII = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|\+?\d[\d\s().-]{7,}\d")


def _old_preview(text: str, tools) -> str:
    text = " ".join(text.split())
    if tools is not None:
        detector, anonymizer = tools
        text = anonymizer.anonymize(text, detector.analyze(text))
    text = _OLD_PII.sub("<PII>", text)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def _old_rounded(value):
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _old_rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_old_rounded(v) for v in value]
    return value


def _old_digest(output, tools) -> tuple[str, str]:
    if isinstance(output, MediaBlob):
        return output.sha256, f"[{output.suffix.lstrip('.')}] {output.name}"
    if isinstance(output, Path):
        return hashlib.sha256(output.read_bytes()).hexdigest(), f"[{output.suffix.lstrip('.')}] {output.name}"
    if isinstance(output, np.ndarray):
        return hashlib.sha256(output.tobytes()).hexdigest(), f"[array {output.shape}]"
    if isinstance(output, str):
        return hashlib.sha256(output.encode()).hexdigest(), _old_preview(output, tools)
    text = json.dumps(output, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest(), _old_preview(json.dumps(_old_rounded(output)), tools)


@pytest.fixture(scope="module")
def tools():
    return PiiDetector(), Anonymizer("replace")


@pytest.fixture(scope="module")
def mixed_batch(tmp_path_factory) -> list:
    png = tmp_path_factory.mktemp("media") / "sample.png"
    png.write_bytes(b"\x89PNG not really")
    corpus = [c.text for c in build_corpus(seed=5, n_pii=200, n_clean=60)]
    # Long outputs, so that detection reads only a window of most of them.
    long = [" ".join(corpus[i : i + 6]) for i in range(0, 120, 6)]
    chinese = ["请联系张伟，邮箱 zhang.wei@example.cn，电话 +86 138 1234 5678。" * 8,
               "这款蓝色棉质花瓶适合鲜花或干花。只需 29.99 元。"]
    names = ["Dear Anna Schmidt, your parcel ships to 12 Baker Street today.", "Ana Silva left a five-star review"]
    return [
        *corpus, *long, *chinese, *names,
        *(p.description for p in make_products(40, 3)),
        "Mail jane.doe@example.com", "Mail jane.doe@example.com",  # repeated: read once
        "", "   ", "call +1 (415) 555-0100\nor\t+44 20 7946 0958",
        42, 3.14159, -0.5, True, None,
        {"cat": 0.123456789, "dog": 0.87654321}, {"reply": "Write to bob@example.org"}, ["a", 1.5],
        png, MediaBlob(b"RIFF....WAVE", "jingle.wav"), np.arange(6, dtype=np.float32).reshape(2, 3),
    ]


def test_batched_previews_equal_one_by_one_full_text_previews(mixed_batch, tools):
    reference = [_old_digest(o, tools) for o in mixed_batch]
    assert output_digests(mixed_batch) == reference
    assert [output_digests([o])[0] for o in mixed_batch] == reference
    assert sum(p != _old_preview(o, None) for o, (_, p) in zip(mixed_batch, reference) if isinstance(o, str)) > 50


def test_batched_detector_finds_what_one_by_one_finds(tools):
    detector, _ = tools
    texts = [c.text for c in build_corpus(seed=9, n_pii=300, n_clean=150)] + [p.description for p in make_products(300, 4)]
    found = [detector.analyze(t) for t in texts]
    assert detector.analyze_many(texts) == found
    assert sum(map(bool, found)) >= 300  # the corpus's PII was found, so the comparison means something


@pytest.mark.parametrize("pii", ["jane.doe@example.com", "+1 415 555 0100", "4111 1111 1111 1111", "a" * 300 + "@example.com"])
@pytest.mark.parametrize("start", [PREVIEW_CHARS - 6, PREVIEW_CHARS - 1, PREVIEW_CHARS + LOOKAHEAD_CHARS - 8])
def test_pii_cut_by_the_preview_or_the_detection_window_never_leaks(tools, pii, start):
    filler = ("lorem ipsum " * 40)[: start - 2] + "m "  # single spaces: positions survive normalising
    text = filler + pii + " and then the rest of a long product description " * 4
    preview = redact_previews([text])[0]
    assert preview == _old_preview(text, tools)
    assert len(preview) == PREVIEW_CHARS
    revealed = preview[len(filler):].rstrip("…")  # whatever of the PII's place the preview shows
    assert not revealed or revealed[0] == "<" and not any(c.isdigit() for c in revealed) and "aa" not in revealed


def test_detector_is_built_once_and_never_for_outputs_without_text(tmp_path):
    png = tmp_path / "a.png"
    png.write_bytes(b"png")
    pii_tools.cache_clear()
    output_digests([png, MediaBlob(b"x", "b.wav"), np.zeros(3), 1.5, 7, None, "", "  \n"])
    assert pii_tools.cache_info().misses == 0  # never asked for: not built
    output_digests(["Mail jane@example.com", {"a": "b"}])
    output_digests(["call Anna Schmidt"])
    redact_previews(["one more"])
    info = pii_tools.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 2, 1)


def _run_python(code: str, blocked: tuple[str, ...] = ()) -> str:
    guard = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"No module named {{name!r}} (blocked: base install)")
sys.meta_path.insert(0, Block())
"""
    proc = subprocess.run([sys.executable, "-c", guard + code], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_outputs_without_text_never_import_the_detector():
    out = _run_python(
        "import numpy as np\nfrom pathlib import Path\nfrom mmeval.report.previews import output_digests\n"
        "output_digests([Path('missing.png'), np.zeros(2), 3.5, None])\n"
        "print(sorted(m for m in ('spacy', 'presidio_analyzer', 'presidio_anonymizer') if m in sys.modules))"
    )
    assert out.strip() == "[]"


def test_base_install_falls_back_to_the_regex():
    texts = ["Mail jane.doe@example.com today", "call +1 415 555 0100", "Dear Anna Schmidt", "x" * 76 + " jane@example.com",
             "lorem " * 40 + "+1 415 555 0100"]
    out = _run_python(
        f"import json\nfrom mmeval.report.previews import output_digests, pii_tools\n"
        f"print(json.dumps([pii_tools() is None, [p for _, p in output_digests({texts!r})]]))",
        blocked=("presidio_analyzer", "presidio_anonymizer", "spacy", "phonenumbers"),
    )
    no_extra, previews = json.loads(out)
    assert no_extra is True
    assert previews == [_old_preview(t, None) for t in texts]
    assert previews[:3] == ["Mail <PII> today", "call <PII>", "Dear Anna Schmidt"]  # names need the extra

"""Text green-list watermark: the key decides the green lists, detection is an exact binomial test."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmeval.models.hf import HFCausalLM
from mmeval.provenance.base import subkey
from mmeval.provenance.text import GreenList, WatermarkProcessor, detect_text, load_tokenizer
from tests.conftest import REPO

KEY = subkey(b"test-watermark-secret-0123456789", "text")
VOCAB = 384


def _sample(green: GreenList | None, n: int, rng: np.random.Generator, delta: float = 2.0) -> list[int]:
    """Tokens from a flat 'model' over VOCAB, with the green bias when `green` is given."""
    tokens = [int(rng.integers(VOCAB))]
    for _ in range(n):
        logits = np.zeros(VOCAB)
        if green is not None:
            logits += delta * green.mask(tokens[-1], VOCAB)
        p = np.exp(logits) / np.exp(logits).sum()
        tokens.append(int(rng.choice(VOCAB, p=p)))
    return tokens


def test_green_fraction_is_gamma_and_depends_on_key_and_previous_token():
    green = GreenList(KEY, 0.25)
    masks = np.stack([green.mask(p, VOCAB) for p in range(200)])
    assert abs(masks.mean() - 0.25) < 0.01
    assert (masks[0] != masks[1]).any()
    other = GreenList(subkey(b"another-secret-0123456789abcdef0", "text"), 0.25)
    assert (other.mask(0, VOCAB) != masks[0]).mean() > 0.2  # ~2 gamma (1 - gamma) = 0.375
    # Pinned: the PRF is integer arithmetic, identical on every platform and device.
    assert np.flatnonzero(green.mask(7, 40)).tolist() == np.flatnonzero(GreenList(KEY, 0.25).mask(7, 40)).tolist()
    assert green.mask(7, 40).tolist() == green.mask(7, VOCAB)[:40].tolist()  # independent of vocabulary size


def test_marked_tokens_are_detected_and_unmarked_are_not():
    rng = np.random.default_rng(0)
    green = GreenList(KEY, 0.25)
    marked = [green.detect(_sample(green, 200, rng)) for _ in range(20)]
    assert all(d.detected and d.p_value < 1e-6 for d in marked)
    unmarked = [green.detect(_sample(None, 200, rng)).p_value for _ in range(200)]
    assert np.mean(np.array(unmarked) < 0.05) < 0.12  # calibrated: about 5% expected
    assert np.median(unmarked) > 0.3


def test_repeated_pairs_count_once_and_p_value_is_the_exact_binomial_tail():
    from scipy.stats import binom

    green = GreenList(KEY, 0.25)
    a, b = next((a, b) for a in range(50) for b in range(VOCAB) if green.mask(a, VOCAB)[b])
    repeated = green.detect([a, b] * 100)  # pairs (a, b) and (b, a) only
    assert repeated.details["scored"] == 2 and not repeated.detected
    tokens = _sample(green, 120, np.random.default_rng(1))
    d = green.detect(tokens)
    assert d.p_value == pytest.approx(binom.sf(d.details["green"] - 1, d.details["scored"], 0.25), rel=1e-12)


def test_processor_adds_delta_to_green_logits_only():
    green = GreenList(KEY, 0.25)
    processor = WatermarkProcessor(green, delta=2.0)
    ids = torch.tensor([[5, 9], [1, 3]])
    scores = torch.zeros(2, VOCAB)
    out = processor(ids, scores)
    assert torch.equal(out[0] == 2.0, torch.from_numpy(green.mask(9, VOCAB)))
    assert torch.equal(out[1] == 2.0, torch.from_numpy(green.mask(3, VOCAB)))
    assert set(out.unique().tolist()) == {0.0, 2.0}


def test_marked_generation_with_the_reference_model_is_greener():
    """End to end through `hf-causal-lm` sampling, detected from the decoded text alone."""
    rows = [json.loads(line) for line in (REPO / "suites/data/ecommerce/text.jsonl").read_text().splitlines()[:24]]
    folder = REPO / "reference_models/text/final"
    tokenizer = load_tokenizer(folder)
    green = GreenList(KEY, 0.25)
    args = dict(max_new_tokens=64, do_sample=True, temperature=1.0, batch_size=24)
    plain = HFCausalLM(folder, **args)
    marked = HFCausalLM(folder, **args)
    marked.add_logits_processor(WatermarkProcessor(green, delta=4.0, key_id="w-test"))
    assert "w-test" in marked.fingerprint() and plain.fingerprint() != marked.fingerprint()
    texts = {name: m.generate([r["input"] for r in rows], seed=0, ids=[r["id"] for r in rows]) for name, m in
             (("plain", plain), ("marked", marked))}

    def pooled_p(outputs):  # one binomial test over all texts: short texts carry little evidence each
        from mmeval.provenance.base import binomial_sf

        d = [detect_text(t, KEY, tokenizer) for t in outputs]
        return binomial_sf(sum(x.details["green"] for x in d), sum(x.details["scored"] for x in d), 0.25)

    assert pooled_p(texts["marked"]) < 1e-5
    assert pooled_p(texts["plain"]) > 1e-3

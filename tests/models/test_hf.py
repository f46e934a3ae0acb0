"""`hf-causal-lm` on the committed reference text checkpoint (a real local GPT-2)."""

from __future__ import annotations

import json

import pytest
import torch

from mmeval.errors import InputError
from mmeval.models.hf import HFCausalLM
from tests.conftest import REPO


@pytest.fixture(scope="module")
def rows():
    lines = (REPO / "suites/data/ecommerce/text.jsonl").read_text().splitlines()[:8]
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def checkpoint():
    return REPO / "reference_models" / "text" / "final"


def _run(adapter, rows, seed=0):
    return adapter.generate([r["input"] for r in rows], seed=seed, ids=[r["id"] for r in rows])


def test_greedy_matches_transformers_generate(checkpoint, rows):
    adapter = HFCausalLM(checkpoint, max_new_tokens=30, batch_size=4)
    ours = _run(adapter, rows[:2])
    tok, model = adapter._tokenizer, adapter._model
    for row, text in zip(rows[:2], ours):
        enc = tok(row["input"], return_tensors="pt")
        ref = model.generate(**enc, max_new_tokens=30, do_sample=False, pad_token_id=tok.eos_token_id)
        assert text == tok.decode(ref[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_sampling_is_seeded_per_sample_not_per_batch(checkpoint, rows):
    args = dict(max_new_tokens=40, do_sample=True, temperature=1.3, top_p=0.95)
    batched = _run(HFCausalLM(checkpoint, batch_size=8, **args), rows)
    single = _run(HFCausalLM(checkpoint, batch_size=1, **args), rows)
    reordered = HFCausalLM(checkpoint, batch_size=3, **args).generate(
        [r["input"] for r in rows[::-1]], seed=0, ids=[r["id"] for r in rows[::-1]])
    assert batched == single == reordered[::-1]
    assert _run(HFCausalLM(checkpoint, batch_size=8, **args), rows, seed=1) != batched


def test_logits_processor_hook_changes_the_text(checkpoint, rows):
    plain = HFCausalLM(checkpoint, max_new_tokens=48)
    hooked = HFCausalLM(checkpoint, max_new_tokens=48)
    _run(hooked, rows[:1])
    banned = hooked._tokenizer.convert_tokens_to_ids([t for t in hooked._tokenizer.get_vocab() if "$" in t])
    seen = []

    def ban_dollar(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        seen.append(input_ids.shape)
        scores[:, banned] = -float("inf")
        return scores

    hooked.add_logits_processor(ban_dollar)
    out, base = _run(hooked, rows[:4]), _run(plain, rows[:4])
    assert all("$" in text for text in base) and not any("$" in text for text in out)
    assert seen and seen[0][0] == 4
    assert plain.fingerprint() != hooked.fingerprint()


def test_bad_paths_and_inputs(tmp_path, checkpoint):
    with pytest.raises(InputError, match="no config.json"):
        HFCausalLM(tmp_path)
    with pytest.raises(InputError, match="text prompts"):
        HFCausalLM(checkpoint).generate([{"x": 1}], seed=0, ids=["a"])


def test_logits_processors_from_suite_args(checkpoint, rows, tmp_path):
    from mmeval.plugins import build
    from mmeval.registry import MODELS

    probe = HFCausalLM(checkpoint)
    probe._load()
    banned = [i for t, i in probe._tokenizer.get_vocab().items() if "$" in t]
    adapter = build(MODELS, "hf-causal-lm", {"path": str(checkpoint), "logits_processors": [
        {"use": "tests.models.processors:BanTokens", "args": {"token_ids": banned}}]}, "suite: models.m", tmp_path)
    assert "BanTokens" in adapter.fingerprint()
    assert not any("$" in text for text in _run(adapter, rows[:4]))

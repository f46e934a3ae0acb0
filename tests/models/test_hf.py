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


# Chat templates (`chat: true`), on a tiny GPT-2 whose tokenizer carries a template set in code.

CHAT_PROMPTS = ["red cotton shirt", "blue wool cap for cold days", "black ceramic mug", "a soft red wool scarf"]


@pytest.fixture(scope="module")
def chat_lm(tmp_path_factory):
    from tests.models.tiny_transformers import tiny_chat_lm

    root = tmp_path_factory.mktemp("chat")
    return tiny_chat_lm(root / "with"), tiny_chat_lm(root / "without", chat_template=None)


def _greedy_by_hand(adapter, text, max_new_tokens):
    """The checkpoint run by transformers' own generate on exactly `text`."""
    tok, model = adapter._tokenizer, adapter._model
    enc = tok(text, return_tensors="pt", add_special_tokens=False)
    ref = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    return tok.decode(ref[0, enc["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_chat_template_formats_the_prompt_the_model_sees(chat_lm):
    folder, _ = chat_lm
    with_system = HFCausalLM(folder, chat=True, system="be brief", max_new_tokens=6, batch_size=4)
    plain_chat = HFCausalLM(folder, chat=True, max_new_tokens=6, batch_size=4)
    assert with_system.format_prompt("red cotton shirt") == "<|system|>be brief\n<|user|>red cotton shirt\n<|assistant|>"
    assert plain_chat.format_prompt("red cotton shirt") == "<|user|>red cotton shirt\n<|assistant|>"
    ids = [f"c{i}" for i in range(len(CHAT_PROMPTS))]
    seen = []

    def record_prompt(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not seen:  # the first step's history is the left-padded prompt batch
            seen.extend(input_ids.tolist())
        return scores

    with_system.add_logits_processor(record_prompt)
    out = with_system.generate(CHAT_PROMPTS, seed=0, ids=ids)
    hand = [f"<|system|>be brief\n<|user|>{p}\n<|assistant|>" for p in CHAT_PROMPTS]
    tok = with_system._tokenizer
    pad = tok.pad_token_id
    assert [[t for t in row if t != pad] for row in seen] == [tok(h, add_special_tokens=False)["input_ids"] for h in hand]
    assert out == [_greedy_by_hand(with_system, h, 6) for h in hand]
    raw = HFCausalLM(folder, max_new_tokens=6, batch_size=4)
    assert raw.generate(CHAT_PROMPTS, seed=0, ids=ids) == [_greedy_by_hand(raw, p, 6) for p in CHAT_PROMPTS]


def test_chat_sampling_is_seeded_per_sample(chat_lm):
    folder, _ = chat_lm
    args = dict(chat=True, system="be brief", max_new_tokens=8, do_sample=True, temperature=1.5)
    ids = [f"c{i}" for i in range(len(CHAT_PROMPTS))]
    one = HFCausalLM(folder, batch_size=1, **args).generate(CHAT_PROMPTS, seed=0, ids=ids)
    assert one == HFCausalLM(folder, batch_size=3, **args).generate(CHAT_PROMPTS, seed=0, ids=ids)


def test_chat_settings_are_in_the_fingerprint_and_checked(chat_lm, tmp_path):
    from mmeval.errors import SpecError
    from mmeval.plugins import build
    from mmeval.registry import MODELS

    folder, no_template = chat_lm
    prints = {HFCausalLM(folder).fingerprint(), HFCausalLM(folder, chat=True).fingerprint(),
              HFCausalLM(folder, chat=True, system="be brief").fingerprint(),
              HFCausalLM(folder, chat=True, system="be long").fingerprint()}
    assert len(prints) == 4
    with pytest.raises(InputError, match=f"{no_template}: the tokenizer has no chat template") as missing:
        build(MODELS, "hf-causal-lm", {"path": str(no_template), "chat": True}, "suite: models.m", tmp_path)
    assert "\n" not in str(missing.value)
    with pytest.raises(SpecError, match="set chat: true"):
        HFCausalLM(folder, system="be brief")

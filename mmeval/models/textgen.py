"""Batched decoding for causal LMs with left padding and one random generator per row.

`transformers`' own `generate` draws from one global RNG for the whole batch, so a
sample's text would depend on its batch mates. Here every row samples from its own
`torch.Generator` seeded from (suite seed, sample id): outputs do not depend on batching.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

LogitsProcessor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (input_ids, scores) -> scores


def processor_fingerprint(processor: Any) -> str:
    """What a plugged-in processor contributes to an adapter's fingerprint (e.g. a watermark's key id)."""
    own = getattr(processor, "fingerprint", None)
    return own() if own is not None else type(processor).__qualname__


def sample_seed(seed: int, sample_id: str) -> int:
    """A 63-bit seed for one sample, independent of batch composition."""
    digest = hashlib.sha256(f"{seed}\x00{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def row_generators(seed: int, ids: Sequence[str]) -> list[torch.Generator]:
    gens = []
    for sid in ids:
        g = torch.Generator()
        g.manual_seed(sample_seed(seed, sid))
        gens.append(g)
    return gens


@dataclass(frozen=True)
class Decoding:
    max_new_tokens: int = 48
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0


def _top_p_filter(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    if top_p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    cumulative = sorted_probs.cumsum(-1)
    drop = cumulative - sorted_probs > top_p  # keep the smallest prefix whose mass reaches top_p
    sorted_probs = sorted_probs.masked_fill(drop, 0.0)
    return torch.zeros_like(probs).scatter(-1, order, sorted_probs)


@torch.no_grad()
def decode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    generators: list[torch.Generator],
    settings: Decoding,
    eos_id: int | None,
    pad_id: int,
    processors: Sequence[LogitsProcessor] = (),
) -> list[list[int]]:
    """New token ids per row (up to and without EOS). Inputs are left-padded."""
    device = input_ids.device
    rows = input_ids.shape[0]
    mask = attention_mask.clone()
    positions = (mask.cumsum(-1) - 1).clamp_min(0)
    past = None
    step_ids, step_pos = input_ids, positions
    finished = [False] * rows  # on the host: no device sync per row
    produced: list[list[int]] = [[] for _ in range(rows)]
    history = input_ids
    # transformers 5 renamed `past_key_values` to `cache`; accept both.
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    for _ in range(settings.max_new_tokens):
        out = model(input_ids=step_ids, attention_mask=mask, position_ids=step_pos, use_cache=True, **{cache_kw: past})
        past = getattr(out, "cache", None) or out.past_key_values
        scores = out.logits[:, -1, :].float()
        for processor in processors:
            scores = processor(history, scores)
        if settings.do_sample:
            probs = torch.softmax(scores / max(settings.temperature, 1e-6), dim=-1).cpu()
            probs = _top_p_filter(probs, settings.top_p)
            nxt = torch.stack([torch.multinomial(probs[i], 1, generator=generators[i])[0] for i in range(rows)])
        else:
            nxt = scores.argmax(-1).cpu()
        for i in range(rows):
            if not finished[i]:
                if eos_id is not None and int(nxt[i]) == eos_id:
                    finished[i] = True
                else:
                    produced[i].append(int(nxt[i]))
        if all(finished):
            break
        nxt = torch.where(torch.tensor(finished), torch.full_like(nxt, pad_id), nxt).to(device)
        history = torch.cat([history, nxt[:, None]], dim=1)
        step_ids = nxt[:, None]
        step_pos = step_pos[:, -1:] + 1
        mask = torch.cat([mask, torch.ones(rows, 1, dtype=mask.dtype, device=device)], dim=1)
    return produced

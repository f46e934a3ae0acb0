"""A logits processor built from suite YAML (`logits_processors: [{use: ..., args: ...}]`)."""

from __future__ import annotations


class BanTokens:
    def __init__(self, token_ids: list[int]):
        self.token_ids = list(token_ids)

    def __call__(self, input_ids, scores):
        scores[:, self.token_ids] = -float("inf")
        return scores

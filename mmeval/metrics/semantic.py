"""Semantic similarity: cosine between sentence embeddings of an output and its target.

The state is (sum of cosines, count), so batches and shards merge by addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from .base import check_lengths, fingerprint, package_version
from .mean import MeanOfScores
from .text import as_text, references


class SemanticSimilarity(MeanOfScores):
    """Mean cosine similarity, in [-1, 1], between each output's all-MiniLM-L6-v2 embedding
    and its target's (or, with `against:`, the other model's output): equal to
    sentence-transformers' `encode` then `util.cos_sim` (mean pooling, L2 norm, 256
    tokens). A list target scores the best-matching reference. The model comes from the
    `text-embed` extra, checked against its pinned sha256; nothing is downloaded.
    all-MiniLM-L6-v2 is an English model: on Chinese copy prefer chrF.

    Example: `- use: semantic_similarity` or `{use: semantic_similarity, against: reference}`.
    """

    name = "semantic_similarity"
    modality = "text"
    higher_is_better = True
    value_range = (-1.0, 1.0)

    def __init__(self, embedding: Literal["minilm"] = "minilm"):
        if embedding != "minilm":
            raise ValueError("embedding must be 'minilm' (all-MiniLM-L6-v2)")
        from .minilm import require_extra

        require_extra()  # a missing extra fails when the suite loads, not at the first batch
        self.embedding = embedding

    def sample_scores(self, outputs: Sequence[Any], targets: Sequence[Any]) -> list[float]:
        from .minilm import minilm

        check_lengths(outputs, targets)
        texts = [as_text(o, "output") for o in outputs]
        refs = [references(t) for t in targets]
        embedder = minilm()
        out_vectors = embedder.embed(texts)
        ref_vectors = embedder.embed([r for group in refs for r in group])
        total, start = [], 0
        for row, group in zip(out_vectors, refs):
            cosines = ref_vectors[start : start + len(group)] @ row
            start += len(group)
            total.append(float(np.clip(cosines.max(), -1.0, 1.0)))
        return total

    def fingerprint(self) -> str:
        from .minilm import MAX_TOKENS, NAME, WEIGHTS_SHA256

        return fingerprint(self.name, embedding=NAME, sha256=WEIGHTS_SHA256, pooling="mean", norm="l2",
                           max_tokens=MAX_TOKENS, transformers=package_version("transformers"))

"""Diversity of a model's own outputs: distinct-n, self-BLEU and the Vendi score.

These look at the output set alone; the runner still passes targets, which they ignore.
They are set-level: the state keeps what the final number needs (n-gram sets, the
outputs, or embeddings), so memory grows with the number of outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..errors import InputError
from .base import fingerprint, package_version
from .resampling import NotResampled, ResampledRows, SetResampler
from .tokenize import TOKENIZERS, Tokenize, tokens


def _texts(outputs: Sequence[Any]) -> list[str]:
    for o in outputs:
        if not isinstance(o, str):
            raise InputError(f"output {o!r} is not text")
    return list(outputs)


class DistinctN:
    """Distinct n-grams over all outputs, divided as Li et al. (2016) define it: by the
    total number of generated tokens (`per: tokens`, the default), or by the number of
    n-grams (`per: ngrams`, the other convention in use). Tokens: `whitespace`, `char`,
    or sacrebleu's `zh` for Chinese copy (see tokenize.py).

    Example: `- use: distinct_n` with `args: {n: 2, tokenize: zh}`.
    """

    name = "distinct_n"
    modality = "text"
    higher_is_better = True
    value_range = (0.0, 1.0)
    set_level = True

    def __init__(self, n: int = 2, tokenize: Tokenize = "whitespace", per: Literal["tokens", "ngrams"] = "tokens"):
        if not 1 <= n <= 4:
            raise ValueError("n must be between 1 and 4")
        if tokenize not in TOKENIZERS:
            raise ValueError(f"tokenize must be one of {', '.join(TOKENIZERS)}")
        if per not in ("tokens", "ngrams"):
            raise ValueError("per must be 'tokens' (Li et al. 2016) or 'ngrams'")
        self.n, self.tokenize, self.per = n, tokenize, per

    def init(self) -> tuple[frozenset, int, int]:
        return (frozenset(), 0, 0)  # distinct n-grams, n-gram count, token count

    def update(self, state: tuple[frozenset, int, int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[frozenset, int, int]:
        seen, grams_total, tokens_total = set(state[0]), state[1], state[2]
        for text in _texts(outputs):
            words = tokens(text, self.tokenize)
            grams = [tuple(words[i : i + self.n]) for i in range(len(words) - self.n + 1)]
            seen.update(grams)
            grams_total += len(grams)
            tokens_total += len(words)
        return (frozenset(seen), grams_total, tokens_total)

    def merge(self, a: tuple[frozenset, int, int], b: tuple[frozenset, int, int]) -> tuple[frozenset, int, int]:
        return (a[0] | b[0], a[1] + b[1], a[2] + b[2])

    def compute(self, state: tuple[frozenset, int, int]) -> dict[str, float]:
        total = state[2] if self.per == "tokens" else state[1]
        return {self.name: len(state[0]) / total if total else float("nan")}

    def fingerprint(self) -> str:
        return fingerprint(self.name, n=self.n, tok=self.tokenize, per=self.per)


class _OutputSet:
    """State = the tuple of all outputs (merge = concatenation)."""

    set_level = True

    def init(self) -> tuple:
        return ()

    def update(self, state: tuple, outputs: Sequence[Any], targets: Sequence[Any]) -> tuple:
        return state + tuple(outputs)

    def merge(self, a: tuple, b: tuple) -> tuple:
        return a + b


class SelfBLEU(_OutputSet):
    """Mean sacrebleu sentence BLEU of each output against all the others (lower = more diverse).

    Example: `- use: self_bleu`.
    """

    name = "self_bleu"
    modality = "text"
    higher_is_better = False
    value_range = (0.0, 100.0)

    def compute(self, state: tuple) -> dict[str, float]:
        from sacrebleu.metrics import BLEU

        texts = _texts(state)
        if len(texts) < 2:
            return {self.name: float("nan")}
        bleu = BLEU(effective_order=True)
        scores = [bleu.sentence_score(t, texts[:i] + texts[i + 1 :]).score for i, t in enumerate(texts)]
        return {self.name: math.fsum(scores) / len(scores)}

    def fingerprint(self) -> str:
        return fingerprint(self.name, bleu="sentence|effective_order", sacrebleu=package_version("sacrebleu"))


def vendi_score(vectors: np.ndarray) -> float:
    """exp(entropy of the eigenvalues of K/n), K the cosine-similarity matrix.

    Example:
        >>> vendi_score(np.eye(3))
        3.0
    """
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    n = x.shape[0]
    # The nonzero eigenvalues of X X^T equal those of X^T X: use the smaller matrix.
    gram = x @ x.T if n <= x.shape[1] else x.T @ x
    eigenvalues = np.clip(np.linalg.eigvalsh(gram) / n, 0.0, None)
    eigenvalues = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-np.sum(eigenvalues * np.log(eigenvalues))))


class Vendi(_OutputSet):
    """The Vendi score: the effective number of distinct outputs (1 = all alike, N = all different).

    Embeds text with hashed character n-grams, images with colour thumbnails and audio
    with log band energies — all weight-free; the embedding is named in the fingerprint.
    Example: `- use: vendi`.
    """

    name = "vendi"
    modality = "any"
    higher_is_better = True
    value_range = (1.0, math.inf)  # 1: all outputs alike; at most the number of outputs

    def __init__(self) -> None:
        self._embedding = "auto"
        self._embedded: tuple[tuple, np.ndarray] | None = None  # (state, vectors) of the last compute

    def _vectors(self, state: tuple) -> np.ndarray:
        from .embeddings import embed

        # compute and the set bootstrap embed the same state back to back: do it once.
        if self._embedded is None or self._embedded[0] is not state:
            vectors, self._embedding = embed(list(state))
            self._embedded = (state, vectors)
        return self._embedded[1]

    def compute(self, state: tuple) -> dict[str, float]:
        if not state:
            return {self.name: float("nan")}
        return {self.name: vendi_score(self._vectors(state))}

    def set_resampler(self, state: tuple) -> SetResampler | NotResampled:
        """Outputs resampled with replacement; a replicate is the Vendi score of the drawn
        multiset. A drawn-twice output is one item with twice the weight (the similarity
        matrix gains an identical row and column), so duplicates add weight, not
        diversity: a replicate of N all-different outputs holds ~63% of them, unevenly
        weighted, and scores ~0.57 N. When most outputs differ the interval therefore sits
        below the point estimate; it shows how much the score depends on which outputs
        were drawn, not a shift-free range around it."""
        if len(state) < 2:
            return NotResampled("fewer than 2 outputs")
        vectors = self._vectors(state)
        n, dim = vectors.shape
        small = min(n, dim)
        return ResampledRows(vectors, vendi_score, flops=2.0 * n * dim * small + 4.0 * small**3)

    def fingerprint(self) -> str:
        return fingerprint(self.name, kernel="cosine", embedding=self._embedding)

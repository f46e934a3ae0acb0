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


# (runs of distinct n-grams, n-gram count, token count)
DistinctState = tuple[tuple[frozenset, ...], int, int]


def _compacted(runs: tuple[frozenset, ...]) -> tuple[frozenset, ...]:
    """Runs of n-gram sets kept log-structured: the newest run is merged into the one
    before it while it is at least half that size. A batch then costs its own size, not
    a copy of every n-gram so far (which made distinct-n quadratic in the batches), and
    there are O(log n) runs, so compute's union stays cheap."""
    runs = list(runs)
    while len(runs) >= 2 and 2 * len(runs[-1]) >= len(runs[-2]):
        last = runs.pop()
        runs[-1] = runs[-1] | last
    return tuple(runs)


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

    def init(self) -> DistinctState:
        return ((), 0, 0)  # n-gram runs (see _compacted), n-gram count, token count

    def update(self, state: DistinctState, outputs: Sequence[Any], targets: Sequence[Any]) -> DistinctState:
        batch: set[tuple[str, ...]] = set()
        grams_total, tokens_total = state[1], state[2]
        for text in _texts(outputs):
            words = tokens(text, self.tokenize)
            grams = [tuple(words[i : i + self.n]) for i in range(len(words) - self.n + 1)]
            batch.update(grams)
            grams_total += len(grams)
            tokens_total += len(words)
        return (_compacted(state[0] + (frozenset(batch),)), grams_total, tokens_total)

    def merge(self, a: DistinctState, b: DistinctState) -> DistinctState:
        return (_compacted(a[0] + b[0]), a[1] + b[1], a[2] + b[2])

    def compute(self, state: DistinctState) -> dict[str, float]:
        total = state[2] if self.per == "tokens" else state[1]
        distinct = len(frozenset().union(*state[0]))
        return {self.name: distinct / total if total else float("nan")}

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
    """Self-BLEU (Zhu et al. 2018, Texygen): the mean BLEU of each output against all the
    other outputs as references; lower = more diverse. On the 0-100 scale (Texygen prints
    0-1: divide by 100).

    `bleu: texygen` (default) equals Texygen's `SelfBleu`: nltk `sentence_bleu` with uniform
    weights up to `n` (default 3, Texygen's `gram`) and `SmoothingFunction().method1`.
    Texygen splits words with nltk's `word_tokenize`, which needs a data download; here
    `tokenize` is `whitespace` (default), `char` or `zh` (tokenize.py), so where punctuation
    touches words ("warm." vs "warm .") the value can differ from Texygen's.
    `bleu: sacrebleu`: sacrebleu sentence BLEU with effective order, order `n` (default 4)
    and sacrebleu's tokenizers (`13a` default, `intl`, or `whitespace`/`char`/`zh`).
    The cost is quadratic: above `max_outputs` (default 500, Texygen's `sample_size`) a
    seeded sample of that many outputs is scored, each against the other sampled outputs,
    as Texygen scores its first 500; the result's note says so. `max_outputs: null` scores all.

    Example: `- use: self_bleu` or `args: {tokenize: zh, max_outputs: 1000}`.
    """

    name = "self_bleu"
    modality = "text"
    higher_is_better = False
    value_range = (0.0, 100.0)

    _SACRE_TOKENIZERS = {"whitespace": "none", "char": "char", "zh": "zh", "13a": "13a", "intl": "intl"}

    def __init__(self, bleu: Literal["texygen", "sacrebleu"] = "texygen", n: int | None = None,
                 tokenize: Literal["whitespace", "char", "zh", "13a", "intl"] | None = None,
                 max_outputs: int | None = 500, seed: int = 0):
        if bleu not in ("texygen", "sacrebleu"):
            raise ValueError("bleu must be 'texygen' (Zhu et al. 2018, nltk) or 'sacrebleu'")
        n = n if n is not None else (3 if bleu == "texygen" else 4)
        if not isinstance(n, int) or not 1 <= n <= 4:
            raise ValueError("n must be between 1 and 4")
        tokenize = tokenize or ("whitespace" if bleu == "texygen" else "13a")
        allowed = TOKENIZERS if bleu == "texygen" else tuple(self._SACRE_TOKENIZERS)
        if tokenize not in allowed:
            raise ValueError(f"tokenize must be one of {', '.join(allowed)} with bleu: {bleu}")
        if max_outputs is not None and (not isinstance(max_outputs, int) or max_outputs < 2):
            raise ValueError("max_outputs must be at least 2, or null for no cap")
        self.bleu, self.n, self.tokenize, self.max_outputs, self.seed = bleu, n, tokenize, max_outputs, seed
        self.note: str | None = None  # set by compute when it scored a sample

    def _texygen_scores(self, texts: list[str]) -> list[float]:
        import warnings

        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
        words = [tokens(t, self.tokenize) for t in texts]  # type: ignore[arg-type]
        weights = tuple(1.0 / self.n for _ in range(self.n))
        smoothing = SmoothingFunction().method1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # nltk warns on every zero n-gram count (short outputs)
            return [100.0 * sentence_bleu(words[:i] + words[i + 1 :], hyp, weights, smoothing_function=smoothing)
                    for i, hyp in enumerate(words)]

    def _sacrebleu_scores(self, texts: list[str]) -> list[float]:
        from sacrebleu.metrics import BLEU

        bleu = BLEU(effective_order=True, max_ngram_order=self.n, tokenize=self._SACRE_TOKENIZERS[self.tokenize])
        return [bleu.sentence_score(t, texts[:i] + texts[i + 1 :]).score for i, t in enumerate(texts)]

    def compute(self, state: tuple) -> dict[str, float]:
        import random

        texts = _texts(state)
        self.note = None
        if len(texts) < 2:
            return {self.name: float("nan")}
        if self.max_outputs is not None and len(texts) > self.max_outputs:
            # Sorted first, so the sample does not depend on the order batches arrived in.
            texts = random.Random(self.seed).sample(sorted(texts), self.max_outputs)
            self.note = (f"{self.max_outputs} of {len(state)} outputs sampled (seed {self.seed}), "
                         "each scored against the other sampled outputs (max_outputs)")
        scores = self._texygen_scores(texts) if self.bleu == "texygen" else self._sacrebleu_scores(texts)
        return {self.name: math.fsum(scores) / len(scores)}

    def fingerprint(self) -> str:
        if self.bleu == "texygen":
            impl = dict(bleu="texygen-sentence_bleu", smooth="method1", nltk=package_version("nltk"))
        else:
            impl = dict(bleu="sacrebleu-sentence|effective_order", sacrebleu=package_version("sacrebleu"))
        return fingerprint(self.name, n=self.n, tok=self.tokenize, max_outputs=self.max_outputs, seed=self.seed, **impl)


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

    `embedding: auto` (default) embeds text with hashed character n-grams, images with
    colour thumbnails and audio with log band energies, all weight-free; `embedding:
    minilm` embeds text with all-MiniLM-L6-v2 sentence embeddings (the `text-embed`
    extra; its sha256 goes into the fingerprint). The embedding is named in the fingerprint.
    Example: `- use: vendi` or `{use: vendi, args: {embedding: minilm}}`.
    """

    name = "vendi"
    modality = "any"
    higher_is_better = True
    value_range = (1.0, math.inf)  # 1: all outputs alike; at most the number of outputs

    def __init__(self, embedding: Literal["auto", "minilm"] = "auto") -> None:
        if embedding not in ("auto", "minilm"):
            raise ValueError("embedding must be 'auto' (weight-free) or 'minilm' (all-MiniLM-L6-v2)")
        if embedding == "minilm":
            from .minilm import require_extra

            require_extra()
        self.embedding = embedding
        self._embedding = embedding
        self._embedded: tuple[tuple, np.ndarray] | None = None  # (state, vectors) of the last compute

    def _vectors(self, state: tuple) -> np.ndarray:
        from .embeddings import embed

        # compute and the set bootstrap embed the same state back to back: do it once.
        if self._embedded is None or self._embedded[0] is not state:
            vectors, self._embedding = embed(list(state), embedding=self.embedding)
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
        if self.embedding == "minilm":
            from .minilm import NAME, WEIGHTS_SHA256

            return fingerprint(self.name, kernel="cosine", embedding=NAME, sha256=WEIGHTS_SHA256)
        return fingerprint(self.name, kernel="cosine", embedding=self._embedding)

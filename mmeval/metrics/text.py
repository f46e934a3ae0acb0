"""Corpus BLEU and chrF through sacrebleu, on its 0-100 scale.

The state is the sum of sacrebleu's per-segment sufficient statistics (n-gram matches
and totals, lengths), exactly what `corpus_score` sums before scoring, so batching and
sharding do not change the value. The fingerprint carries sacrebleu's own signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from ..errors import InputError
from .base import check_lengths, fingerprint


def _text(value: Any, role: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{role} {value!r} is not text")
    return value


class _SacreMetric:
    modality = "text"
    higher_is_better = True
    value_range = (0.0, 100.0)  # sacrebleu's scale
    name = ""

    def _make(self) -> Any:
        raise NotImplementedError

    def __init__(self) -> None:
        self._metric = self._make()
        # sacrebleu learns the reference count from the first corpus; one reference each.
        self._metric._extract_corpus_statistics(["a"], [["a"]])

    def init(self) -> tuple[list[float], int]:
        return ([], 0)

    def update(self, state: tuple[list[float], int], outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[list[float], int]:
        check_lengths(outputs, targets)
        hyps = [_text(o, "output") for o in outputs]
        refs = [_text(t, "target") for t in targets]
        segment_stats = self._metric._extract_corpus_statistics(hyps, [refs])
        summed, n = state
        for stats in segment_stats:
            summed = [a + b for a, b in zip(summed, stats)] if summed else list(stats)
        return (summed, n + len(hyps))

    def merge(self, a: tuple[list[float], int], b: tuple[list[float], int]) -> tuple[list[float], int]:
        if not a[0] or not b[0]:
            return (a[0] or b[0], a[1] + b[1])
        return ([x + y for x, y in zip(a[0], b[0])], a[1] + b[1])

    def compute(self, state: tuple[list[float], int]) -> dict[str, float]:
        if not state[1]:
            return {self.name: float("nan")}
        return {self.name: float(self._metric._compute_score_from_stats(state[0]).score)}

    def fingerprint(self) -> str:
        return fingerprint(self.name, sacrebleu=str(self._metric.get_signature()))


class BLEU(_SacreMetric):
    """Corpus BLEU (sacrebleu defaults: 13a tokenizer, exponential smoothing).

    Example: `- use: bleu` or `args: {tokenize: intl, lowercase: true}`.
    """

    name = "bleu"

    def __init__(self, tokenize: Literal["13a", "intl", "char", "none", "zh", "ja-mecab", "ko-mecab", "flores101", "flores200"] = "13a", lowercase: bool = False, smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp"):
        self.tokenize, self.lowercase, self.smooth_method = tokenize, lowercase, smooth_method
        super().__init__()

    def _make(self) -> Any:
        from sacrebleu.metrics import BLEU as SacreBLEU

        return SacreBLEU(tokenize=self.tokenize, lowercase=self.lowercase, smooth_method=self.smooth_method)


class CHRF(_SacreMetric):
    """Corpus chrF (sacrebleu; `word_order: 2` gives chrF++).

    Example: `- use: chrf` with `args: {word_order: 2}`.
    """

    name = "chrf"

    def __init__(self, char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False):
        self.char_order, self.word_order, self.beta, self.lowercase = char_order, word_order, beta, lowercase
        super().__init__()

    def _make(self) -> Any:
        from sacrebleu.metrics import CHRF as SacreCHRF

        return SacreCHRF(char_order=self.char_order, word_order=self.word_order, beta=self.beta, lowercase=self.lowercase)

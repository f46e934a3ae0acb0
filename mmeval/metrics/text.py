"""Corpus BLEU, chrF and TER through sacrebleu (its 0-100 scale), and ROUGE-L through rouge-score.

A target is one reference string or a list of them (several references for that sample).
The sacrebleu state is the sum of sacrebleu's per-segment sufficient statistics (n-gram
matches and totals, lengths; edits and reference lengths for TER), each segment scored
against its own references, exactly what `corpus_score` sums before scoring, so batching
and sharding do not change the value. The fingerprint carries sacrebleu's own signature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from ..errors import InputError
from .base import check_lengths, fingerprint, package_version
from .mean import MeanOfScores
from .tokenize import TOKENIZERS, TokenizerObject

# (summed segment statistics, segment count, the reference counts seen)
SacreState = tuple[list[float], int, frozenset]


def as_text(value: Any, role: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{role} {value!r} is not text")
    return value


def references(value: Any) -> list[str]:
    """A target as its list of references: a string is one, a list of strings several."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value:
        return [as_text(ref, "reference") for ref in value]
    raise InputError(f"target {value!r} is not text or a non-empty list of texts")


class _SacreMetric:
    modality = "text"
    higher_is_better = True
    value_range = (0.0, 100.0)  # sacrebleu's scale
    name = ""

    def _make(self) -> Any:
        raise NotImplementedError

    def __init__(self) -> None:
        try:
            self._metric = self._make()
        except (KeyError, AssertionError, RuntimeError, ImportError) as exc:
            raise ValueError(f"{self.name}: sacrebleu refused the arguments: {str(exc).strip()}") from None
        # sacrebleu's signature names the reference count; compute records the counts it saw.
        self._ref_counts: frozenset = frozenset()

    def init(self) -> SacreState:
        return ([], 0, frozenset())

    def update(self, state: SacreState, outputs: Sequence[Any], targets: Sequence[Any]) -> SacreState:
        segments, counts = self._segment_stats(outputs, targets)
        summed, n, seen = state
        for stats in segments:
            summed = [a + b for a, b in zip(summed, stats)] if summed else list(stats)
        return (summed, n + len(segments), seen | counts)

    def _segment_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> tuple[list[list[float]], frozenset]:
        """sacrebleu's statistics of each segment, and the reference counts seen."""
        check_lengths(outputs, targets)
        if not outputs:
            return [], frozenset()
        hyps = [as_text(o, "output") for o in outputs]
        refs = [references(t) for t in targets]
        # sacrebleu takes reference streams; a segment with fewer references is padded
        # with None, which sacrebleu drops, so each segment is scored against its own.
        width = max(len(r) for r in refs)
        streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
        return list(self._metric._extract_corpus_statistics(hyps, streams)), frozenset(len(r) for r in refs)

    # Per-sample statistics (see metrics/base.py): sacrebleu's segment statistics, then a
    # column of ones (the segment count). The reference counts are kept on the metric.
    def sample_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> Any:
        import numpy as np

        segments, counts = self._segment_stats(outputs, targets)
        self._ref_counts = self._ref_counts | counts
        return np.array([[*row, 1] for row in segments], dtype=np.float64).reshape(len(segments), -1)

    def state_stats(self, state: SacreState) -> Any:
        import numpy as np

        return np.array([*state[0], state[1]], dtype=np.float64)

    def stats_state(self, total: Any) -> SacreState:
        *stats, n = (int(x) if float(x).is_integer() else float(x) for x in total.tolist())
        return (stats, n, self._ref_counts)

    def stats_values(self, totals: Any) -> Any:
        import numpy as np

        score = self._metric._compute_score_from_stats
        return np.array([score(row[:-1].tolist()).score if row[-1] else np.nan for row in totals], dtype=np.float64)

    def merge(self, a: SacreState, b: SacreState) -> SacreState:
        if not a[0] or not b[0]:
            summed = a[0] or b[0]
        else:
            summed = [x + y for x, y in zip(a[0], b[0])]
        return (summed, a[1] + b[1], a[2] | b[2])

    def compute(self, state: SacreState) -> dict[str, float]:
        # Resampled states are subsets of the run's: their union is the run's counts.
        self._ref_counts = self._ref_counts | state[2]
        if not state[1]:
            return {self.name: float("nan")}
        return {self.name: float(self._metric._compute_score_from_stats(state[0]).score)}

    def fingerprint(self) -> str:
        # nrefs as sacrebleu writes it: the count, or "var" when samples differ (1 until computed).
        counts = self._ref_counts or frozenset({1})
        self._metric.num_refs = next(iter(counts)) if len(counts) == 1 else -1
        return fingerprint(self.name, sacrebleu=str(self._metric.get_signature()))


class BLEU(_SacreMetric):
    """Corpus BLEU, equal to sacrebleu's `corpus_bleu` (defaults: 13a tokenizer, exponential
    smoothing); a list target is several references. `tokenize: zh` is sacrebleu's Chinese
    tokenizer, the convention for Chinese BLEU (`ja-mecab`/`ko-mecab` need sacrebleu[ja]/[ko]).

    Example: `- use: bleu` or `args: {tokenize: zh, lowercase: true}`.
    """

    name = "bleu"

    def __init__(self, tokenize: Literal["13a", "intl", "char", "none", "zh", "ja-mecab", "ko-mecab"] = "13a", lowercase: bool = False, smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp"):
        self.tokenize, self.lowercase, self.smooth_method = tokenize, lowercase, smooth_method
        super().__init__()

    def _make(self) -> Any:
        from sacrebleu.metrics import BLEU as SacreBLEU

        return SacreBLEU(tokenize=self.tokenize, lowercase=self.lowercase, smooth_method=self.smooth_method)


class CHRF(_SacreMetric):
    """Corpus chrF, equal to sacrebleu's `corpus_chrf` (`word_order: 2` gives chrF++); a list
    target is several references. Characters need no tokenizer, so Chinese copy works as is.

    Example: `- use: chrf` with `args: {word_order: 2}`.
    """

    name = "chrf"

    def __init__(self, char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False):
        self.char_order, self.word_order, self.beta, self.lowercase = char_order, word_order, beta, lowercase
        super().__init__()

    def _make(self) -> Any:
        from sacrebleu.metrics import CHRF as SacreCHRF

        return SacreCHRF(char_order=self.char_order, word_order=self.word_order, beta=self.beta, lowercase=self.lowercase)


class TER(_SacreMetric):
    """Corpus translation edit rate, equal to sacrebleu's `corpus_ter`: total edits over
    total (average) reference length, x100; lower is better and it exceeds 100 when the
    output needs more edits than the reference has words. A list target is several
    references (fewest edits, mean reference length). sacrebleu's defaults: case-insensitive.

    Example: `- use: ter` with `args: {case_sensitive: true, asian_support: true}`.
    """

    name = "ter"
    higher_is_better = False
    value_range = (0.0, math.inf)

    def __init__(self, normalized: bool = False, no_punct: bool = False, asian_support: bool = False, case_sensitive: bool = False):
        self.normalized, self.no_punct = normalized, no_punct
        self.asian_support, self.case_sensitive = asian_support, case_sensitive
        super().__init__()

    def _make(self) -> Any:
        from sacrebleu.metrics import TER as SacreTER

        return SacreTER(normalized=self.normalized, no_punct=self.no_punct, asian_support=self.asian_support, case_sensitive=self.case_sensitive)


class RougeL(MeanOfScores):
    """Mean sentence ROUGE-L (longest common subsequence) F-measure, equal to the mean of
    rouge-score's `RougeScorer(['rougeL']).score` over samples (its corpus convention, as
    in its `scoring.BootstrapAggregator` mid value), on the 0-1 scale; `measure:` picks
    `precision` or `recall` instead. A list target is several references, scored with
    rouge-score's `score_multi` (the reference with the highest F-measure).
    `tokenize: rouge_score` (default) is rouge-score's own tokenizer: lowercase, ASCII
    letters and digits only, so it drops Chinese and other non-ASCII text entirely;
    `whitespace`, `char` or `zh` (sacrebleu's Chinese tokenizer) keep it, with no
    lowercasing. `use_stemmer` (Porter) works with rouge-score's tokenizer only.

    Example: `- use: rouge_l` or `args: {tokenize: zh}`.
    """

    name = "rouge_l"
    modality = "text"
    higher_is_better = True
    value_range = (0.0, 1.0)

    def __init__(self, tokenize: Literal["rouge_score", "whitespace", "char", "zh"] = "rouge_score", use_stemmer: bool = False,
                 measure: Literal["fmeasure", "precision", "recall"] = "fmeasure"):
        if tokenize != "rouge_score" and tokenize not in TOKENIZERS:
            raise ValueError(f"tokenize must be one of rouge_score, {', '.join(TOKENIZERS)}")
        if use_stemmer and tokenize != "rouge_score":
            raise ValueError("use_stemmer works with tokenize: rouge_score only (rouge-score stems inside its own tokenizer)")
        if measure not in ("fmeasure", "precision", "recall"):
            raise ValueError("measure must be fmeasure, precision or recall")
        self.tokenize, self.use_stemmer, self.measure = tokenize, use_stemmer, measure
        try:  # when the suite loads, so a missing extra stops the run before any model runs
            from rouge_score.rouge_scorer import RougeScorer
        except ImportError:
            from ..errors import MissingExtra

            raise MissingExtra("rouge-score", "text") from None
        tokenizer = None if tokenize == "rouge_score" else TokenizerObject(tokenize)
        self._scorer = RougeScorer(["rougeL"], use_stemmer=use_stemmer, tokenizer=tokenizer)

    def _score(self, hyp: str, refs: list[str]) -> float:
        scores = self._scorer.score(refs[0], hyp) if len(refs) == 1 else self._scorer.score_multi(refs, hyp)
        return float(getattr(scores["rougeL"], self.measure))

    def sample_scores(self, outputs: Sequence[Any], targets: Sequence[Any]) -> list[float]:
        check_lengths(outputs, targets)
        return [self._score(as_text(output, "output"), references(target)) for output, target in zip(outputs, targets)]

    def fingerprint(self) -> str:
        return fingerprint(self.name, measure=self.measure, tok=self.tokenize, stem=self.use_stemmer, agg="mean",
                           multi="max_f", rouge_score=package_version("rouge-score"))


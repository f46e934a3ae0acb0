"""Human ratings as numbers: preference (win rate, Bradley–Terry), criterion means, agreement.

An answer is one rater's judgement of one sample: which output they preferred (`a`, `b`
or `tie`, in model terms, after un-blinding) and a score per criterion. Intervals come from
a seeded bootstrap over *samples* (a sample's answers from all its raters resample
together: raters of one sample are not independent evidence) and are clipped to each
value's range. Agreement is Krippendorff's alpha from the `krippendorff` package:
nominal for preferences, ordinal for criterion scores.

    answers = [Answer("p1", "ann", "a", {"fluency": 4}), Answer("p1", "bob", "tie", {"fluency": 5})]
    preference(answers).win_rate          # a's wins + half the ties, over all answers
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError

CHOICES = ("a", "b", "tie")


@dataclass(frozen=True)
class Answer:
    sample_id: str
    rater: str
    choice: str  # "a" | "b" | "tie": the model preferred, not the side it was shown on
    scores: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Estimate:
    value: float
    ci_low: float
    ci_high: float
    n: int  # answers behind it


@dataclass(frozen=True)
class Preference:
    win_rate: Estimate  # of model a, ties counted half
    strength: Estimate  # Bradley–Terry log-strength of a over b (0: even; ties as half wins)
    agreement: float | None  # Krippendorff's alpha (nominal) over raters; None where undefined


def bradley_terry(n_items: int, wins: np.ndarray, iterations: int = 10_000, tol: float = 1e-10) -> np.ndarray:
    """Log-strengths (mean 0) from `wins[i, j]` = times i beat j (fractional for ties), by
    Hunter's (2004) MM iterations: p_i <- W_i / sum_j n_ij / (p_i + p_j)."""
    wins = np.asarray(wins, dtype=float)
    if wins.shape != (n_items, n_items):
        raise ValueError(f"wins must be {n_items}x{n_items}")
    games = wins + wins.T
    won = wins.sum(axis=1)
    if np.any(won == 0) or np.any(won == games.sum(axis=1)):
        raise InputError("Bradley-Terry needs every model to win and lose at least once (count ties as half)")
    p = np.ones(n_items)
    for _ in range(iterations):
        denominators = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = won / denominators
        new /= math.exp(np.log(new).mean())  # fix the scale: log-strengths sum to 0
        if np.max(np.abs(new - p)) < tol:
            p = new
            break
        p = new
    return np.log(p)


def preference(answers: Sequence[Answer], resamples: int = 1000, seed: int = 0) -> Preference:
    """Win rate of model a and its Bradley–Terry log-strength over b, with bootstrap intervals."""
    if not answers:
        raise InputError("no ratings to summarize")
    bad = [a.choice for a in answers if a.choice not in CHOICES]
    if bad:
        raise InputError(f"rating choice {bad[0]!r} is not one of {', '.join(CHOICES)}")
    samples = _by_sample(answers)
    points = {sid: np.array([_points(a.choice) for a in group]) for sid, group in samples.items()}
    wins = np.array([points[sid].sum() for sid in samples])  # a's points per sample
    counts = np.array([len(points[sid]) for sid in samples])
    rate = wins.sum() / counts.sum()
    draws = np.random.default_rng(seed).integers(0, len(samples), size=(resamples, len(samples)))
    rates = wins[draws].sum(axis=1) / counts[draws].sum(axis=1)
    low, high = np.quantile(rates, [0.025, 0.975])
    low, high = float(max(low, 0.0)), float(min(high, 1.0))
    # The strength is a monotone function of the win rate, so its interval is the rate's,
    # transformed: an end at rate 0 or 1 is -inf/+inf (unbounded), never dropped resamples.
    return Preference(
        Estimate(float(rate), low, high, int(counts.sum())),
        Estimate(_log_odds(rate), _log_odds(low), _log_odds(high), int(counts.sum())),
        agreement(answers, lambda a: CHOICES.index(a.choice), "nominal"),
    )


def criterion_means(answers: Sequence[Answer], scale: dict[str, int], resamples: int = 1000, seed: int = 0) -> dict[str, Estimate]:
    """Per criterion: the mean score (1..scale) over answers, bootstrap interval over samples."""
    out = {}
    samples = _by_sample(answers)
    order = list(samples)
    rng = np.random.default_rng(seed)
    for name, top in scale.items():
        per_sample = [[a.scores[name] for a in samples[sid] if name in a.scores] for sid in order]
        for scores in per_sample:
            outside = [s for s in scores if not (isinstance(s, int) and 1 <= s <= top)]
            if outside:
                raise InputError(f"criterion {name!r}: score {outside[0]!r} is outside 1..{top}")
        sums = np.array([sum(s) for s in per_sample], dtype=float)
        counts = np.array([len(s) for s in per_sample], dtype=float)
        if counts.sum() == 0:
            continue
        draws = rng.integers(0, len(order), size=(resamples, len(order)))
        with np.errstate(invalid="ignore"):
            means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
        means = means[np.isfinite(means)]
        low, high = np.quantile(means, [0.025, 0.975])
        out[name] = Estimate(float(sums.sum() / counts.sum()), float(max(low, 1)), float(min(high, top)), int(counts.sum()))
    return out


def agreement(answers: Sequence[Answer], value: Any, level: str) -> float | None:
    """Krippendorff's alpha of `value(answer)` over a raters x samples table (missing cells
    where a rater did not rate a sample); None when it is undefined: no sample with two
    raters, or no variation among the values they share (Krippendorff's D_e = 0)."""
    try:
        import krippendorff
    except ImportError:
        from ..errors import MissingExtra

        raise MissingExtra("krippendorff", "review") from None

    raters = sorted({a.rater for a in answers})
    samples = sorted({a.sample_id for a in answers})
    if len(raters) < 2 or not any(len({a.rater for a in group}) > 1 for group in _by_sample(answers).values()):
        return None
    table = np.full((len(raters), len(samples)), np.nan)
    row, column = {r: i for i, r in enumerate(raters)}, {s: j for j, s in enumerate(samples)}
    for a in answers:
        table[row[a.rater], column[a.sample_id]] = value(a)
    pairable = table[:, (~np.isnan(table)).sum(axis=0) > 1]
    if len(np.unique(pairable[~np.isnan(pairable)])) < 2:
        return None  # no variation among the values raters share: alpha is undefined, not 1
    alpha = float(krippendorff.alpha(reliability_data=table, level_of_measurement=level))
    return alpha if math.isfinite(alpha) else None


def _by_sample(answers: Sequence[Answer]) -> dict[str, list[Answer]]:
    groups: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        groups[a.sample_id].append(a)
    return dict(groups)


def _points(choice: str) -> float:
    return {"a": 1.0, "b": 0.0, "tie": 0.5}[choice]


def _log_odds(rate: float) -> float:
    """The two-model Bradley–Terry log-strength of a over b: log(p / (1 - p))."""
    if rate <= 0.0:
        return -math.inf
    if rate >= 1.0:
        return math.inf
    return math.log(rate / (1.0 - rate))

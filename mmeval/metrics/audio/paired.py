"""The mean of a per-pair audio score (PESQ, STOI, SI-SDR, audio_similarity), with the two
edge cases generated audio brings: silent or constant clips, and pairs of different lengths.

For each pair: both clips are read, brought to one rate (`_one_rate`: the native metrics
refuse differing rates) and to one length by the metric's `length:` argument (error |
trim | pad, `fit_lengths`). A pair with a silent or constant clip has nothing to measure: it
scores the metric's `_flat_score` without calling the library, and a pair the library
cannot score (`_score` returns None) scores `invalid_score`; both are counted in
`<name>_invalid`. The state is (sum, pairs, invalid pairs, pairs whose length changed),
merged by addition, so batching and sharding never change a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ...media.audio import Length, audio_name, check_length, fit_lengths, is_flat, read_audio, same_rate
from ..base import check_lengths
from ..mean import mean_values

State = tuple[float, int, int, int]


class PairedAudio:
    modality: ClassVar[str] = "audio"
    higher_is_better: ClassVar[bool] = True
    name: ClassVar[str] = ""
    extra_directions: ClassVar[dict[str, bool]] = {"invalid": False}
    invalid_score: ClassVar[float] = 0.0
    invalid_text: ClassVar[str] = ""  # how the note describes an invalid pair's score
    invalid_reason: ClassVar[str] = "a silent or constant clip"
    note: str | None = None  # set by compute: invalid pairs and pairs whose length changed

    def __init__(self, length: Length = "trim"):
        self.length = check_length(self.name, length)

    def _one_rate(self, a: np.ndarray, rate_a: int, b: np.ndarray, rate_b: int, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, int]:
        return a, b, same_rate(rate_a, rate_b, names)

    def _check_rate(self, rate: int, names: tuple[str, str]) -> None:
        """Refuse a rate the metric cannot score at (checked before any pair is skipped as flat)."""

    def _flat_score(self, flat_output: bool, flat_target: bool) -> float:
        return self.invalid_score

    def _score(self, output: np.ndarray, target: np.ndarray, rate: int, names: tuple[str, str]) -> float | None:
        raise NotImplementedError

    def score_pair(self, output: Any, target: Any) -> tuple[float, bool, bool]:
        """(score, invalid, length changed) of one pair."""
        names = (audio_name(output), audio_name(target))
        (a, rate_a), (b, rate_b) = read_audio(output), read_audio(target)
        flat_a, flat_b = is_flat(a), is_flat(b)  # before resampling, whose edges would hide a constant clip
        a, b, rate = self._one_rate(a, rate_a, b, rate_b, names)
        self._check_rate(rate, names)
        a, b, fitted = fit_lengths(a, b, self.length, names, rate)
        flat_a, flat_b = flat_a or is_flat(a), flat_b or is_flat(b)  # trimming may leave only silence
        if flat_a or flat_b:
            return self._flat_score(flat_a, flat_b), True, fitted
        value = self._score(a, b, rate, names)
        if value is None or not np.isfinite(value):
            return self.invalid_score, True, fitted
        return float(value), False, fitted

    def init(self) -> State:
        return (0.0, 0, 0, 0)

    def update(self, state: State, outputs: Sequence[Any], targets: Sequence[Any]) -> State:
        check_lengths(outputs, targets)
        scored = [self.score_pair(o, t) for o, t in zip(outputs, targets)]
        return (state[0] + sum(s for s, _, _ in scored), state[1] + len(scored),
                state[2] + sum(bad for _, bad, _ in scored), state[3] + sum(fit for _, _, fit in scored))

    def merge(self, a: State, b: State) -> State:
        return (a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3])

    # Per-sample statistics (see metrics/base.py): (score, 1, invalid, length changed).
    def sample_stats(self, outputs: Sequence[Any], targets: Sequence[Any]) -> np.ndarray:
        check_lengths(outputs, targets)
        scored = [self.score_pair(o, t) for o, t in zip(outputs, targets)]
        return np.array([(s, 1, bad, fit) for s, bad, fit in scored], dtype=np.float64).reshape(-1, 4)

    def state_stats(self, state: State) -> np.ndarray:
        return np.array(state, dtype=np.float64)

    def stats_state(self, total: np.ndarray) -> State:
        return (float(total[0]), int(total[1]), int(total[2]), int(total[3]))

    def stats_values(self, totals: np.ndarray) -> np.ndarray:
        return mean_values(totals)  # columns (score sum, pairs, ...)

    def compute(self, state: State) -> dict[str, float]:
        total, pairs, invalid, fitted = state
        notes = []
        if invalid:
            notes.append(f"{invalid} of {pairs} pairs have {self.invalid_reason} and score {self.invalid_text}")
        if fitted:
            how = "trimmed to the shorter clip" if self.length == "trim" else "zero-padded to the longer clip"
            notes.append(f"{fitted} of {pairs} pairs differ in length and were {how} (length: {self.length})")
        self.note = "; ".join(notes) or None
        return {self.name: total / pairs if pairs else float("nan"), f"{self.name}_invalid": float(invalid)}

"""Score a detector on a planted-PII corpus: per-entity precision/recall, clean-text flag rate,
and whether any planted value survives anonymization.

A finding is a true positive when it overlaps a planted value of the same entity type;
each planted value counts once. Findings in PII-free texts are false positives.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .corpus import CorpusText


@dataclass
class Evaluation:
    tp: Counter = field(default_factory=Counter)
    fp: Counter = field(default_factory=Counter)
    fn: Counter = field(default_factory=Counter)
    survived: Counter = field(default_factory=Counter)  # planted values still present after anonymization
    clean_texts: int = 0
    clean_flagged: int = 0
    fp_examples: list[tuple[str, str, int, int]] = field(default_factory=list)  # (id, entity, start, end)

    def precision(self, entity: str) -> float:
        found = self.tp[entity] + self.fp[entity]
        return self.tp[entity] / found if found else 1.0

    def recall(self, entity: str) -> float:
        planted = self.tp[entity] + self.fn[entity]
        return self.tp[entity] / planted if planted else 1.0

    @property
    def clean_flag_rate(self) -> float:
        return self.clean_flagged / self.clean_texts if self.clean_texts else 0.0

    def table(self) -> list[dict[str, Any]]:
        entities = sorted(set(self.tp) | set(self.fp) | set(self.fn))
        return [
            {"entity": e, "planted": self.tp[e] + self.fn[e], "tp": self.tp[e], "fp": self.fp[e], "fn": self.fn[e],
             "precision": self.precision(e), "recall": self.recall(e), "survived": self.survived[e]}
            for e in entities
        ]


def evaluate(detector: Any, corpus: list[CorpusText], anonymizer: Any | None = None) -> Evaluation:
    ev = Evaluation()
    for item in corpus:
        spans = detector.analyze(item.text)
        matched: set[int] = set()
        for s in spans:
            hit = next((i for i, p in enumerate(item.planted)
                        if p.entity == s.entity and s.start < p.end and p.start < s.end), None)
            if hit is None:
                ev.fp[s.entity] += 1
                ev.fp_examples.append((item.id, s.entity, s.start, s.end))
            elif hit not in matched:
                matched.add(hit)
                ev.tp[s.entity] += 1
        for i, p in enumerate(item.planted):
            if i not in matched:
                ev.fn[p.entity] += 1
        if not item.planted:
            ev.clean_texts += 1
            ev.clean_flagged += bool(spans)
        if anonymizer is not None and item.planted:
            redacted = anonymizer.anonymize(item.text, spans)
            for p in item.planted:
                ev.survived[p.entity] += p.value in redacted
    return ev


def format_table(ev: Evaluation) -> str:
    lines = [f"{'entity':<14} {'planted':>7} {'tp':>5} {'fp':>4} {'fn':>4} {'precision':>9} {'recall':>7} {'survived':>8}"]
    for row in ev.table():
        lines.append(f"{row['entity']:<14} {row['planted']:>7} {row['tp']:>5} {row['fp']:>4} {row['fn']:>4} "
                     f"{row['precision']:>9.4f} {row['recall']:>7.4f} {row['survived']:>8}")
    lines.append(f"PII-free texts flagged: {ev.clean_flagged}/{ev.clean_texts} = {ev.clean_flag_rate:.4f}")
    return "\n".join(lines)

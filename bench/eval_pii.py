"""Per-entity precision/recall of mmeval's PII detector on the seeded synthetic corpus.

Run from the repository root:  python bench/eval_pii.py [--seed 0] [--n-pii 2000] [--n-clean 1000]
Prints the per-entity table, the PII-free flag rate and how many planted values survive
anonymization (`replace` operator). `--show-errors N` lists misses and false alarms;
`--baseline` scores plain presidio the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mmeval.privacy.anonymize import Anonymizer  # noqa: E402
from mmeval.privacy.corpus import build_corpus  # noqa: E402
from mmeval.privacy.detect import PiiDetector  # noqa: E402
from mmeval.privacy.ecommerce import Span, resolve_overlaps  # noqa: E402
from mmeval.privacy.evaluate import evaluate, format_table  # noqa: E402


class PlainPresidio:
    """Presidio's default English recognizers as a detector, for comparison (see bench_pii.py)."""

    def __init__(self) -> None:
        from bench_pii import plain_presidio

        from mmeval.privacy.detect import DEFAULT_ENTITIES

        self.engine, self.entities = plain_presidio(), list(DEFAULT_ENTITIES)

    def analyze(self, text: str) -> list[Span]:
        found = self.engine.analyze(text, language="en", entities=self.entities)
        return resolve_overlaps([Span(r.entity_type, r.start, r.end, r.score) for r in found])

    def describe(self) -> dict:
        return {"recognizers": [r.name for r in self.engine.registry.recognizers], "person_location": "none (no NER model)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-pii", type=int, default=2000)
    parser.add_argument("--n-clean", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--show-errors", type=int, default=0)
    parser.add_argument("--baseline", action="store_true",
                        help="score plain presidio (default recognizers, blank spaCy, no threshold) instead")
    args = parser.parse_args()
    corpus = build_corpus(args.seed, args.n_pii, args.n_clean)
    detector = PlainPresidio() if args.baseline else PiiDetector(threshold=args.threshold)
    began = time.perf_counter()
    ev = evaluate(detector, corpus, Anonymizer("replace"))
    seconds = time.perf_counter() - began
    planted = sum(len(t.planted) for t in corpus)
    print(f"corpus: seed {args.seed}, {args.n_pii} PII texts ({planted} planted values), {args.n_clean} PII-free texts")
    print(f"detectors: {detector.describe()['recognizers']}; PERSON/LOCATION: {detector.describe()['person_location']}")
    print(format_table(ev))
    print(f"({seconds:.1f} s for detection + anonymization)")
    if args.show_errors:
        by_id = {t.id: t for t in corpus}
        for cid, entity, start, end in ev.fp_examples[: args.show_errors]:
            print("FP", cid, entity, repr(by_id[cid].text[start:end]), "|", by_id[cid].text[:160])
        shown = 0
        for t in corpus:
            spans = detector.analyze(t.text)
            for p in t.planted:
                if not any(s.entity == p.entity and s.start < p.end and p.start < s.end for s in spans) and shown < args.show_errors:
                    shown += 1
                    print("FN", t.id, p.entity, repr(p.value), "|", t.text[:160])


if __name__ == "__main__":
    main()

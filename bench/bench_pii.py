"""Throughput of the `pii` gate vs a plain presidio `AnalyzerEngine.analyze` loop.

Run from the repository root:  python bench/bench_pii.py [--n-pii 2000] [--n-clean 1000] [--repeat 3]

Both sides see the same seeded corpus (mmeval.privacy.corpus) in the same process.
Baseline: presidio's default recognizers for English on the same blank-spaCy NLP engine
(its e-mail recognizer swapped for the offline one, so neither side touches the network),
one `analyze` call per text. Gate: `PiiGate(action="report")` over batches of 32 outputs.
Engine construction is excluded from both timings; the best of `--repeat` passes counts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmeval.gates.base import GateContext, GateItem  # noqa: E402
from mmeval.gates.pii import PiiGate  # noqa: E402
from mmeval.privacy.corpus import build_corpus  # noqa: E402
from mmeval.privacy.detect import BlankSpacyNlpEngine  # noqa: E402
from mmeval.privacy.recognizers import OfflineEmailRecognizer  # noqa: E402


def plain_presidio():
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=None)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    return AnalyzerEngine(nlp_engine=BlankSpacyNlpEngine.create(), registry=registry, supported_languages=["en"])


def best_rate(run, texts, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        run(texts)
        best = min(best, time.perf_counter() - began)
    return len(texts) / best


def suite_overhead(texts: list[str]) -> tuple[float, float]:
    """Seconds for `mmeval run` over the texts as replay outputs, without and with the gate."""
    import json
    import tempfile

    import yaml

    from mmeval.privacy.detect import build_analyzer
    from mmeval.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data.jsonl").write_text("".join(json.dumps({"id": str(i), "input": "", "target": t}) + "\n"
                                                 for i, t in enumerate(texts)))
        (root / "out.jsonl").write_text("".join(json.dumps({"id": str(i), "output": t}) + "\n" for i, t in enumerate(texts)))
        timings = []
        for gates in ([], [{"use": "pii", "args": {"action": "report"}}]):
            suite = {"version": 1, "name": "bench", "dataset": {"path": "data.jsonl"},
                     "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}},
                     "metrics": [{"use": "exact_match"}], "gates": gates}
            (root / "suite.yaml").write_text(yaml.safe_dump(suite))
            build_analyzer.cache_clear()  # the gated run pays for building its engine
            began = time.perf_counter()
            run(root / "suite.yaml", root / f"run{len(gates)}", progress=False)
            timings.append(time.perf_counter() - began)
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-pii", type=int, default=2000)
    parser.add_argument("--n-clean", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts = [t.text for t in build_corpus(args.seed, args.n_pii, args.n_clean)]

    engine = plain_presidio()
    engine.analyze(texts[0], language="en")  # warm caches outside the timing

    def baseline(batch):
        for text in batch:
            engine.analyze(text, language="en")

    gate = PiiGate(action="report")
    ctx = GateContext("bench", "", "bench", None, 0)

    def gated(batch):
        for i in range(0, len(batch), 32):
            gate([GateItem(str(j), "candidate", t) for j, t in enumerate(batch[i : i + 32])], ctx)

    gated(texts[:32])
    base_rate = best_rate(baseline, texts, args.repeat)
    gate_rate = best_rate(gated, texts, args.repeat)
    print(f"corpus: {len(texts)} texts (seed {args.seed}); best of {args.repeat} passes")
    print(f"presidio AnalyzerEngine.analyze loop ({len(engine.registry.recognizers)} default recognizers): {base_rate:8.1f} texts/s")
    print(f"mmeval pii gate (report mode, {len(gate.detector.describe()['recognizers'])} recognizers):          {gate_rate:8.1f} texts/s")
    print(f"speed-up: {gate_rate / base_rate:.2f}x")
    plain, gated_run = suite_overhead(texts)
    print(f"mmeval run over the corpus as replay outputs: {plain:.2f} s without the gate, {gated_run:.2f} s with it "
          f"(engine build included; {1000 * (gated_run - plain) / len(texts):.3f} ms per output)")


if __name__ == "__main__":
    main()

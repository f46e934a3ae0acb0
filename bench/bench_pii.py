"""Throughput of the `pii` gate vs a plain presidio `AnalyzerEngine.analyze` loop, same recognizers.

Run from the repository root:
    python bench/bench_pii.py [--n-pii 2000] [--n-clean 1000] [--repeat 3] [--threads N]

Both sides see the same seeded corpus (mmeval.privacy.corpus) in the same process.
Baseline: one `analyze` call per text on presidio's AnalyzerEngine with mmeval's own
recognizers (the engine `build_analyzer` returns: offline e-mail, card, phone, IBAN, IP,
SSN, URL, gazetteer names, over a blank-spaCy NLP engine) and mmeval's default entities,
so both sides run the same recognizers for the same entities. Gate: `PiiGate(action=
"report")` over batches of 32 outputs; what it adds is a cheap character pre-check per
entity, the e-commerce context rules and overlap resolution. For context only, a third
row: presidio's own default recognizers restricted to the same entities (its PERSON and
LOCATION come from spaCy NER, which a blank pipeline does not have, so it finds none).

Engine construction is excluded; each side gets one warm-up, then `--repeat` interleaved
passes (bench/timing.py); prints min and median, texts/s at the median and the ratio of
medians (baseline / mmeval, > 1 means mmeval is faster), then `mmeval run` over the corpus
as replay outputs without and with the gate, interleaved the same way.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads  # noqa: E402


def presidio_defaults(entities: list[str]):
    """presidio's predefined English recognizers for `entities`, e-mail swapped for the offline one."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    from mmeval.privacy.detect import BlankSpacyNlpEngine
    from mmeval.privacy.recognizers import OfflineEmailRecognizer

    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers(languages=["en"], nlp_engine=None)
    registry.remove_recognizer("EmailRecognizer")
    registry.add_recognizer(OfflineEmailRecognizer())
    active = registry.get_recognizers(language="en", entities=entities)
    engine = AnalyzerEngine(nlp_engine=BlankSpacyNlpEngine.create(), registry=registry, supported_languages=["en"])
    return engine, f"{len(active)} of presidio's {len(registry.recognizers)} default recognizers"


def throughput(texts: list[str], repeat: int) -> None:
    from mmeval.gates.base import GateContext, GateItem
    from mmeval.gates.pii import PiiGate

    gate = PiiGate(action="report")
    detector = gate.detector
    entities = list(detector.entities)
    engine = detector._engine  # the very AnalyzerEngine the gate calls, recognizers and all
    active = len(engine.registry.get_recognizers(language="en", entities=entities))
    defaults, defaults_label = presidio_defaults(entities)
    ctx = GateContext("bench", "", "bench", None, 0)

    def plain(analyzer):
        def run():
            return sum(1 for text in texts for r in analyzer.analyze(text, language="en", entities=entities)
                       if r.score >= detector.threshold)
        return run

    def gated():
        found = 0
        for i in range(0, len(texts), 32):
            decision = gate([GateItem(str(j), "candidate", t) for j, t in enumerate(texts[i : i + 32])], ctx)
            found += len(decision.findings)
        return found

    times = interleaved({"mmeval": gated, "presidio": plain(engine), "defaults": plain(defaults)}, repeat)
    n = len(texts)
    print(f"corpus: {n} texts; entities {', '.join(entities)}")
    print(line(f"presidio analyze loop, mmeval's {active} recognizers  ", times["presidio"], n, "texts")
          + f"; {times['presidio'].value} findings at score >= {detector.threshold}")
    print(line(f"mmeval pii gate (report), the same {active} recognizers", times["mmeval"], n, "texts")
          + f"; {times['mmeval'].value} findings after the context rules")
    print(f"speed-up over presidio with the same recognizers: {ratio(times['presidio'], times['mmeval'])}")
    print(line(f"context: {defaults_label} (those for the same entities)", times["defaults"], n, "texts")
          + f"; {times['defaults'].value} findings ({ratio(times['defaults'], times['mmeval'])} mmeval's time)")


def suite_overhead(texts: list[str], repeat: int) -> None:
    """`mmeval run` over the texts as replay outputs, without and with the gate."""
    import yaml

    from mmeval.privacy.detect import build_analyzer
    from mmeval.runner import run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "data.jsonl").write_text("".join(json.dumps({"id": str(i), "input": "", "target": t}) + "\n"
                                                 for i, t in enumerate(texts)))
        (root / "out.jsonl").write_text("".join(json.dumps({"id": str(i), "output": t}) + "\n" for i, t in enumerate(texts)))
        runs = itertools.count()

        def suite(gates: list) -> Callable[[], None]:
            path = root / f"suite{len(gates)}.yaml"
            path.write_text(yaml.safe_dump({
                "version": 1, "name": "bench", "dataset": {"path": "data.jsonl"},
                "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}},
                "metrics": [{"use": "exact_match"}], "gates": gates}))

            def once():
                build_analyzer.cache_clear()  # each run pays for building its engine, as a new process would
                run(path, root / f"run{next(runs)}", progress=False)
            return once

        times = interleaved({"plain": suite([]), "gated": suite([{"use": "pii", "args": {"action": "report"}}])}, repeat)
    extra = times["gated"].median - times["plain"].median
    print(f"mmeval run over the corpus as replay outputs (engine build included): {line('without the gate', times['plain'], digits=2)}; "
          f"{line('with it', times['gated'], digits=2)}; {1000 * extra / len(texts):.3f} ms per output at the median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-pii", type=int, default=2000)
    parser.add_argument("--n-clean", type=int, default=1000)
    add_timing_options(parser)
    args = parser.parse_args()
    use_threads(args)
    from mmeval.privacy.corpus import build_corpus

    texts = [t.text for t in build_corpus(args.seed, args.n_pii, args.n_clean)]
    throughput(texts, args.repeat)
    suite_overhead(texts, args.repeat)
    print(threads_line())


if __name__ == "__main__":
    main()

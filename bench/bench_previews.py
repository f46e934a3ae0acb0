"""Record previews: one detector call per output (as before #19) against `output_digests` per batch.

Run from the repository root:  python bench/bench_previews.py [--n 10000] [--repeat 3] [--threads 1]

Both sides produce the same (sha256, preview) pairs, checked equal, with the same detector
object, over product copy from `mmeval.catalog` in batches of 32 (the suites' default):
- old: per output, sha256 and the whole normalised text through `PiiDetector.analyze`,
  the anonymizer, the regex and the cut (the code records.py had);
- new: `output_digests(batch)`, one `analyze_many` call per batch, each text read only as
  far as its preview needs.
It also times the detector alone (`analyze` per text against `analyze_many`), the same on
long outputs (8 descriptions joined, about 600 characters), and the detector's start-up in
fresh processes (spaCy and presidio imports included, with and without torch imported
before, as `mmeval run` does), which a run pays once.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.timing import add_timing_options, interleaved, line, ratio, threads_line, use_threads  # noqa: E402

BATCH = 32
_OLD_PII = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|\+?\d[\d\s().-]{7,}\d")
STARTUP = """
import sys, time
sys.path.insert(0, {root!r})
{pre}
from mmeval.report.previews import output_digests, pii_tools
began = time.perf_counter()
output_digests([{path}, 1.5])
none = time.perf_counter() - began
began = time.perf_counter()
output_digests(["Meet our blue cotton vase."])
print(none, time.perf_counter() - began, pii_tools.cache_info().misses)
"""


def old_digests(texts: list[str], tools) -> list[tuple[str, str]]:
    detector, anonymizer = tools
    out = []
    for text in texts:
        preview = " ".join(text.split())
        preview = _OLD_PII.sub("<PII>", anonymizer.anonymize(preview, detector.analyze(preview)))
        out.append((hashlib.sha256(text.encode()).hexdigest(), preview if len(preview) <= 80 else preview[:79] + "…"))
    return out


def new_digests(texts: list[str]) -> list[tuple[str, str]]:
    from mmeval.report.previews import output_digests

    return [d for i in range(0, len(texts), BATCH) for d in output_digests(texts[i : i + BATCH])]


def startup(repeat: int, pre: str = "") -> tuple[list[float], list[float]]:
    """Seconds to the first previews in fresh processes (after running `pre`): of a
    media-and-number batch, then of text."""
    root = str(Path(__file__).resolve().parent.parent)
    code = STARTUP.format(root=root, pre=pre, path="__import__('pathlib').Path('x.png')")
    none, text = [], []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
        none.append(float(out[0]))
        text.append(float(out[1]))
        assert out[2] == "1", out  # built once, by the text batch
    return none, text


def compare(title: str, texts: list[str], tools, repeat: int) -> None:
    detector = tools[0]
    times = interleaved({"old": lambda: old_digests(texts, tools), "new": lambda: new_digests(texts)}, repeat)
    assert times["old"].value == times["new"].value, "previews differ"
    print(f"{title}, {len(texts):,} texts, {len({t for t in texts}):,} distinct")
    print("  " + line("previews, one detector call per output", times["old"], len(texts), "texts"))
    print("  " + line("previews, output_digests per batch    ", times["new"], len(texts), "texts"),
          ratio(times["old"], times["new"]))
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    alone = interleaved({"analyze": lambda: [detector.analyze(t) for t in texts],
                         "analyze_many": lambda: [s for b in batches for s in detector.analyze_many(b)]}, repeat)
    assert alone["analyze"].value == alone["analyze_many"].value, "findings differ"
    print("  " + line("detector, analyze per text (full text)", alone["analyze"], len(texts), "texts"))
    print("  " + line("detector, analyze_many per batch      ", alone["analyze_many"], len(texts), "texts"),
          ratio(alone["analyze"], alone["analyze_many"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="product-copy texts")
    add_timing_options(parser)
    parser.set_defaults(threads="1")
    args = parser.parse_args()
    use_threads(args)

    # `mmeval run` has imported torch (to set its threads) before the first batch.
    for title, pre in (("fresh process", ""), ("fresh process, torch imported", "import torch")):
        none, text = startup(args.repeat, pre)
        print(f"start-up, {title}: media/number batch min {min(none):.3f}s median {statistics.median(none):.3f}s "
              f"(detector not built); first text batch min {min(text):.3f}s median {statistics.median(text):.3f}s "
              "(spaCy and presidio imports, the detector built once)")

    from mmeval.catalog import make_products
    from mmeval.report.previews import pii_tools

    tools = pii_tools()
    if tools is None:
        sys.exit("error: the privacy extra is not installed (pip install -e '.[privacy]')")
    copy = [p.description for p in make_products(args.n, 2026)]
    compare("product copy", copy, tools, args.repeat)
    compare("long outputs", [" ".join(copy[i : i + 8]) for i in range(0, len(copy), 8)], tools, args.repeat)
    print(threads_line())


if __name__ == "__main__":
    main()

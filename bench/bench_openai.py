"""Samples/s through an OpenAI-compatible server with the `openai` adapter: concurrency 1 vs 8.

Run from the repository root:
    python bench/bench_openai.py [--n 16] [--max-tokens 32] [--repeat 3] [--base-url URL --model ID]
                                 [--serve-arg=--continuous-batching]

Without `--base-url` it starts `python -m mmeval.models.serve_local reference_models/text/final`
on a free loopback port (CPU, offline) and stops it afterwards. Prompts are the first `--n`
rows of the e-commerce text suite; decoding is greedy with `--max-tokens` new tokens. Each
concurrency gets one warm-up pass (not timed), then `--repeat` timed passes; the table
gives the best (min time) and median samples/s, and the ratio of medians c8 / c1. Without
continuous batching `transformers serve` runs one `generate` at a time, so concurrency
mostly overlaps HTTP and tokenisation: a ratio near 1 is the server's limit, not the client's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mmeval.models.openai_api import OpenAIAPI  # noqa: E402

MODEL = "reference_models/text/final"


def start_server(extra: list[str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mmeval.models.serve_local", MODEL, "--port", str(port), "--", *extra],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("server did not start in 180 s")


def rates(base_url: str, model: str, rows: list[dict], concurrency: int, max_tokens: int, repeat: int) -> list[float]:
    prompts, ids = [r["input"] for r in rows], [r["id"] for r in rows]
    adapter = OpenAIAPI(base_url, model, api="completions", max_tokens=max_tokens, concurrency=concurrency)
    adapter.fingerprint()  # GET /v1/models once, outside the timings
    adapter.generate(prompts[:concurrency], seed=0, ids=ids[:concurrency])  # warm-up
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        adapter.generate(prompts, seed=0, ids=ids)
        out.append(len(rows) / (time.perf_counter() - began))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--base-url", help="an already running server (default: start one)")
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `transformers serve` argument")
    args = parser.parse_args()
    lines = (REPO / "suites/data/ecommerce/text.jsonl").read_text().splitlines()[: args.n]
    rows = [json.loads(line) for line in lines]
    proc, base_url = (None, args.base_url) if args.base_url else start_server(args.serve_arg)
    try:
        results = {c: rates(base_url, args.model, rows, c, args.max_tokens, args.repeat) for c in (1, 8)}
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
    print(f"openai adapter -> {base_url}  n={args.n} max_tokens={args.max_tokens} repeat={args.repeat} "
          f"cpus={os.cpu_count()} serve_args={args.serve_arg or 'none'}")
    print(f"{'concurrency':>11}  {'best sps':>9}  {'median sps':>10}")
    for c, r in results.items():
        print(f"{c:>11}  {max(r):>9.3f}  {statistics.median(r):>10.3f}")
    ratio = statistics.median(results[8]) / statistics.median(results[1])
    print(f"ratio c8/c1 (medians): {ratio:.2f}x   (best: {max(results[8]) / max(results[1]):.2f}x)")


if __name__ == "__main__":
    main()

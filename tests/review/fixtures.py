"""A small rated-run setup: a product-copy suite with a `review:` section over two replayed
models (the candidate's copy fits the product, the reference's is one generic line), run
into a signed run folder; and a client for the review server (review/server.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import yaml

from mmeval.runner import run

CRITERIA = [{"name": "fits_product", "scale": 5, "description": "names the product, its colour and price correctly"},
            {"name": "fluency", "scale": 5}]


def review_suite(tmp: Path, n: int = 15, samples: int = 10, raters: int = 2, **review: Any) -> Path:
    rows = [{"id": f"p{i:02d}", "input": f"Blue vase {i} | $2{i % 10}.99 | Description:", "category": ["vase", "cap", "mug"][i % 3],
             "target": f"Meet our blue vase number {i}. Only $2{i % 10}.99."} for i in range(n)]
    (tmp / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    candidate = [{"id": r["id"], "output": r["target"].replace("Meet", "See") + (" Mail jane.doe@example.com" if i == 1 else "")}
                 for i, r in enumerate(rows)]
    (tmp / "candidate.jsonl").write_text("".join(json.dumps(o) + "\n" for o in candidate))
    (tmp / "reference.jsonl").write_text("".join(json.dumps({"id": r["id"], "output": "A vase."}) + "\n" for r in rows))
    suite = {
        "version": 1, "name": "review-t", "dataset": {"path": "data.jsonl"},
        "models": {"candidate": {"use": "replay", "args": {"path": "candidate.jsonl"}},
                   "reference": {"use": "replay", "args": {"path": "reference.jsonl"}}},
        "metrics": [{"use": "bleu"}, {"use": "chrf"}],
        "thresholds": [{"model": "candidate", "metric": "human_preference", "min": 0.5}],
        "review": {"criteria": CRITERIA, "pairwise": {"a": "candidate", "b": "reference"}, "samples": samples,
                   "raters_per_sample": raters, "stratify": "category", **review},
    }
    path = tmp / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def rated_run(tmp: Path, **options: Any) -> Path:
    """A signed run of `review_suite` (status fail: no ratings yet), in tmp/run."""
    run_dir = tmp / "run"
    assert run(review_suite(tmp, **options), run_dir, progress=False).status == "fail"
    return run_dir


class Server:
    """`mmeval review serve RUN_DIR` in a subprocess; `url` is the one-time start URL."""

    def __init__(self, run_dir: Path, *args: str, env: dict[str, str] | None = None):
        self.process = subprocess.Popen([sys.executable, "-m", "mmeval", "review", "serve", str(run_dir), *args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        line = self.process.stdout.readline()
        if not line.startswith("review: open "):
            self.process.kill()
            raise AssertionError(f"server did not start: {line!r} {self.process.stderr.read()}")
        self.url = line.split()[-1]
        self.base = self.url.split("/start")[0]

    def stop(self, kill: bool = False) -> tuple[int, str, str]:
        self.process.kill() if kill else self.process.terminate()
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


class Client:
    """A browser stand-in with a cookie jar."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        return self._send(urllib.request.Request(self.base + path, headers=headers or {}))

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode()
        return self._send(urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json", **(headers or {})}))

    def _send(self, request: urllib.request.Request) -> tuple[int, Any]:
        try:
            with self.opener.open(request, timeout=30) as response:
                data, status, kind = response.read(), response.status, response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            data, status, kind = exc.read(), exc.code, exc.headers.get("Content-Type", "")
        return status, json.loads(data) if kind.startswith("application/json") else data


def answer_for(sample: dict[str, Any], pick: str | None = None, score: int = 4) -> dict[str, Any]:
    """An answer to the sample on show: by default the side showing the candidate's copy ("See our ...") wins."""
    if pick is None:
        pick = "left" if sample["left"].get("text", "").startswith("See") else "right"
    scores = {side: {c["name"]: score for c in sample["criteria"]} for side in ("left", "right")}
    return {"sample_id": sample["sample_id"], "pick": pick, "scores": scores}

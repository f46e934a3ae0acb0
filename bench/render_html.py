"""Render time of report.html for a large run: 20,000 samples x 3 models x 2 metrics."""
import json, random, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, ".")
from mmeval.report.html import render_html
from tests.report.test_views import sample_report

d = Path(tempfile.mkdtemp())
rng = random.Random(0)
with (d / "records.jsonl").open("w") as h:
    for m in ("reference", "candidate", "candidate-b"):
        for i in range(20000):
            h.write(json.dumps({"id": f"s{i}", "model": m, "metrics": {"accuracy": float(rng.random() < .8), "bleu": rng.random() * 100}, "output_sha256": "0" * 64, "preview": f"product copy {i} <b>"}) + "\n")
report = sample_report("pass")
t = time.perf_counter(); page = render_html(report, d); dt = time.perf_counter() - t
print(f"render_html: {dt:.3f}s for 60000 records, page {len(page)/1024:.0f} KiB")

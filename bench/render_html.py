"""Render time of report.html: a synthetic large run, or a real run directory.

    python bench/render_html.py                # 20,000 samples x 3 models x 2 metrics
    python bench/render_html.py RUN_DIR        # e.g. after: mmeval run suites/ecommerce-release.yaml --out RUN_DIR

For a run directory it also loads the page in headless Chromium (when installed), times
the load, counts console errors and saves a full-page screenshot to RUN_DIR/../screenshot.png.
"""

import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmeval.report.html import render_html  # noqa: E402


def synthetic() -> None:
    from tests.report.test_views import sample_report

    d = Path(tempfile.mkdtemp())
    rng = random.Random(0)
    with (d / "records.jsonl").open("w") as h:
        for m in ("reference", "candidate", "candidate-b"):
            for i in range(20000):
                h.write(json.dumps({"id": f"s{i}", "model": m, "metrics": {"accuracy": float(rng.random() < .8), "bleu": rng.random() * 100},
                                    "output_sha256": "0" * 64, "preview": f"product copy {i} <b>"}) + "\n")
    t = time.perf_counter()
    page = render_html(sample_report("pass"), d)
    print(f"render_html: {time.perf_counter() - t:.3f}s for 60000 records, page {len(page) / 1024:.0f} KiB")


def real_run(run_dir: Path) -> None:
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    t = time.perf_counter()
    page = render_html(report, run_dir)
    print(f"render_html: {time.perf_counter() - t:.3f}s for {run_dir}, page {len(page) / 1024:.0f} KiB")
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        print("chromium not installed: no load time")
        return
    from playwright.sync_api import sync_playwright

    out = Path(tempfile.mkdtemp()) / "report.html"
    out.write_text(page, encoding="utf-8")
    shot = run_dir.parent / "screenshot.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        t = time.perf_counter()
        tab.goto(out.as_uri())
        print(f"chromium load: {time.perf_counter() - t:.2f}s, console errors: {len(errors)}, verdict: "
              f"{tab.locator('#verdict').inner_text().splitlines()[0]}")
        tab.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(f"screenshot: {shot}")


if __name__ == "__main__":
    real_run(Path(sys.argv[1])) if len(sys.argv) > 1 else synthetic()

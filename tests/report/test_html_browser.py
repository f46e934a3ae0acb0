"""The HTML report in a real headless Chromium: loads offline with no console errors,
and a screenshot shows the verdict."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mmeval.runner import run
from tests.test_suite import base_suite, write_suite

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/test.sh installs it)")


@pytest.mark.parametrize("status", ["pass", "fail"])
def test_report_renders_with_verdict(tmp_path, status):
    playwright = pytest.importorskip("playwright.sync_api")
    outputs = [{"id": f"s{i}", "output": ("a" if i % 2 else "b") if status == "pass" else "c"} for i in range(4)]
    path = write_suite(tmp_path, base_suite(), outputs=outputs)
    run_dir = tmp_path / "run"
    assert run(path, run_dir, progress=False).status == status

    errors: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("request", lambda req: requests.append(req.url))
        page.goto((run_dir / "report.html").as_uri())
        verdict = page.locator("#verdict")
        assert verdict.is_visible()
        assert verdict.inner_text().splitlines()[0] == status.upper()
        box = verdict.bounding_box()
        assert box is not None and box["y"] < 300  # the verdict is at the top of the page
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert shot.stat().st_size > 10_000

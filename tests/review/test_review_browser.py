"""The review page in a real headless Chromium: a rater rates 10 samples by mouse and by
keyboard, the server is killed mid-way and restarted, and the ratings that reach
reviews.jsonl are complete, chained, un-blind to the right winner, summarized and signed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmeval.review.ledger import check_chain
from tests.review.fixtures import CRITERIA, Server, rated_run

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (scripts/test.sh installs it)")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
CANDIDATE, REFERENCE = 4, 2  # every score the candidate's side gets, and the reference's
SHOT_COPY = Path("/tmp/review_page.png")
ON = re.compile(r"(^|\s)on(\s|$)")  # a chosen button


def _mmeval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, timeout=120)


def _lines(run_dir: Path) -> list[bytes]:
    return (run_dir / "reviews.jsonl").read_bytes().splitlines()


class Rater:
    """Drives one page of the review server like a person would."""

    def __init__(self, page, expect):
        self.page, self.expect = page, expect

    def candidate_side(self) -> str:
        left, right = self.page.locator("#left").inner_text(), self.page.locator("#right").inner_text()
        assert left.startswith("See our") != right.startswith("See our"), (left, right)  # exactly one side is the candidate
        assert (right if left.startswith("See our") else left) == "A vase."
        return "left" if left.startswith("See our") else "right"

    def on_show(self) -> str:
        sid = self.page.locator("#sample-id")
        self.expect(self.page.locator("#review")).to_be_visible()
        self.expect(sid).not_to_have_text("")
        return sid.inner_text()

    def choose_by_mouse(self) -> None:
        side = self.candidate_side()
        self.page.click(f"#pick-{side}")
        self.expect(self.page.locator(f"#pick-{side}")).to_have_class(ON)
        for c in CRITERIA:
            for s in ("left", "right"):
                value = CANDIDATE if s == side else REFERENCE
                button = self.page.locator(f"#scores-{s} .row[data-criterion={c['name']}] .score[data-value='{value}']")
                button.click()
                self.expect(button).to_have_class(ON)

    def choose_by_keyboard(self) -> None:
        side = self.candidate_side()
        self.page.keyboard.press("a" if side == "left" else "b")
        self.expect(self.page.locator(f"#pick-{side}")).to_have_class(ON)
        for _c in CRITERIA:  # keyboard order: criterion 1 left, criterion 1 right, criterion 2 left, ...
            for s in ("left", "right"):
                self.page.keyboard.press(str(CANDIDATE if s == side else REFERENCE))
        self.expect(self.page.locator("#save")).to_be_enabled()

    def save(self, by: str, last: bool = False) -> str:
        """Save the sample on show; the id that was saved (the page has moved on when this returns)."""
        before = self.on_show()
        self.expect(self.page.locator("#save")).to_be_enabled()
        if by == "mouse":
            self.page.click("#save")
        else:
            self.page.keyboard.press("Enter")
        if last:
            self.expect(self.page.locator("#done")).to_be_visible()
        else:
            self.expect(self.page.locator("#sample-id")).not_to_have_text(before)
            self.expect(self.page.locator("#status")).to_have_text(f"saved your rating of {before}")  # and no error on show
        return before


def _watch(page, errors: list[str], requests: list[str]) -> None:
    page.on("console", lambda msg: errors.append(f"{msg.location.get('url') or page.url}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("request", lambda req: requests.append(req.url))


def _open(context, server: Server, bases: list[str], errors: list[str], requests: list[str]):
    """A new page on `server`'s one-time URL, watched; it lands on the rating page."""
    bases.append(server.base)
    page = context.new_page()
    _watch(page, errors, requests)
    response = page.goto(server.url)
    assert response is not None and response.status == 200
    assert page.url == server.base + "/"
    return page


def test_rate_ten_samples_across_a_server_crash(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    expect = playwright.expect
    run_dir = rated_run(tmp_path, samples=10, raters=1)
    report = json.loads((run_dir / "report.json").read_text())
    samples = set(report["review"]["samples"])
    assert len(samples) == 10

    errors: list[str] = []
    requests: list[str] = []
    bases: list[str] = []
    saved: list[str] = []
    shot = tmp_path / "review_page.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.set_default_timeout(15_000)
            expect.set_options(timeout=15_000)

            # first server: 4 by mouse, 2 by keyboard, a 7th half answered when it dies
            server = Server(run_dir)
            try:
                page = _open(context, server, bases, errors, requests)
                rater = Rater(page, expect)
                expect(page.locator("#progress-text")).to_contain_text("You rated 0 of 10")
                expect(page.locator("#question")).to_have_text("Which is better for the product page?")
                expect(page.locator("#criteria-help")).to_have_text("fits product: " + CRITERIA[0]["description"])
                for i in range(4):
                    rater.on_show()
                    rater.choose_by_mouse()
                    if i == 0:  # a sample on show, answered but not yet saved
                        page.screenshot(path=str(shot), full_page=True)
                        shutil.copyfile(shot, SHOT_COPY)
                    saved.append(rater.save("mouse"))
                for _ in range(2):
                    rater.choose_by_keyboard()
                    saved.append(rater.save("keyboard"))
                expect(page.locator("#progress-text")).to_contain_text("You rated 6 of 10")
                seventh = rater.on_show()
                page.keyboard.press("a")
                page.keyboard.press("3")
                expect(page.locator("#pick-left")).to_have_class(ON)
            finally:
                server.stop(kill=True)
            assert server.process.returncode == -9  # SIGKILL: a crash, not a clean stop
            page.close()

            lines = _lines(run_dir)
            assert len(lines) == 6
            entries = check_chain(b"\n".join(lines) + b"\n", run_dir / "reviews.jsonl", report["run_id"])
            assert [e["sample_id"] for e in entries] == saved and seventh not in saved

            # second server: a new token and port; the remaining 4, keyboard and mouse mixed
            server = Server(run_dir)
            try:
                page = _open(context, server, bases, errors, requests)
                rater = Rater(page, expect)
                expect(page.locator("#progress-text")).to_contain_text("You rated 6 of 10")
                ways = [("keyboard", "keyboard"), ("mouse", "keyboard"), ("keyboard", "mouse"), ("mouse", "mouse")]
                for i, (choose, save) in enumerate(ways):  # how the answer is given, and how it is saved
                    rater.on_show()
                    rater.choose_by_keyboard() if choose == "keyboard" else rater.choose_by_mouse()
                    saved.append(rater.save(save, last=i == len(ways) - 1))
                expect(page.locator("#done")).to_be_visible()
                expect(page.locator("#review")).to_be_hidden()
                expect(page.locator("#progress-text")).to_contain_text("You rated 10 of 10")
                expect(page.locator("#progress-text")).to_contain_text("10 of 10 samples fully rated (1 rater each)")
                page.close()
            finally:
                code, _out, err = server.stop()
            assert code == 0, err
        finally:
            expect.set_options(timeout=5_000)  # Playwright's default, for whoever runs next
            browser.close()

    assert errors == []  # the favicon too: a 404 is a console error
    assert requests and all(any(url.startswith(base + "/") for base in bases) for url in requests), requests
    assert all(url.startswith("http://127.0.0.1:") for url in requests)
    assert shot.stat().st_size > 10_000

    # the ledger: 10 chained answers, one per sample, the candidate always the winner
    data = (run_dir / "reviews.jsonl").read_bytes()
    entries = check_chain(data, run_dir / "reviews.jsonl", report["run_id"])
    assert len(entries) == 10 and len(data.splitlines()) == 10
    assert [e["sample_id"] for e in entries] == saved
    assert {e["sample_id"] for e in entries} == samples
    for e in entries:
        assert sorted(e["shown"]) == ["candidate", "reference"] and e["pick"] in ("left", "right")
        assert (e["shown"][0] if e["pick"] == "left" else e["shown"][1]) == "candidate"
        assert e["scores"] == {"candidate": {"fits_product": CANDIDATE, "fluency": CANDIDATE},
                               "reference": {"fits_product": REFERENCE, "fluency": REFERENCE}}
        assert e["run_id"] == report["run_id"]

    # the summary: the threshold on human_preference now passes
    done = _mmeval("review", "summarize", str(run_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "pass"
    preference = [r for r in report["results"] if r["model"] == "candidate" and r["key"] == "human_preference"]
    assert len(preference) == 1 and preference[0]["value"] == 1.0 and preference[0]["n"] == 10
    fits = [r for r in report["results"] if r["model"] == "candidate" and r["key"] == "human_fits_product"]
    assert len(fits) == 1 and fits[0]["value"] == CANDIDATE
    assert report["review"]["summary"]["ratings"] == 10
    assert report["review"]["summary"]["rated_samples"] == 10 and report["review"]["summary"]["complete_samples"] == 10

    # the signature covers the ratings byte for byte
    checked = _mmeval("verify", str(run_dir))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    old = f'"fluency": {CANDIDATE}'.encode()
    assert old in data
    (run_dir / "reviews.jsonl").write_bytes(data.replace(old, f'"fluency": {CANDIDATE + 1}'.encode(), 1))
    checked = _mmeval("verify", str(run_dir))
    assert checked.returncode == 4, checked.stdout + checked.stderr


def test_start_token_is_one_time_and_a_wrong_one_is_refused(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    run_dir = rated_run(tmp_path, samples=10, raters=1)
    server = Server(run_dir)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
            try:
                for url, status in [(server.base + "/start?token=wrong", 403), (server.base + "/", 403),
                                    (server.url, 200), (server.url, 403)]:
                    context = browser.new_context()  # fresh: no cookie from the visit before
                    response = context.new_page().goto(url)
                    assert response is not None and response.status == status, url
                    if status == 200:
                        assert response.url == server.base + "/"
                    context.close()
            finally:
                browser.close()
    finally:
        code, _out, err = server.stop()
    assert code == 0, err
    assert not (run_dir / "reviews.jsonl").exists() or _lines(run_dir) == []

"""What the release manager sees (issue #12, items 3, 13, 14): no random Inception weights
by default, intervals inside the metric's range and around its value, random-weight
values marked in every view, media outputs shown as media, an ungated run that is not a
pass, readable +inf / not-measured values, and extras without a made-up direction."""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from mmeval.metrics.classification import Accuracy
from mmeval.metrics.diversity import Vendi
from mmeval.metrics.image.fid import FID
from mmeval.metrics.image.inception_score import InceptionScore
from mmeval.metrics.image.kid import KID
from mmeval.metrics.image.set_metric import FeatureState
from mmeval.metrics.image.inception import WEIGHTS_FILE
from mmeval.metrics.regression import MAE
from mmeval.metrics.text import CHRF
from mmeval.report import set_bootstrap as sb
from mmeval.report.bootstrap import bootstrap_interval
from mmeval.report.html import render_html
from mmeval.report.markdown import render_markdown
from mmeval.report.summary import summarize
from mmeval.runner import run

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mmeval", *args], capture_output=True, text=True, timeout=300, cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )


def one_error_line(proc: subprocess.CompletedProcess, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def image_suite(tmp_path: Path, metrics: list, thresholds: list | None = None, n: int = 4) -> Path:
    """A replay suite over n small PNG outputs (and targets) written into tmp_path."""
    rng = np.random.default_rng(0)
    (tmp_path / "img").mkdir(exist_ok=True)
    rows, outputs = [], []
    for i in range(n):
        target = (rng.random((12, 12, 3)) * 255).astype(np.uint8)
        Image.fromarray(target).save(tmp_path / "img" / f"t{i}.png")
        Image.fromarray(255 - target).save(tmp_path / "img" / f"o{i}.png")
        rows.append({"id": f"p{i}", "input": f"product {i}", "target": f"img/t{i}.png"})
        outputs.append({"id": f"p{i}", "output": f"img/o{i}.png"})
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "out.jsonl").write_text("".join(json.dumps(o) + "\n" for o in outputs))
    suite = {"version": 1, "name": "views", "seed": 0, "dataset": {"path": "data.jsonl"},
             "models": {"candidate": {"use": "replay", "args": {"path": "out.jsonl"}}},
             "metrics": metrics, "thresholds": thresholds or []}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


# --- item 3: no random Inception weights by default --------------------------------------


@pytest.mark.parametrize("metric", ["fid", "kid", "inception_score"])
def test_inception_metric_without_weights_fails_at_load_naming_the_file_and_places(tmp_path, metric):
    suite = image_suite(tmp_path, [{"use": metric}])
    env = {"MMEVAL_WEIGHTS_DIR": str(tmp_path / "weights"), "TORCH_HOME": str(tmp_path / "torch"), "MMEVAL_CACHE_DIR": "off"}
    proc = cli("run", str(suite), "--out", str(tmp_path / "run"), "--quiet", env=env)
    line = one_error_line(proc, 2)
    assert WEIGHTS_FILE in line
    assert str(tmp_path / "weights" / WEIGHTS_FILE) in line and str(tmp_path / "torch") in line  # the places searched
    assert "weights: random" in line
    assert not (tmp_path / "run").exists()  # failed at load: nothing ran, nothing written


def test_random_weights_are_explicit_and_marked_not_comparable():
    assert FID(weights="random").not_comparable == "random weights"
    assert KID(weights="random").not_comparable == "random weights"
    assert InceptionScore(weights="random").not_comparable == "random weights"


# --- views: not comparable, +inf, notes, directions --------------------------------------


def report_with(results: list[dict], status: str = "pass", thresholds: list | None = None) -> dict:
    return {
        "status": status, "reason": "", "run_id": "r1",
        "suite": {"name": "demo", "path": "suites/demo.yaml", "sha256": "0" * 64},
        "provenance": {"mmeval_version": "0", "device": "cpu", "seed": 0, "finished": "now"},
        "results": results, "gates": [],
        "thresholds": thresholds if thresholds is not None else [{"model": "a", "metric": "ssim", "min": 0.5, "value": 0.9, "passed": True}],
    }


def entry(model: str, key: str, value, **extra) -> dict:
    return {"model": model, "metric": key.split("_")[0], "key": key, "value": value, "n": 16, "fingerprint": f"{key}|x",
            "higher_is_better": False, **extra}


RANDOM_FID = [entry("a", "fid", 18770.7, not_comparable="random weights"), entry("b", "fid", 542166.98, not_comparable="random weights")]


def test_random_weight_values_are_marked_in_stdout_markdown_and_html(tmp_path):
    report = report_with(RANDOM_FID + [entry("a", "ssim", 0.82, higher_is_better=True), entry("b", "ssim", 0.19, higher_is_better=True)])
    out = summarize(report, "RUN")
    assert re.search(r"1\.877e\+04 \*", out) and "* not comparable: random weights: fid" in out
    assert "0.82 *" not in out
    md = render_markdown(report)
    assert "1.877e+04 *not comparable: random weights*" in md and "0.82 *not" not in md
    page = render_html(report, tmp_path)
    table = page[page.index("<h2>Results</h2>"):page.index('<div class="charts">')]
    assert table.count("not comparable: random weights") == 2
    charts = page[page.index('<div class="charts">'):page.index("<h2>Samples</h2>")]
    fid_chart = charts[:charts.index("</svg>")]
    assert "fid (lower is better)" in fid_chart and fid_chart.count("not comparable: random weights") == 2


def test_extras_without_a_declared_direction_have_no_better_wording(tmp_path):
    results = [entry(m, "kid_std", v, higher_is_better=None) for m, v in (("a", 4e-4), ("b", 2e-3))]
    results += [entry(m, "price_mae_coverage", v, higher_is_better=True) for m, v in (("a", 0.9), ("b", 0.5))]
    page = render_html(report_with(results), tmp_path)
    assert "kid_std (lower is better)" not in page and "kid_std (higher is better)" not in page
    assert ">kid_std</text>" in page
    assert "price_mae_coverage (higher is better)" in page
    assert 'title="kid_std|x · n=16"' in page  # no "↓ better" on hover either
    assert "better" not in summarize(report_with(results), "RUN") + render_markdown(report_with(results))


def test_chart_is_wide_enough_for_its_value_labels(tmp_path):
    page = render_html(report_with([entry("a", "kid", 7.615e09, not_comparable="random weights"), entry("b", "kid", 1.82e11)]), tmp_path)
    svg = re.search(r'<svg width="(\d+)"[^>]*aria-label="kid per model">(.*?)</svg>', page)
    width = int(svg.group(1))
    for x, text in re.findall(r'<text x="([\d.]+)" y="\d+" font-size="12">([^<]*)</text>', svg.group(2)):
        assert float(x) + 7.2 * len(text) <= width, (x, text, width)  # 12px text: at most ~7 px a character


def test_infinite_and_not_measured_values_read_as_such_in_every_view(tmp_path):
    results = [entry("a", "psnr", None, nonfinite="+inf", higher_is_better=True),
               entry("b", "psnr", None, note="not measured: outputs reused", higher_is_better=True)]
    report = report_with(results)
    for text in (summarize(report, "RUN"), render_markdown(report), render_html(report, tmp_path)):
        assert "+inf" in text and "not measured: outputs reused" in text
        assert "n/a" not in text


# --- item 13: intervals in range, around the value ----------------------------------------


def per_sample_states(metric, outputs, targets):
    return [metric.update(metric.init(), [o], [t]) for o, t in zip(outputs, targets)]


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_per_sample_intervals_lie_in_range_and_contain_the_value_at_small_n(n):
    rng = np.random.default_rng(n)
    cases = [
        (Accuracy(), ["a", "b"] * 3, ["a", "a", "b", "a", "b", "b"]),
        (MAE(), list(rng.normal(0, 5, 6)), list(rng.normal(0, 5, 6))),
        (CHRF(), ["red wool cap", "blue shoe", "a b c", "green tea mug", "x", "soft pillow"],
         ["red wool hat", "blue shoes", "c b a", "green mug", "y", "pillow soft"]),
    ]
    for metric, outputs, targets in cases:
        states = per_sample_states(metric, outputs[:n], targets[:n])
        value = next(iter(metric.compute(sb_merge(metric, states)).values()))
        low, high = bootstrap_interval(metric, states, resamples=200, seed=0)
        lo, hi = metric.value_range
        assert lo <= low <= value <= high <= hi, (metric.name, n, low, value, high)


def sb_merge(metric, states):
    merged = states[0]
    for s in states[1:]:
        merged = metric.merge(merged, s)
    return merged


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_set_level_intervals_lie_in_range_and_contain_the_value_at_small_n(n):
    rng = np.random.default_rng(10 + n)
    x, y = rng.normal(0.2, 1.0, size=(n, 64)), rng.normal(0.0, 1.0, size=(40, 64))
    state = FeatureState(outputs=[x], targets=[y])
    cases = [(FID(weights="random"), state), (KID(weights="random", subsets=20, subset_size=2), state),
             (InceptionScore(weights="random", splits=2), FeatureState(outputs=[rng.normal(0, 3, size=(n, 1008))]))]
    vendi = Vendi()
    cases.append((vendi, vendi.update(vendi.init(), [f"item {i} word {i * 7}" for i in range(n)], [None] * n)))
    for metric, st in cases:
        value = next(iter(metric.compute(st).values()))
        fields = sb.set_interval_fields(metric, st, resamples=50, seed=0)
        if "ci_low" not in fields:
            assert fields["ci_note"].startswith("no interval: ")
            continue
        lo, hi = getattr(metric, "value_range", (-math.inf, math.inf))
        assert lo <= fields["ci_low"] <= value <= fields["ci_high"] <= hi, (metric.name, n, fields["ci_low"], value, fields["ci_high"])
        replicates = fields["ci_replicates"]
        assert 10 <= len(replicates) <= 50 and all(math.isfinite(v) for v in replicates)


def test_fid_interval_clipped_at_zero_says_so():
    # 16 outputs close to their 16 references in 256 dimensions: resamples (~10 distinct
    # outputs) have a far larger FID, the bias shift exceeds the value, and the shifted
    # lower bound went negative (as image-smoke's -2.589e+04).
    rng = np.random.default_rng(0)
    y = rng.normal(0.0, 1.0, size=(16, 256))
    x = y + rng.normal(0.0, 0.3, size=(16, 256))
    state = FeatureState(outputs=[x], targets=[y])
    fields = sb.set_interval_fields(FID(weights="random"), state, resamples=50, seed=0)
    value = FID(weights="random").compute(state)["fid"]
    assert fields["ci_low"] == 0.0 <= value <= fields["ci_high"]
    assert "lower bound clipped to the metric's range (0)" in fields["ci_note"]


# --- item 14: KID subsets ---------------------------------------------------------------


def test_kid_subset_as_large_as_the_set_is_shrunk_with_one_warning_and_a_note(capsys):
    rng = np.random.default_rng(1)
    kid = KID(weights="random", subsets=20, subset_size=1000)
    states = [FeatureState(outputs=[rng.normal(m, 1, size=(12, 32))], targets=[rng.normal(0, 1, size=(12, 32))]) for m in (0.0, 0.5)]
    values = [kid.compute(s) for s in states]  # two models, one metric
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: kid:")]
    assert len(warnings) == 1 and "used 6" in warnings[0]
    assert kid.note and "subset_size 1000 >= 12" in kid.note
    assert all(v["std"] > 1e-6 for v in values)  # subsets now differ, so the std says something
    assert "subset_size:6" in kid.fingerprint()


# --- item 14: media outputs as media -------------------------------------------------------


def test_image_replay_outputs_appear_as_thumbnails_not_text_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    suite = image_suite(tmp_path, [{"use": "ssim"}], [{"model": "candidate", "metric": "ssim", "min": -1.0}])
    result = run(suite, tmp_path / "run", progress=False)
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 4
    assert "[png] o0.png" not in page and "Text samples" not in page
    # Media gone later (a key ring deletes plaintext media): the page still renders and says so.
    for png in (tmp_path / "img").glob("o*.png"):
        png.unlink()
    again = render_html(result.report, tmp_path / "run")
    assert "<img" not in again and again.count("no longer on disk (with a key ring, only the encrypted store has it)") == 4


def test_page_media_has_a_total_cap(tmp_path, monkeypatch):
    from mmeval.report import html

    monkeypatch.setenv("MMEVAL_CACHE_DIR", "off")
    suite = image_suite(tmp_path, [{"use": "ssim"}], [{"model": "candidate", "metric": "ssim", "min": -1.0}])
    result = run(suite, tmp_path / "run", progress=False)
    one = (tmp_path / "img" / "o0.png").stat().st_size
    monkeypatch.setattr(html, "MAX_PAGE_MEDIA_BYTES", 2 * one + 1)
    page = render_html(result.report, tmp_path / "run")
    assert page.count("<img") == 2 and page.count("the page&#x27;s media budget is spent") == 2


def test_keyring_run_page_renders_without_media(tmp_path, isolated_keyring):
    suite = image_suite(tmp_path, [{"use": "ssim"}], [{"model": "candidate", "metric": "ssim", "min": -1.0}])
    result = run(suite, tmp_path / "run", progress=False, extras={"keyring": isolated_keyring})
    page = (tmp_path / "run" / "report.html").read_text()
    assert result.status == "pass" and 'id="verdict"' in page
    samples = page[page.index("<h2>Samples</h2>"):page.index("<h2>Gates</h2>")]
    assert "sealed in the encrypted store (store/)" in samples and "<img" not in samples


# --- item 14: a suite without thresholds is ungated, not a pass -------------------------


def test_suite_without_thresholds_is_ungated_and_cannot_be_signed_off(tmp_path):
    suite = image_suite(tmp_path, [{"use": "ssim"}])
    proc = cli("run", str(suite), "--out", str(tmp_path / "run"), env={"MMEVAL_CACHE_DIR": "off"})
    assert proc.returncode == 0, proc.stderr
    assert "UNGATED (no thresholds: nothing was gated)" in proc.stdout and "PASS" not in proc.stdout
    run_dir = tmp_path / "run"
    assert json.loads((run_dir / "report.json").read_text())["status"] == "ungated"
    page = (run_dir / "report.html").read_text()
    verdict = page[page.index('id="verdict"'):page.index("</section>")]
    assert 'class="verdict ungated"' in page and "no thresholds: nothing was gated" in verdict
    assert "PASS" not in verdict and "every threshold met" not in page
    md = (run_dir / "report.md").read_text()
    assert "✅ PASS" not in md and "UNGATED" in md and "no thresholds: nothing was gated" in md
    signoff = cli("signoff", str(run_dir), "--principal", getpass.getuser())
    line = one_error_line(signoff, 1)
    assert "ungated" in line and "no thresholds" in line
    assert not (run_dir / "signoff.dsse.json").exists()

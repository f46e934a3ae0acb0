"""`report.html`: one self-contained page a release manager reads in a minute.

No network and no scripts: inline CSS, inline SVG charts, media as data URIs. The
verdict comes first, then thresholds, the model x metric table (confidence intervals,
fingerprints on hover), a chart per metric, per-class heatmaps for label metrics, sample
galleries, gates and provenance.
Everything that came from a model or a file is escaped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

from ..media import MEDIA_TYPES
from .per_class import per_class_section
from .summary import direction, fmt, not_comparable, rank_rows, run_caveats, value_text, verdict_reason

GALLERY_PER_MODEL = 6
MAX_MEDIA_BYTES = 400_000  # keep the page small: larger files are listed, not embedded
MAX_PAGE_MEDIA_BYTES = 6_000_000  # all embedded media together; past it, files are listed by name
GALLERY_SCAN_RECORDS = 20_000  # records read to find each model's first media outputs
TEXT_ROWS = 12

CSS = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 10px}
.verdict{border-radius:10px;padding:18px 22px;color:#fff;margin:16px 0}
.verdict .big{font-size:30px;font-weight:700;letter-spacing:.04em}
.verdict .caveat{margin-top:6px;font-weight:600}
.pass{background:#1f8a4c}.fail{background:#c0392b}.blocked{background:#7b2cbf}.ungated{background:#5d6d7e}
table{border-collapse:collapse;background:#fff;width:100%;box-shadow:0 1px 2px #0001}
th,td{padding:6px 10px;border-bottom:1px solid #e6e8ec;text-align:left;font-variant-numeric:tabular-nums}
th{background:#eef0f4;font-weight:600} td.num{text-align:right} .ci{color:#667;font-size:12px}
.nc{color:#a15c00;font-size:12px;font-weight:600}.note{color:#667;font-size:12px}
.ok{color:#1f8a4c;font-weight:600}.bad{color:#c0392b;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{background:#fff;padding:10px;box-shadow:0 1px 2px #0001}
.gallery{display:flex;flex-wrap:wrap;gap:10px}.item{background:#fff;padding:8px;width:160px;box-shadow:0 1px 2px #0001;font-size:12px}
.item img{width:144px;height:144px;object-fit:contain;image-rendering:pixelated;background:#ddd}
.item audio{width:144px}.muted{color:#667}.badge{display:inline-block;margin:1px 3px;padding:1px 6px;border-radius:8px;background:#fde8e1;color:#8a2a0a;font-size:12px}code{font-size:12px}.scroll{overflow-x:auto}
"""


def _verdict(report: dict[str, Any]) -> str:
    status = report["status"]
    reason = verdict_reason(report)
    return (
        f'<section id="verdict" class="verdict {escape(status)}"><div class="big">{escape(status.upper())}</div>'
        f"<div>{escape(reason)}</div>" + "".join(f'<div class="caveat">{escape(c)}</div>' for c in run_caveats(report)) + "</section>"
    )


def _thresholds(report: dict[str, Any]) -> str:
    if not report["thresholds"]:
        return '<p class="muted">This suite sets no thresholds.</p>'
    rows = []
    for t in report["thresholds"]:
        bound = f"≥ {t['min']}" if "min" in t else f"≤ {t['max']}"
        mark = '<span class="ok">pass</span>' if t["passed"] else '<span class="bad">fail</span>'
        rows.append(
            f"<tr><td>{mark}</td><td>{escape(t['model'])}</td><td>{escape(t['metric'])}</td>"
            f'<td class="num">{escape(value_text(t))}</td><td>{escape(bound)}</td></tr>'
        )
    return "<table><tr><th></th><th>model</th><th>metric</th><th>value</th><th>needs</th></tr>" + "".join(rows) + "</table>"


def _results_table(results: list[dict[str, Any]]) -> str:
    if not results:
        return '<p class="muted">No results (the run was blocked or scored nothing).</p>'
    models = list(dict.fromkeys(r["model"] for r in results))
    keys = list(dict.fromkeys(r["key"] for r in results))
    by = {(r["model"], r["key"]): r for r in results}
    head = "<tr><th>model</th>" + "".join(f"<th>{escape(k)}</th>" for k in keys) + "</tr>"
    rows = []
    for m in models:
        cells = []
        for k in keys:
            r = by.get((m, k))
            if r is None:
                cells.append("<td></td>")
                continue
            ci = ""
            if r.get("ci_low") is not None and r.get("ci_high") is not None:
                kind = f" · set bootstrap ×{r.get('ci_resamples')}" if r.get("ci_method") == "set-bootstrap" else ""
                ci = f'<div class="ci">95% CI {escape(fmt(r["ci_low"]))} – {escape(fmt(r["ci_high"]))}{escape(kind)}</div>'
            better = direction(r)
            title = f"{r['fingerprint']} · n={r['n']}" + (f" · {better} is better" if better else "") + (f" · {r['ci_note']}" if r.get("ci_note") else "")
            mark = not_comparable(r)
            extra = (f'<div class="nc">{escape(mark)}</div>' if mark else "") + (
                f'<div class="note">{escape(r["note"])}</div>' if r.get("note") and r.get("value") is not None else "")
            cells.append(f'<td class="num" title="{escape(title)}">{escape(value_text(r))}{ci}{extra}</td>')
        rows.append(f"<tr><td>{escape(m)}</td>{''.join(cells)}</tr>")
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'


CHAR_PX = 7.2  # a generous width of one 12px system-ui character: labels are never clipped


def _bar_chart(key: str, points: list[tuple[str, float, str]], better: str | None) -> str:
    """One horizontal bar per model; each value label carries its not-comparable mark."""
    bar_w, bar_h, gap, label_w = 150, 18, 6, 110
    top = max((abs(v) for _, v, _ in points), default=1.0) or 1.0
    height = len(points) * (bar_h + gap) + 24
    title = key + (f" ({better} is better)" if better else "")
    labels = [fmt(value) + (f" · {mark}" if mark else "") for _, value, mark in points]
    width = int(max(label_w + bar_w + 8 + CHAR_PX * max(len(t) for t in labels), 8 + CHAR_PX * len(title))) + 8
    bars = []
    for i, ((model, value, mark), label) in enumerate(zip(points, labels)):
        y = 22 + i * (bar_h + gap)
        w = max(1.0, bar_w * abs(value) / top)
        fill = "#c9a25a" if mark else "#3b6fd8"
        bars.append(
            f'<text x="0" y="{y + 13}" font-size="12">{escape(model[:16])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{fill}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" font-size="12">{escape(label)}</text>'
        )
    return (
        f'<div class="chart"><svg width="{width}" height="{height}" role="img" aria-label="{escape(key)} per model">'
        f'<text x="0" y="14" font-size="13" font-weight="600">{escape(title)}</text>{"".join(bars)}</svg></div>'
    )


def _charts(results: list[dict[str, Any]]) -> str:
    keys = list(dict.fromkeys(r["key"] for r in results))
    charts = []
    for key in keys:
        rows = [r for r in results if r["key"] == key and r["value"] is not None]
        if len(rows) > 1:
            charts.append(_bar_chart(key, [(r["model"], r["value"], not_comparable(r)) for r in rows], direction(rows[0])))
    return f'<div class="charts">{"".join(charts)}</div>' if charts else ""


MAX_RECORDS_FOR_PLOTS = 200_000  # bounds render time on very large runs


def _histogram(label: str, model: str, values: list[float], bins: int = 20) -> str:
    width, height, pad = 240, 90, 18
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / span * bins))] += 1
    top = max(counts) or 1
    bw = (width - 2) / bins
    bars = "".join(
        f'<rect x="{1 + i * bw:.1f}" y="{pad + (height - pad) * (1 - c / top):.1f}" width="{bw - 1:.1f}" height="{(height - pad) * c / top:.1f}" fill="#6c8fd8"/>'
        for i, c in enumerate(counts)
        if c
    )
    caption = f"{model[:20]} · {label[:20]} · n={len(values)} · {fmt(low)}…{fmt(high)}"
    return (
        f'<div class="chart"><svg width="{width}" height="{height + 14}" role="img" aria-label="{escape(caption)}">'
        f'<text x="0" y="12" font-size="11">{escape(caption)}</text>{bars}</svg></div>'
    )


def _distributions(run_dir: Path) -> str:
    """Per-sample score histograms per (model, metric), from records.jsonl."""
    records = run_dir / "records.jsonl"
    if not records.is_file():
        return ""
    values: dict[tuple[str, str], list[float]] = {}
    with records.open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(MAX_RECORDS_FOR_PLOTS)):
            rec = json.loads(line)
            for label, value in rec.get("metrics", {}).items():
                if isinstance(value, (int, float)):
                    values.setdefault((str(rec.get("model")), str(label)), []).append(float(value))
    charts = [_histogram(label, model, vals) for (model, label), vals in values.items() if len(vals) > 1]
    if not charts:
        return ""
    return '<h3>Per-sample score distributions</h3><div class="charts">' + "".join(charts) + "</div>"


class _MediaBudget:
    """Bytes of media embedded so far; past `MAX_PAGE_MEDIA_BYTES` files are only named."""

    def __init__(self) -> None:
        self.used = 0

    def take(self, size: int) -> bool:
        if size > MAX_MEDIA_BYTES or self.used + size > MAX_PAGE_MEDIA_BYTES:
            return False
        self.used += size
        return True


def _media_item(path: Path, caption: str, budget: _MediaBudget, badges: str = "") -> str:
    kind = MEDIA_TYPES.get(path.suffix.lower())
    if kind is None or not path.is_file():
        # With a key ring the run deletes plaintext media after scoring: only the store has it.
        why = "no longer on disk (with a key ring, only the encrypted store has it)" if kind else "not an embeddable type"
        return f'<div class="item">{escape(caption)}<div class="muted">{escape(path.name)} · {why}</div></div>'
    size = path.stat().st_size
    if not budget.take(size):
        why = "too large to embed" if size > MAX_MEDIA_BYTES else "not embedded: the page's media budget is spent"
        return f'<div class="item">{escape(caption)}<div class="muted">{escape(path.name)} · {escape(why)}</div></div>'
    uri = f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
    media = f'<img src="{uri}" alt="{escape(caption)}">' if kind.startswith("image") else f'<audio controls src="{uri}"></audio>'
    return f'<div class="item">{media}<div>{escape(caption)}</div>{badges}</div>'


def _iter_records(run_dir: Path, limit: int) -> Iterator[dict[str, Any]]:
    """The first `limit` records, one at a time: a big run's records never sit in memory."""
    records = run_dir / "records.jsonl"
    if not records.is_file():
        return
    with records.open(encoding="utf-8") as handle:
        for line, _ in zip(handle, range(limit)):
            if line.strip():
                yield json.loads(line)


def _gallery_picks(run_dir: Path) -> tuple[dict[str, list[tuple[str, Path, dict]]], list[dict[str, Any]]]:
    """(per model, up to GALLERY_PER_MODEL media outputs as (sample id, file, gate findings);
    up to TEXT_ROWS text records). Media come from the records' `media` paths (any
    adapter, replay included), else from RUN_DIR/outputs/ for runs written before that."""
    found: dict[str, list[tuple[str, Path, dict]]] = {}
    texts: list[dict[str, Any]] = []
    for rec in _iter_records(run_dir, GALLERY_SCAN_RECORDS):
        media = rec.get("media")
        if not media:
            if len(texts) < TEXT_ROWS:
                texts.append({k: rec.get(k) for k in ("model", "id", "preview", "gates")})
        elif Path(media).suffix.lower() in MEDIA_TYPES:
            items = found.setdefault(str(rec.get("model")), [])
            if len(items) < GALLERY_PER_MODEL:
                path = Path(media)
                items.append((str(rec.get("id")), path if path.is_absolute() else run_dir / path, rec.get("gates") or {}))
    outputs = run_dir / "outputs"
    if not found and outputs.is_dir():
        for model_dir in sorted(p for p in outputs.iterdir() if p.is_dir()):
            files = sorted(p for p in model_dir.iterdir() if p.suffix.lower() in MEDIA_TYPES)[:GALLERY_PER_MODEL]
            if files:
                found[model_dir.name] = [(p.stem, p, {}) for p in files]
    return found, texts


def _galleries(run_dir: Path, report: dict[str, Any]) -> str:
    sections = []
    media, texts = _gallery_picks(run_dir)
    budget = _MediaBudget()
    for model, items in media.items():
        cells = "".join(_media_item(path, f"{model} · {sample}", budget, _badges(gates)) for sample, path, gates in items)
        sections.append(f"<h3>{escape(model)}</h3><div class=\"gallery\">{cells}</div>")
    if texts:
        rows = [f"<tr><td>{escape(str(rec.get('model')))}</td><td>{escape(str(rec.get('id')))}</td>"
                f"<td>{escape(str(rec.get('preview') or ''))}</td><td>{_badges(rec.get('gates') or {})}</td></tr>" for rec in texts]
        sections.append("<h3>Text samples (PII redacted)</h3><table><tr><th>model</th><th>id</th><th>output</th><th>gate findings</th></tr>"
                        + "".join(rows) + "</table>")
    if not sections and (report.get("store") or {}).get("encrypted"):
        return ('<p class="muted">Raw outputs and per-sample records are sealed in the encrypted store '
                f'({escape(str(report["store"].get("path", "store")))}/); '
                "plaintext media were removed after scoring, so no samples are shown.</p>")
    return "".join(sections) or '<p class="muted">No sample outputs were kept for this run.</p>'


def _badges(found: dict[str, list[str]]) -> str:
    """One badge per gate finding of a sample (types only, never values)."""
    return "".join(f'<span class="badge">{escape(gate)}: {escape(kind)}</span>' for gate, kinds in found.items() for kind in kinds)


def _human_ratings(report: dict[str, Any]) -> str:
    """What people were asked to rate, what they said (the human_* results), and how their
    scores go with each automatic metric over the rated samples (Spearman's rho)."""
    review = report.get("review")
    if not isinstance(review, dict):
        return ""
    pair = review["pairwise"]
    criteria = ", ".join(f"{c['name']} (1–{c['scale']})" for c in review["criteria"]) or "none"
    strata = f"stratified by {review['stratify']}" if review.get("stratify") else "spread over the dataset"
    plan = (f"<p>{escape(pair['a'])} against {escape(pair['b'])}, blinded · {len(review['samples'])} samples ({escape(strata)}) · "
            f"{review['raters_per_sample']} raters each · criteria: {escape(criteria)}</p>")
    summary = review.get("summary")
    if not summary:
        return ("<h2>Human ratings</h2>" + plan + '<p class="muted">Not collected yet: <code>mmeval review serve RUN_DIR</code>, '
                "then <code>mmeval review summarize RUN_DIR</code>. Until then every human_* value is not measured.</p>")
    counts = (f"<p>{summary['ratings']} ratings by {len(summary['raters'])} rater(s) · {summary['complete_samples']} of "
              f"{len(review['samples'])} samples fully rated"
              + (f' · <span class="bad">incomplete: {escape(summary["incomplete"])}</span>' if summary.get("incomplete") else "") + "</p>")
    human = [r for r in report["results"] if r.get("kind") == "human"]
    rows = summary.get("correlations") or []
    if rows:
        metrics = list(dict.fromkeys(r["metric"] for r in rows))
        humans = list(dict.fromkeys(r["human"] for r in rows))
        cell = {(r["human"], r["metric"]): r for r in rows}
        body = "".join(
            f"<tr><td>{escape(h)}</td>" + "".join(
                f'<td class="num">{escape(fmt(cell[(h, m)]["rho"]))} <span class="ci">n={cell[(h, m)]["n"]}</span></td>'
                if (h, m) in cell else "<td></td>" for m in metrics) + "</tr>" for h in humans)
        table = ("<h3>Agreement with the automatic metrics (Spearman's rho over rated samples)</h3>"
                 '<div class="scroll"><table><tr><th>human</th>' + "".join(f"<th>{escape(m)}</th>" for m in metrics)
                 + f"</tr>{body}</table></div>")
    else:
        table = f'<p class="muted">Correlations {escape(summary.get("correlations_note") or "need per-sample metric values")}.</p>'
    return "<h2>Human ratings</h2>" + plan + counts + _results_table(human) + table


def _gates(report: dict[str, Any]) -> str:
    gates = report.get("gates") or []
    if not gates:
        return '<p class="muted">No gates ran.</p>'
    rows = []
    for g in gates:
        decisions = ", ".join(f"{k}: {v}" for k, v in g.get("decisions", {}).items()) or "—"
        findings = ", ".join(f"{f['kind']} ×{f['count']} ({f['model']})" for f in g.get("findings", [])) or "none"
        rows.append(f"<tr><td>{escape(g['gate'])}</td><td>{escape(decisions)}</td><td>{escape(findings)}</td></tr>")
    return "<table><tr><th>gate</th><th>decisions (batches)</th><th>findings</th></tr>" + "".join(rows) + "</table>"


def _watermarks(report: dict[str, Any]) -> str:
    """What the watermark gate marked and signed, and how much of it a detector finds."""
    marked = next((g["settings"].get("marked") for g in report.get("gates") or [] if g["gate"] == "watermark"), None)
    if not marked:
        return ""
    rows = "".join(
        f"<tr><td>{escape(model)}</td><td>{escape(modality)}</td><td>{c['outputs']}</td>"
        f"<td>{c['detected']} ({c['detected'] / max(c['outputs'], 1):.0%})</td></tr>"
        for model, by_modality in marked.items() for modality, c in by_modality.items()
    )
    return ("<h3>Watermarks and signed manifests</h3><table><tr><th>model</th><th>modality</th>"
            "<th>marked and signed</th><th>mark detected</th></tr>" + rows + "</table>")


def _provenance(report: dict[str, Any]) -> str:
    info = dict(report["provenance"])
    info.update({"run id": report["run_id"], "suite": report["suite"]["path"], "suite sha256": report["suite"]["sha256"]})
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td><code>{escape(str(v))}</code></td></tr>" for k, v in info.items())
    return f"<table>{rows}</table>"


def _ranks(report: dict[str, Any]) -> str:
    """Each rank's share of a distributed run (the results above are the whole run's)."""
    rows = rank_rows(report)
    if not rows:
        return ""
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f"<h3>Ranks (world size {len(rows) - 1})</h3><table><tr>{head}</tr>{body}</table>"


def render_html(report: dict[str, Any], run_dir: Path) -> str:
    """The whole page as a string; `run_dir` supplies media and records for galleries."""
    title = f"mmeval · {report['suite']['name']} · {report['status']}"
    body = [
        f"<h1>{escape(report['suite']['name'])}</h1>",
        f'<div class="muted">{escape(report["provenance"].get("finished", ""))} · run {escape(report["run_id"])}</div>',
        _verdict(report),
        "<h2>Thresholds</h2>", _thresholds(report),
        "<h2>Results</h2>", _results_table(report["results"]), _charts(report["results"]), _distributions(run_dir),
        per_class_section(report["results"]), _human_ratings(report),
        "<h2>Samples</h2>", _galleries(run_dir, report),
        "<h2>Gates</h2>", _gates(report), _watermarks(report),
        "<h2>Provenance</h2>", _provenance(report), _ranks(report),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n"
    )

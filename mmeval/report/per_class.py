"""Per-class views of label metrics: the confusion-matrix heatmap and per-class P/R/F1.

A label metric's result carries `per_class` in report.json (see `classification.per_class`):

    {"labels": [...], "confusion_matrix": [[count, ...], ...],   # [target][prediction]
     "precision": [...], "recall": [...], "f1": [...], "support": [...]}

Several label metrics on one model share one confusion table, so the page shows each
distinct table once per model, naming the metrics it belongs to.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from .summary import fmt

MAX_HEATMAP_LABELS = 40  # past this the matrix is unreadable; per-class rows are still shown


def _cell(count: int, row_total: int, diagonal: bool) -> str:
    share = count / row_total if row_total else 0.0
    # Green for correct predictions, red for confusions; the shade is the row share.
    rgb = "31,138,76" if diagonal else "192,57,43"
    style = f"background:rgba({rgb},{share:.3f});color:{'#fff' if share > 0.55 else '#1d2330'}"
    return f'<td class="num" style="{style}" title="{share:.1%} of this row">{count}</td>'


def _heatmap(table: dict[str, Any]) -> str:
    labels, matrix = table["labels"], table.get("confusion_matrix")
    if not matrix or len(labels) > MAX_HEATMAP_LABELS:
        return f'<p class="muted">{len(labels)} classes: no confusion matrix drawn (more than {MAX_HEATMAP_LABELS}).</p>'
    head = '<tr><th>target \\ output</th>' + "".join(f"<th>{escape(str(p))}</th>" for p in labels) + "</tr>"
    rows = []
    for i, (target, counts) in enumerate(zip(labels, matrix)):
        total = sum(counts)
        cells = "".join(_cell(c, total, i == j) for j, c in enumerate(counts))
        rows.append(f"<tr><th>{escape(str(target))}</th>{cells}</tr>")
    return f'<div class="scroll"><table class="heatmap">{head}{"".join(rows)}</table></div>'


def _scores(table: dict[str, Any]) -> str:
    head = "<tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>"
    rows = "".join(
        f"<tr><td>{escape(str(label))}</td><td class=\"num\">{escape(fmt(p))}</td><td class=\"num\">{escape(fmt(r))}</td>"
        f"<td class=\"num\">{escape(fmt(f))}</td><td class=\"num\">{int(s)}</td></tr>"
        for label, p, r, f, s in zip(table["labels"], table["precision"], table["recall"], table["f1"], table["support"])
    )
    return f'<div class="scroll"><table>{head}{rows}</table></div>'


def per_class_section(results: list[dict[str, Any]]) -> str:
    """One heatmap and per-class table per (model, distinct confusion table); "" if none."""
    tables: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
    for r in results:
        table = r.get("per_class")
        if not isinstance(table, dict) or r.get("value") is None:
            continue
        key = (r["model"], json.dumps(table.get("confusion_matrix"), sort_keys=True) + json.dumps(table["labels"]))
        tables.setdefault(key, (table, []))[1].append(r["metric"])
    parts = []
    for (model, _), (table, metrics) in tables.items():
        parts.append(f"<h3>{escape(model)} · {escape(', '.join(metrics))}</h3>{_heatmap(table)}{_scores(table)}")
    return "<h2>Per class</h2>" + "".join(parts) if parts else ""

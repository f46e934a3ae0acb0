"""mmeval from Python, as in a notebook: run a shipped suite, then evaluate a function.

    python examples/notebook.py          # from the repository root

Each call writes and signs a run directory under reports/, like `mmeval run`.
"""

from __future__ import annotations

import mmeval
from mmeval.errors import InputError
from mmeval.metrics.classification import Accuracy

# 1. A suite file (a dict of the same structure, or a built Suite, work too).
report = mmeval.run("suites/smoke.yaml")
print(report)
print(f"passed: {report.passed}; candidate accuracy {report.value('candidate', 'accuracy'):.3f}")
for check in report.thresholds:
    print(f"  {'ok  ' if check['passed'] else 'FAIL'} {check['model']} {check['metric']} = {check['value']}")


# 2. A model as a plain function over a batch of inputs, data as rows, metrics by name or as objects.
def title_case(prompts: list[str]) -> list[str]:
    return [p.title() for p in prompts]


rows = [
    {"id": "sku-1", "input": "red wool cap", "target": "Red Wool Cap"},
    {"id": "sku-2", "input": "blue linen shirt", "target": "Blue Linen Shirt"},
    {"id": "sku-3", "input": "tea set (4 cups)", "target": "Tea Set (4 Cups)"},
]
report = mmeval.evaluate(model=title_case, data=rows, metrics=["exact_match", "chrf", Accuracy()],
                         thresholds=[{"metric": "exact_match", "min": 0.9}], name="titles")
print(report)
try:
    print(report.to_pandas()[["model", "key", "value", "n"]])
except InputError as exc:  # pandas not installed
    print(exc)
print(f"open {report.run_dir / 'report.html'} in a browser (in Jupyter, `report` alone shows it)")

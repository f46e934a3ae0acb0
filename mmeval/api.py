"""The Python API for notebooks and scripts: `mmeval.run` and `mmeval.evaluate` give a `Report`.

    import mmeval
    report = mmeval.run("suites/smoke.yaml")                   # a file, a dict or a Suite
    report.passed, report.value("candidate", "accuracy")
    report.to_pandas()                                         # one row per result (needs pandas)

    report = mmeval.evaluate(
        model=lambda prompts: [p.upper() for p in prompts],     # a function or an adapter object
        data=[{"id": "a", "input": "red cap", "target": "RED CAP"}],  # rows, or a DataFrame
        metrics=["exact_match", {"use": "chrf"}],              # names, dicts or metric objects
        thresholds=[{"metric": "exact_match", "min": 0.9}],
    )

Both write and sign a run directory exactly as `mmeval run` does (default
reports/<suite>/<UTC time>/), so a notebook's run verifies, compares and signs off like any
other. Under torchrun every rank calls them; rank 0's Report has the results.
"""

from __future__ import annotations

import copy
import inspect
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .suite import Suite, load_suite, suite_from_dict


class Report:
    """A finished run: its report.json as data, and the folder it was written to."""

    def __init__(self, data: dict[str, Any], run_dir: Path):
        self.data, self.run_dir = data, Path(run_dir)

    @property
    def status(self) -> str:
        return self.data.get("status", "")

    @property
    def passed(self) -> bool:
        """True only for `pass`: an ungated run (no thresholds) checked nothing."""
        return self.status == "pass"

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.data.get("results", []))

    @property
    def thresholds(self) -> list[dict[str, Any]]:
        return list(self.data.get("thresholds", []))

    def value(self, model: str, key: str) -> float | None:
        """A result's value (None: not measured, see its `note`); KeyError if there is none."""
        from .runner.decide import true_value

        for result in self.results:
            if result["model"] == model and result["key"] == key:
                return true_value(result)
        raise KeyError(f"no result {key!r} for model {model!r}")

    def to_pandas(self) -> Any:
        """One row per result: model, key, value, n, interval, note, fingerprint, ..."""
        try:
            import pandas
        except ImportError:
            raise InputError("Report.to_pandas needs pandas: pip install 'mmeval[pandas]'") from None
        return pandas.DataFrame(self.results)

    def html(self) -> str:
        """The run's report.html (self-contained: styles and media inline)."""
        return (self.run_dir / "report.html").read_text(encoding="utf-8")

    def _repr_html_(self) -> str:  # Jupyter shows the report itself
        return self.html()

    def __repr__(self) -> str:
        return f"<mmeval Report {self.data.get('suite', {}).get('name')!r}: {self.status}, {len(self.results)} results, {self.run_dir}>"


def run(suite: str | Path | dict[str, Any] | Suite, out: str | Path | None = None, *, progress: bool = False,
        force: bool = False, reuse_outputs: bool = False, extras: dict[str, Any] | None = None,
        limit: int | None = None, overrides: Sequence[str] = ()) -> Report:
    """Run a suite (a YAML file, a dict of the YAML's structure with paths relative to the
    working directory, or a built `Suite`) and return its Report. `limit` and `overrides`
    are `--limit` and `--set` (README, "Run controls")."""
    from .overrides import apply_overrides
    from .runner import run as run_suite

    if isinstance(suite, dict):
        suite = suite_from_dict(apply_overrides(copy.deepcopy(suite), list(overrides), "suite dict"), Path.cwd())
        suite.overrides = tuple(overrides)
    elif not isinstance(suite, Suite):
        suite = load_suite(suite, overrides)
    result = run_suite(suite, Path(out) if out is not None else None, progress=progress, extras=extras,
                       reuse_outputs=reuse_outputs, force=force, limit=limit)
    return Report(result.report, result.run_dir)


def evaluate(model: Any, data: Any, metrics: Sequence[Any], *, targets: Sequence[Any] | None = None,
             thresholds: Sequence[dict[str, Any]] = (), name: str = "evaluate", seed: int = 0, batch_size: int = 32,
             out: str | Path | None = None, progress: bool = False) -> Report:
    """Evaluate a model on in-memory data, in the spirit of mlflow.evaluate.

    `model`: a function of a list of inputs (and `seed=` if it takes one), an adapter (an
    object with `generate(inputs, *, seed, ids)`), or a dict of names to either (the first
    is what thresholds without `model:` refer to). `data`: rows with `input` and `target`
    (and optional `id`, other fields for `where:`), a pandas DataFrame with those columns,
    or a list of inputs with `targets=`. `metrics`: registry names, suite entries (`{"use",
    "args", "where", ...}`) or metric objects. The rows go to a temporary JSONL file for
    the run; the run directory is written as by `mmeval run`.
    """
    models = model if isinstance(model, dict) else {"candidate": model}
    if not models:
        raise InputError("evaluate: model: give a function, an adapter or a dict of them")
    objects = {f"models.{n}": _adapter(n, m) for n, m in models.items()}
    entries: list[dict[str, Any]] = []
    for i, metric in enumerate(metrics):
        if isinstance(metric, str):
            entries.append({"use": metric})
        elif isinstance(metric, dict):
            entries.append(dict(metric))
        else:  # an object: its class labels it in the report
            objects[f"metrics[{i}]"] = metric
            entries.append({"use": _qualified(metric), "name": getattr(metric, "name", None) or type(metric).__name__.lower()})
    first = next(iter(models))
    checks = [{"model": first, **t} for t in thresholds]
    with tempfile.TemporaryDirectory(prefix="mmeval-evaluate-") as tmp:
        dataset = Path(tmp) / "data.jsonl"
        dataset.write_text("".join(json.dumps(row, ensure_ascii=False, default=_plain) + "\n" for row in _rows(data, targets)),
                           encoding="utf-8")
        spec = {"version": 1, "name": name, "seed": seed, "batch_size": batch_size, "dataset": {"path": str(dataset)},
                "models": {n: {"use": _qualified(m)} for n, m in models.items()}, "metrics": entries, "thresholds": checks}
        return run(suite_from_dict(spec, Path.cwd(), objects), out, progress=progress)


def _adapter(name: str, model: Any) -> Any:
    if callable(getattr(model, "generate", None)):
        return model
    if callable(model):
        from .models.python import FunctionAdapter

        return FunctionAdapter(model, f"model {name!r}")
    raise InputError(f"evaluate: model {name!r}: {type(model).__name__} is neither a function nor an adapter with generate()")


def _qualified(obj: Any) -> str:
    """How the report names an object's kind: `module:Class` (or the function's name)."""
    target = obj if inspect.isfunction(obj) else type(obj)
    return f"{target.__module__}:{target.__qualname__}"


def _plain(value: Any) -> Any:
    """numpy scalars (a DataFrame's cells) as Python numbers; anything else is refused."""
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise InputError(f"evaluate: data holds a {type(value).__name__}, which is not JSON (give text, numbers or file paths)")


def _rows(data: Any, targets: Sequence[Any] | None) -> list[dict[str, Any]]:
    """Dataset rows with ids, from rows, a DataFrame or inputs (+ targets)."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
        data = data.to_dict(orient="records")
    rows = list(data)
    if targets is not None:
        if len(targets) != len(rows):
            raise InputError(f"evaluate: {len(rows)} inputs but {len(targets)} targets")
        rows = [{"input": x, "target": t} for x, t in zip(rows, targets)]
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InputError(f"evaluate: data[{i}]: expected a row with 'input' and 'target' (or pass targets=), got {type(row).__name__}")
        row = {k: str(v.resolve()) if isinstance(v, Path) else v for k, v in row.items()}  # media files, absolute
        out.append({"id": str(i), **row} if "id" not in row else row)
    if not out:
        raise InputError("evaluate: data is empty")
    return out

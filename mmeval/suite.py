"""The suite file (YAML, version 1): schema, validation and plugin construction.

`load_suite` either returns a Suite whose every plugin is built and whose every path
exists, or raises a one-line SpecError/InputError that names the file and key.

`language:` (optional: `en`, `zh`, `ja`, or a tag such as `zh-CN`) sets defaults for the
metrics' `tokenize` argument where the suite gives none (plugins.LANGUAGE_TOKENIZE):

    language: zh        # bleu, distinct_n, self_bleu, rouge_l tokenize with sacrebleu's `zh`
    language: ja        # bleu: `ja-mecab` (MeCab must be installed); the others: `char`
    language: en        # or absent: each metric's own default (bleu `13a`, ...)

chrF has no tokenizer and is unchanged. The defaults are written into the metric's args,
so the report's `metrics` section and every fingerprint (`tok:zh`) show what ran.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError, SpecError
from .models.python import importable_from
from .plugins import build, language_code, language_defaults
from .registry import GATES, METRICS, MODELS
from .yamlio import load_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class PluginSpec(_Strict):
    use: str
    args: dict[str, Any] = Field(default_factory=dict)


class MetricSpec(PluginSpec):
    name: str | None = None  # how results are labelled; defaults to `use`
    against: str | None = None  # compare with this model's outputs instead of targets
    models: list[str] | None = None  # restrict to these models (default: all)
    where: dict[str, Any] | None = None  # only samples whose fields equal these (e.g. {task: sentiment})


class ThresholdSpec(_Strict):
    model: str
    metric: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> "ThresholdSpec":
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs 'min' or 'max'")
        return self


# Seeds feed numpy's default_rng (non-negative only) and torch generators (63 bits here).
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]


class BootstrapSpec(_Strict):
    resamples: int | None = Field(default=None, ge=0, le=100000)  # None: 1000 (50 for set-level metrics); 0: off
    seed: Seed | None = None  # default: the suite seed


class DatasetSpec(_Strict):
    path: str
    format: Literal["jsonl", "csv", "parquet", "hf"] | None = None  # default: from the path (datasources.py)
    columns: dict[Literal["id", "input", "target"], str] | None = None  # mmeval's name -> the source's column
    split: str | None = None  # a saved Hugging Face DatasetDict's split


class CriterionSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")  # becomes the result key human_<name>
    scale: int = Field(default=5, ge=2, le=10)  # scores 1..scale
    description: str = Field(default="", max_length=300)  # what the rater is to judge, shown beside the name


class PairwiseSpec(_Strict):
    a: str  # the model judged (its win rate is human_preference)
    b: str  # the model it is judged against


class ReviewSpec(_Strict):
    """Human ratings (review/): which samples people rate, how, and how often."""

    criteria: list[CriterionSpec] = Field(default_factory=list)
    pairwise: PairwiseSpec
    question: str = Field(default="Which is better for the product page?", max_length=200)  # asked above A / tie / B
    samples: int = Field(default=50, ge=1, le=10000)  # a seeded choice, stratified by `stratify`
    raters_per_sample: int = Field(default=3, ge=1, le=100)
    stratify: str | None = None  # a dataset field (e.g. category); default: the dataset's order, in 10 strata


class SuiteSpec(_Strict):
    version: int
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    language: str | None = None  # en | zh | ja (or zh-CN, ...): default tokenizers; see the module docstring
    seed: Seed = 0
    batch_size: int = Field(default=32, ge=1, le=65536)
    dataset: DatasetSpec
    models: dict[str, PluginSpec] = Field(min_length=1)
    metrics: list[MetricSpec] = Field(default_factory=list)
    gates: list[PluginSpec] = Field(default_factory=list)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    review: ReviewSpec | None = None


@dataclass
class BoundMetric:
    """A built metric with how the suite applies it."""

    label: str
    metric: Any
    against: str | None
    models: list[str]
    where: dict[str, Any] | None = None


@dataclass
class Suite:
    spec: SuiteSpec
    path: Path
    sha256: str
    dataset_path: Path
    models: dict[str, Any]
    metrics: list[BoundMetric]
    gates: list[Any]
    overrides: tuple[str, ...] = ()  # `--set KEY=VALUE` applied over the file (its sha256 is the file's)

    @property
    def name(self) -> str:
        return self.spec.name


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_suite(text: str, where: str, overrides: Sequence[str] = ()) -> SuiteSpec:
    """Parse and validate suite YAML text, with `--set` overrides (overrides.py) applied;
    `where` names the file in messages."""
    raw = load_yaml(text, where)
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a suite must be a mapping with keys version, name, dataset, models")
    if overrides:
        from .overrides import apply_overrides

        raw = apply_overrides(raw, list(overrides), where)
    if raw.get("version") not in (1, None) or isinstance(raw.get("version"), bool):
        raise SpecError(f"{where}: version: unsupported suite version {raw.get('version')!r}; this mmeval reads version 1")
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        value = first.get("input")
        shown = "" if first["type"] in ("missing", "extra_forbidden") else f" (got {_short(value)})"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].lower()
        raise SpecError(f"{where}: {_format_loc(first['loc'])}: {message}{shown}") from None
    except RecursionError:
        raise SpecError(f"{where}: suite is nested too deeply") from None
    if spec.language is not None:
        try:
            language_code(spec.language)
        except ValueError as exc:
            raise SpecError(f"{where}: language: {exc}") from None
    return spec


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_suite(path: str | Path, overrides: Sequence[str] = ()) -> Suite:
    """Read, validate and build a suite (`overrides`: `--set KEY=VALUE`); nothing runs yet."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: suite file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a suite YAML file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text") from None
    suite = build_suite(parse_suite(text, str(path), overrides), path, hashlib.sha256(data).hexdigest())
    suite.overrides = tuple(overrides)
    return suite


def suite_from_dict(data: dict[str, Any], base: Path, objects: dict[str, Any] | None = None) -> Suite:
    """A suite given as a Python dict of the YAML's structure, its paths relative to `base`.
    `objects` holds adapters and metrics given as objects, by the key that names them
    (`models.<name>`, `metrics[<i>]`); their entries' `use:` only labels them in the report.
    The suite's sha256 is that of its canonical JSON."""
    import json

    try:
        text = json.dumps(data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"suite dict: not plain data ({exc}); give adapters and metrics as objects through mmeval.evaluate") from None
    name = data.get("name") if isinstance(data, dict) else None
    path = Path(base) / f"{name if isinstance(name, str) else 'suite'}.suite (Python dict)"  # never written
    return build_suite(parse_suite(text, "suite dict"), path, hashlib.sha256(text.encode()).hexdigest(), objects or {})


def build_suite(spec: SuiteSpec, path: Path, sha256: str, objects: dict[str, Any] | None = None) -> Suite:
    """Check a parsed suite against its files and build its plugins (`objects`: given ones)."""
    objects = objects or {}
    base = path.parent
    dataset_path = (base / spec.dataset.path).resolve()
    folder = spec.dataset.format == "hf" or (spec.dataset.format is None and dataset_path.is_dir())
    if not (dataset_path.is_dir() if folder else dataset_path.is_file()):
        kind = "folder" if folder else "file"
        raise InputError(f"{path}: dataset.path: {kind} {spec.dataset.path!r} not found (looked for {dataset_path})")

    _check_references(spec, str(path))  # names first: a typo fails before any weights load
    metrics = []
    for i, m in enumerate(spec.metrics):
        applies = [n for n in (m.models or spec.models) if n != m.against]
        if f"metrics[{i}]" in objects:
            metric = objects[f"metrics[{i}]"]
        else:
            added = language_defaults(METRICS, m.use, m.args, spec.language, f"{path}: metrics[{i}]")
            if added:  # kept in the spec, so the report shows (and `compare` rebuilds) what ran
                m = spec.metrics[i] = m.model_copy(update={"args": {**m.args, **added}})
            metric = build(METRICS, m.use, m.args, f"{path}: metrics[{i}]", base)
        metrics.append(BoundMetric(m.name or m.use, metric, m.against, applies, m.where))
    with importable_from(base):  # `use: python` modules may sit beside the suite
        models = {
            name: objects[f"models.{name}"] if f"models.{name}" in objects else build(MODELS, m.use, m.args, f"{path}: models.{name}", base)
            for name, m in spec.models.items()
        }
    _check_thresholds(spec, metrics, models, str(path))
    gates = [build(GATES, g.use, g.args, f"{path}: gates[{i}]", base) for i, g in enumerate(spec.gates)]
    return Suite(spec, path, sha256, dataset_path, models, metrics, gates)


def result_key(label: str, metric: Any, key: str, index: int) -> str:
    """The report key of one computed value: the first is the metric's headline (its
    label); others are named extras, `<label>_<key>` (e.g. kid_std)."""
    return label if index == 0 else f"{label}_{key.removeprefix(getattr(metric, 'name', '') + '_')}"


def result_keys(bm: BoundMetric) -> list[str]:
    """Every key a metric reports, from `compute` on its empty state (values are NaN)."""
    try:
        values = bm.metric.compute(bm.metric.init())
    except Exception:  # a metric that cannot compute nothing still has its headline
        return [bm.label]
    return [result_key(bm.label, bm.metric, key, i) for i, key in enumerate(values)] or [bm.label]


def _did_you_mean(name: str, choices: Any, kind: str) -> str:
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(choices) if choices else "(none)"
    return f"unknown {kind} {name!r}{hint} ({kind}s are {listed})"


def _check_references(spec: SuiteSpec, where: str) -> None:
    """Every model a metric or threshold names exists, and metric labels are unique."""
    for name in spec.models:
        if not name.strip() or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise SpecError(f"{where}: models: model name {name!r} must not be empty, start with '.' or contain a path separator")
    labels: set[str] = set()
    for i, m in enumerate(spec.metrics):
        label = m.name or m.use
        if label in labels:
            raise SpecError(f"{where}: metrics[{i}]: metric {label!r} appears twice; give one a distinct 'name'")
        labels.add(label)
        if m.against is not None and m.against not in spec.models:
            raise SpecError(f"{where}: metrics[{i}].against: {_did_you_mean(m.against, spec.models, 'model')}")
        for ref in m.models or []:
            if ref not in spec.models:
                raise SpecError(f"{where}: metrics[{i}].models: {_did_you_mean(ref, spec.models, 'model')}")
        if m.models is not None and not [n for n in m.models if n != m.against]:
            raise SpecError(f"{where}: metrics[{i}]: applies to no model (every listed model is its 'against')")
    for i, t in enumerate(spec.thresholds):
        if t.model not in spec.models:
            raise SpecError(f"{where}: thresholds[{i}].model: {_did_you_mean(t.model, spec.models, 'model')}")
    review = spec.review
    if review is not None:
        for side in ("a", "b"):
            if getattr(review.pairwise, side) not in spec.models:
                raise SpecError(f"{where}: review.pairwise.{side}: {_did_you_mean(getattr(review.pairwise, side), spec.models, 'model')}")
        if review.pairwise.a == review.pairwise.b:
            raise SpecError(f"{where}: review.pairwise: a and b are both {review.pairwise.a!r}; name two models")
        for i, m in enumerate(spec.metrics):
            if (m.name or m.use).startswith("human_"):
                raise SpecError(f"{where}: metrics[{i}]: label {(m.name or m.use)!r} would clash with the review's "
                                "human_* results; give the metric another 'name'")
        names = [c.name for c in review.criteria]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise SpecError(f"{where}: review.criteria: criterion {twice!r} appears twice")


def _check_thresholds(spec: SuiteSpec, metrics: list[BoundMetric], models: dict[str, Any], where: str) -> None:
    """Each threshold names a value its model will report: a metric key the metric
    computes for that model, or an efficiency figure of a model that runs."""
    from .efficiency import FIGURES

    defined: dict[str, set[str]] = {name: set() for name in models}
    for bm in metrics:
        for key in result_keys(bm):
            for name in bm.models:
                defined[name].add(key)
    for name, adapter in models.items():
        if getattr(adapter, "runs_model", True):
            defined[name].update(FIGURES)
    if spec.review is not None:  # values `mmeval review summarize` adds once people rated
        from .review.summary import review_keys

        for name, keys in review_keys(spec.review).items():
            defined[name].update(keys)
    for i, t in enumerate(spec.thresholds):
        if t.metric not in defined[t.model]:
            elsewhere = sorted(n for n, keys in defined.items() if t.metric in keys)
            if elsewhere:
                raise SpecError(f"{where}: thresholds[{i}].metric: model {t.model!r} reports no {t.metric!r} "
                                f"(only {', '.join(elsewhere)} do: check the metric's 'models:'/'against:', or 'replay' has no efficiency)")
            raise SpecError(f"{where}: thresholds[{i}].metric: {_did_you_mean(t.metric, sorted(defined[t.model]), 'metric')}")

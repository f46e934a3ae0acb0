"""The suite file (YAML, version 1): schema, validation and plugin construction.

`load_suite` either returns a Suite whose every plugin is built and whose every path
exists, or raises a one-line SpecError/InputError that names the file and key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError, SpecError
from .plugins import build
from .registry import GATES, METRICS, MODELS


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


class BootstrapSpec(_Strict):
    resamples: int | None = Field(default=None, ge=0, le=100000)  # None: 1000 (50 for set-level metrics); 0: off
    seed: int | None = None  # default: the suite seed


class DatasetSpec(_Strict):
    path: str


class SuiteSpec(_Strict):
    version: int
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    seed: int = 0
    batch_size: int = Field(default=32, ge=1, le=65536)
    dataset: DatasetSpec
    models: dict[str, PluginSpec] = Field(min_length=1)
    metrics: list[MetricSpec] = Field(default_factory=list)
    gates: list[PluginSpec] = Field(default_factory=list)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)


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

    @property
    def name(self) -> str:
        return self.spec.name


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_suite(text: str, where: str) -> SuiteSpec:
    """Parse and validate suite YAML text; `where` names the file in messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise SpecError(f"{where}{line}: malformed YAML ({problem})") from None
    except RecursionError:
        raise SpecError(f"{where}: malformed YAML (nested too deeply)") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: a suite must be a mapping with keys version, name, dataset, models")
    if raw.get("version") not in (1, None) or isinstance(raw.get("version"), bool):
        raise SpecError(f"{where}: version: unsupported suite version {raw.get('version')!r}; this mmeval reads version 1")
    try:
        return SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        value = first.get("input")
        shown = "" if first["type"] in ("missing", "extra_forbidden") else f" (got {_short(value)})"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"].lower()
        raise SpecError(f"{where}: {_format_loc(first['loc'])}: {message}{shown}") from None
    except RecursionError:
        raise SpecError(f"{where}: suite is nested too deeply") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_suite(path: str | Path) -> Suite:
    """Read, validate and build a suite; nothing runs yet."""
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
    spec = parse_suite(text, str(path))
    base = path.parent
    dataset_path = (base / spec.dataset.path).resolve()
    if not dataset_path.is_file():
        raise InputError(f"{path}: dataset.path: file {spec.dataset.path!r} not found (looked for {dataset_path})")

    models = {
        name: build(MODELS, m.use, m.args, f"{path}: models.{name}", base) for name, m in spec.models.items()
    }
    metrics = []
    labels: set[str] = set()
    for i, m in enumerate(spec.metrics):
        where = f"{path}: metrics[{i}]"
        label = m.name or m.use
        if label in labels:
            raise SpecError(f"{where}: metric {label!r} appears twice; give one a distinct 'name'")
        labels.add(label)
        for ref in ([m.against] if m.against else []) + (m.models or []):
            if ref not in models:
                raise SpecError(f"{where}: unknown model {ref!r}; models are {', '.join(models)}")
        applies = [n for n in (m.models or models) if n != m.against]
        metrics.append(BoundMetric(label, build(METRICS, m.use, m.args, where, base), m.against, applies, m.where))
    gates = [build(GATES, g.use, g.args, f"{path}: gates[{i}]", base) for i, g in enumerate(spec.gates)]
    for i, t in enumerate(spec.thresholds):
        where = f"{path}: thresholds[{i}]"
        if t.model not in models:
            raise SpecError(f"{where}.model: unknown model {t.model!r}; models are {', '.join(models)}")
        if not any(t.metric == label or t.metric.startswith(label + "_") for label in labels):
            raise SpecError(f"{where}.metric: no metric named {t.metric!r}; metrics are {', '.join(sorted(labels))}")
    return Suite(spec, path, hashlib.sha256(data).hexdigest(), dataset_path, models, metrics, gates)

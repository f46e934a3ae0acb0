"""One generic lazy registry for metrics, models and gates.

Built-in plugins are `"module:attr"` strings, imported only when used; plugins from other
packages arrive through the entry-point groups `mmeval.metrics`, `mmeval.models` and
`mmeval.gates`. A built-in name always wins over an entry point (a package cannot swap
`accuracy` for its own); such a clash is warned about once on stderr and `mmeval list`
shows both. Unknown names fail with a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from .errors import SpecError


def load_object(target: str) -> Any:
    """Import `"package.module:attr"` (attr may be dotted)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise SpecError(f"{target!r} is not of the form 'package.module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"cannot import module {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


@dataclass(frozen=True)
class PluginEntry:
    """One plugin as `mmeval list` shows it: `active` is False for an entry point whose
    name another plugin (`shadowed_by`, a source) already holds."""

    name: str
    target: str
    source: str  # "builtin", "registered" or "entry-point:DIST"
    active: bool = True
    shadowed_by: str | None = None


def _entry_point_source(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return f"entry-point:{dist.name if dist is not None else 'unknown'}"


class Registry:
    """Names -> lazily imported plugin classes for one kind of plugin."""

    def __init__(self, kind: str, group: str, builtins: dict[str, str]):
        self.kind = kind
        self.group = group
        self._targets = dict(builtins)
        self._sources = dict.fromkeys(builtins, "builtin")
        self._shadowed: list[PluginEntry] = []
        self._loaded: dict[str, Any] = {}
        self._scanned_entry_points = False

    def register(self, name: str, target: str | Any) -> None:
        """Add a plugin by `"module:attr"` string or by object."""
        self._sources[name] = "registered"
        if isinstance(target, str):
            self._targets[name] = target
            self._loaded.pop(name, None)
        else:
            self._targets[name] = f"{target.__module__}:{target.__qualname__}"
            self._loaded[name] = target

    def _scan_entry_points(self) -> None:
        if self._scanned_entry_points:
            return
        self._scanned_entry_points = True
        for ep in entry_points(group=self.group):
            source = _entry_point_source(ep)
            if ep.name not in self._targets:
                self._targets[ep.name], self._sources[ep.name] = ep.value, source
                continue
            if self._targets[ep.name] == ep.value:  # the same object declared twice: nothing is lost
                continue
            winner = self._sources[ep.name]
            self._shadowed.append(PluginEntry(ep.name, ep.value, source, active=False, shadowed_by=winner))
            print(f"warning: entry point {ep.name} = {ep.value} ({self.group}, from {source.partition(':')[2]}) "
                  f"is ignored: the {winner} {self.kind} {ep.name!r} ({self._targets[ep.name]}) keeps the name",
                  file=sys.stderr)

    def entries(self) -> list[PluginEntry]:
        """Every plugin by name, each shadowed entry point right after the one that won."""
        self._scan_entry_points()
        out = []
        for name in sorted(self._targets):
            out.append(PluginEntry(name, self._targets[name], self._sources.get(name, "registered")))
            out += [entry for entry in self._shadowed if entry.name == name]
        return out

    def names(self) -> list[str]:
        self._scan_entry_points()
        return sorted(self._targets)

    def __contains__(self, name: str) -> bool:
        self._scan_entry_points()
        return name in self._targets

    def get(self, name: str) -> Any:
        if name in self._loaded:
            return self._loaded[name]
        self._scan_entry_points()
        if name not in self._targets:
            close = difflib.get_close_matches(name, self._targets, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(self.names())}"
            raise SpecError(f"unknown {self.kind} {name!r}{hint}")
        self._loaded[name] = load_object(self._targets[name])
        return self._loaded[name]

    def summary(self, name: str) -> str:
        """The first line of a plugin's docstring, read from its source where it can be
        (so `mmeval list` imports no torch), else from the imported plugin."""
        target = self._targets.get(name) if name not in self._loaded else None
        doc = _static_docstring(target) if target else None
        if doc is None:
            doc = getattr(self.get(name), "__doc__", None) or ""
        return _first_line(doc)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _first_line(doc: str) -> str:
    doc = doc.strip()
    return doc.splitlines()[0] if doc else ""


def target_summary(target: str) -> str:
    """`Registry.summary` for a `"module:attr"` no name resolves to (a shadowed entry point)."""
    doc = _static_docstring(target)
    if doc is None:
        doc = getattr(load_object(target), "__doc__", None) or ""
    return _first_line(doc)


def _static_docstring(target: str) -> str | None:
    """The docstring of a top-level class or function `"module:attr"`, parsed from the
    module's source without running it; None when that is not possible."""
    import ast
    import importlib.util

    from pathlib import Path

    module_name, _, attr = target.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or not (spec.origin or "").endswith(".py"):
            return None
        source = Path(spec.origin).read_text(encoding="utf-8")
    except (ImportError, ValueError, OSError):
        return None
    for node in ast.parse(source).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == attr:
            return ast.get_docstring(node) or ""
    return None  # defined some other way (an assignment, a re-export): import it


# Built-in plugins. Adding one = one line here + its module + its test file.
METRICS = Registry(
    "metric",
    "mmeval.metrics",
    {
        # classification / regression / text (core)
        "accuracy": "mmeval.metrics.classification:Accuracy",
        "precision": "mmeval.metrics.classification:Precision",
        "recall": "mmeval.metrics.classification:Recall",
        "f1": "mmeval.metrics.classification:F1",
        "exact_match": "mmeval.metrics.classification:ExactMatch",
        "mcc": "mmeval.metrics.classification:MCC",
        "cohen_kappa": "mmeval.metrics.classification:CohenKappa",
        "top_k_accuracy": "mmeval.metrics.scores:TopKAccuracy",
        "roc_auc": "mmeval.metrics.scores:RocAuc",
        "ece": "mmeval.metrics.scores:ECE",
        "mae": "mmeval.metrics.regression:MAE",
        "mse": "mmeval.metrics.regression:MSE",
        "rmse": "mmeval.metrics.regression:RMSE",
        "mape": "mmeval.metrics.regression:MAPE",
        "smape": "mmeval.metrics.regression:SMAPE",
        "r2": "mmeval.metrics.regression:R2",
        "medae": "mmeval.metrics.regression:MedAE",
        "bleu": "mmeval.metrics.text:BLEU",
        "chrf": "mmeval.metrics.text:CHRF",
        "ter": "mmeval.metrics.text:TER",
        "rouge_l": "mmeval.metrics.text:RougeL",
        # image metrics
        "ssim": "mmeval.metrics.image.paired:SSIM",
        "psnr": "mmeval.metrics.image.paired:PSNR",
        "ms_ssim": "mmeval.metrics.image.paired:MSSSIM",
        "fid": "mmeval.metrics.image.fid:FID",
        "kid": "mmeval.metrics.image.kid:KID",
        "inception_score": "mmeval.metrics.image.inception_score:InceptionScore",
        "prdc": "mmeval.metrics.image.precision_recall:PRDC",
        # audio metrics
        "audio_similarity": "mmeval.metrics.audio.similarity:AudioSimilarity",
        "pesq": "mmeval.metrics.audio.intelligibility:PESQ",
        "stoi": "mmeval.metrics.audio.intelligibility:STOI",
        "si_sdr": "mmeval.metrics.audio.intelligibility:SISDR",
        "fad": "mmeval.metrics.audio.fad:FAD",
        "audio_prdc": "mmeval.metrics.audio.fad:AudioPRDC",
        # diversity metrics
        "distinct_n": "mmeval.metrics.diversity:DistinctN",
        "self_bleu": "mmeval.metrics.diversity:SelfBLEU",
        "vendi": "mmeval.metrics.diversity:Vendi",
        # learned text metrics (the text-embed extra)
        "semantic_similarity": "mmeval.metrics.semantic:SemanticSimilarity",
        # e-commerce attribute metrics (catalogue extractor)
        "attribute_f1": "mmeval.metrics.attributes:AttributeF1",
        "price_mae": "mmeval.metrics.attributes:PriceMAE",
    },
)

MODELS = Registry(
    "model adapter",
    "mmeval.models",
    {
        "replay": "mmeval.models.replay:Replay",
        "python": "mmeval.models.python:PythonCallable",
        # reference generators and hub-free adapters
        "reference": "mmeval.models.reference:ReferenceGenerator",
        "hf-causal-lm": "mmeval.models.hf:HFCausalLM",
        "diffusers": "mmeval.models.diffusers_pipeline:DiffusersPipeline",
        "hf-pipeline": "mmeval.models.hf_pipeline:HFPipeline",
        "openai": "mmeval.models.openai_api:OpenAIAPI",
    },
)

GATES = Registry(
    "gate",
    "mmeval.gates",
    {
        # privacy gates
        "pii": "mmeval.gates.pii:PiiGate",
        # provenance gates
        "watermark": "mmeval.gates.watermark:WatermarkGate",
        "provenance": "mmeval.gates.provenance:ProvenanceGate",
    },
)

"""What a rater sees, kept by the run: for each chosen sample, its input and the outputs of
the two models being compared, text PII-redacted, media as bytes.

One value per sample, `{"sample_id", "input": item, "outputs": {model: item}}`, where an
item is `{"text": ...}` (redacted, at most `REVIEW_CHARS`) or `{"media": ".png", "name",
"bytes_b64"}`. With a key ring it is sealed into the run's encrypted store as record
`review#<sample id>` (no `/`: never an output record), so the review page decrypts one
sample at a time; without one it is `review/<sha256 of the id>.json`, as plaintext as the
run's own previews and media. Files are per sample, so ranks of a distributed run write
theirs side by side.

    observer = ReviewMaterial.planned(spec, dataset, seed, run_dir, store)   # a RunObserver
    read_material(run_dir, store, "sku-1")                        # what the review page shows
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from ..data import Sample
from ..errors import InputError, IntegrityError, SpecError
from ..fsutil import write_atomic
from ..media.blob import MediaBlob
from ..report.previews import output_digests, redact_previews

REVIEW_DIR = "review"
REVIEW_CHARS = 2000
_RECORD = "review#"


def material_file(run_dir: Path, sample_id: str) -> Path:
    return Path(run_dir) / REVIEW_DIR / (hashlib.sha256(sample_id.encode("utf-8")).hexdigest()[:40] + ".json")


class ReviewMaterial:
    """RunObserver: keeps the chosen samples' input and both compared models' outputs."""

    def __init__(self, spec: Any, chosen: list[str], run_dir: Path, store: Any = None):
        self.spec = spec  # the suite's ReviewSpec
        self.models = (spec.pairwise.a, spec.pairwise.b)
        self.chosen = list(chosen)  # in dataset order, as the report lists them
        self._wanted = set(chosen)
        self.run_dir = Path(run_dir)
        self.store = store
        self._pending: dict[str, dict[str, Any]] = {}  # sample id -> material still waiting for a model

    @classmethod
    def planned(cls, spec: Any, dataset: Any, seed: int, run_dir: Path, store: Any = None) -> ReviewMaterial:
        """The observer for a suite's `review:` spec, with the seeded, stratified choice made."""
        from .choose import choose_samples

        strata = None
        if spec.stratify is not None:
            strata = [str(s.meta.get(spec.stratify, "")) for s in dataset]
            if not any(strata):
                raise SpecError(f"review.stratify: no sample of {dataset.path} has a field {spec.stratify!r}")
        return cls(spec, choose_samples(dataset.ids, strata, spec.samples, seed), run_dir, store)

    def on_outputs(self, model: str, batch: list[Sample], outputs: list[Any], seconds: float) -> None:
        if model not in self.models:
            return
        picked = [(s, o) for s, o in zip(batch, outputs) if s.id in self._wanted]
        new = [s for s, _ in picked if s.id not in self._pending]
        for sample, given in zip(new, _items([s.input for s in new])):  # each input redacted once
            self._pending[sample.id] = {"sample_id": sample.id, "input": given, "outputs": {}}
        for (sample, _), shown in zip(picked, _items([o for _, o in picked])):
            value = self._pending[sample.id]
            value["outputs"][model] = shown
            if len(value["outputs"]) == len(self.models):
                self._write(self._pending.pop(sample.id))

    def finish(self, report: dict[str, Any], run_dir: Path) -> None:
        from .summary import review_section

        report["review"] = review_section(self.spec, self.chosen, self.store is not None)
        for value in self._pending.values():  # a model gave no output for it (a blocked batch): rate what there is
            self._write(value)
        self._pending.clear()

    def _write(self, value: dict[str, Any]) -> None:
        if self.store is not None:
            self.store.put(_RECORD + value["sample_id"], value)
            return
        path = material_file(self.run_dir, value["sample_id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(value, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def read_material(run_dir: Path, store: Any, sample_id: str, attested: dict[str, str] | None = None) -> dict[str, Any]:
    """One sample's material: decrypted from `store` (authenticated), or read from its file,
    which must still have the sha256 the run's verified attestation lists (`attested`:
    relative path -> sha256), so the page never shows what someone put there since."""
    if store is not None:
        value = store.get(_RECORD + sample_id)
    else:
        path = material_file(run_dir, sample_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise InputError(f"{path}: no review material for sample {sample_id!r}") from None
        name = path.relative_to(run_dir).as_posix()
        if attested is not None and attested.get(name) != hashlib.sha256(data).hexdigest():
            raise IntegrityError(f"{path}: review material changed since the run was signed")
        try:
            value = json.loads(data)
        except ValueError:
            raise IntegrityError(f"{path}: review material is not JSON") from None
    if not isinstance(value, dict) or value.get("sample_id") != sample_id or not isinstance(value.get("outputs"), dict):
        raise IntegrityError(f"review material for sample {sample_id!r} is damaged or belongs to another sample")
    return value


def _items(values: list[Any]) -> list[dict[str, Any]]:
    """What a rater is shown of each value: redacted text, media bytes, or a short preview."""
    items: list[dict[str, Any] | None] = [None] * len(values)
    texts = {i: v for i, v in enumerate(values) if isinstance(v, str)}
    for i, text in zip(texts, redact_previews(list(texts.values()), limit=REVIEW_CHARS)):
        items[i] = {"text": text}
    for i, value in enumerate(values):
        if isinstance(value, MediaBlob):
            items[i] = {"media": value.suffix, "name": value.name, "bytes_b64": base64.b64encode(value.data).decode()}
        elif isinstance(value, Path) and value.is_file():
            items[i] = {"media": value.suffix, "name": value.name, "bytes_b64": base64.b64encode(value.read_bytes()).decode()}
    others = [i for i, item in enumerate(items) if item is None]  # numbers, labels, arrays: their preview line
    for i, (_, preview) in zip(others, output_digests([values[i] for i in others])):
        items[i] = {"text": preview}
    return [item or {"text": ""} for item in items]

"""Audit a folder of content generated elsewhere: marks, manifests and personal data.

Every text (.txt, .jsonl), image (PNG/JPEG) and audio (WAV) file under the folder is
checked for our watermark, for a signed manifest beside it (`NAME.manifest.json`) or
embedded in it (C2PA, with c2pa-python; it must chain to the trusted CA) and,
for text, for PII. What counts as a violation comes from the rules (the access policy's
`audit:` section, else the defaults below): an invalid manifest always does.

    rules = AuditRules.parse(policy.audit)
    report = Auditor(keys, trusted, rules).audit(Path("generated/"))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, InputError, SpecError
from .base import DEFAULT_ALPHA
from .files import WatermarkKeys, detect_value, modality_of, read_texts
from .manifest import SUFFIX, manifest_path, verify_manifest
from .text import load_tokenizer


@dataclass(frozen=True)
class AuditRules:
    require_watermark: bool = True  # unmarked content is a violation
    require_manifest: bool = False  # content without a manifest is a violation
    pii: bool = True  # personal data in text is a violation
    pii_entities: tuple[str, ...] | None = None  # default: the detector's defaults
    pii_threshold: float = 0.5
    alpha: float = DEFAULT_ALPHA  # significance level of watermark detection

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> AuditRules:
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise SpecError(f"policy audit rules: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        if "pii_entities" in raw and raw["pii_entities"] is not None:
            raw["pii_entities"] = tuple(raw["pii_entities"])
        rules = cls(**raw)
        if not 0 < rules.alpha < 1 or not 0 <= rules.pii_threshold <= 1:
            raise SpecError("policy audit rules: alpha must be in (0, 1) and pii_threshold in [0, 1]")
        return rules


class Auditor:
    def __init__(self, keys: WatermarkKeys, trusted: list[Any], rules: AuditRules, tokenizer_dir: Path | None = None,
                 c2pa_anchors: bytes | None = None):
        self.keys, self.trusted, self.rules = keys, trusted, rules
        self.c2pa_anchors = c2pa_anchors  # CA certificates an embedded C2PA manifest must chain to
        self.tokenizer_dir = tokenizer_dir
        self._pii: Any = None

    def audit(self, root: Path) -> dict[str, Any]:
        if not root.is_dir():
            raise InputError(f"{root}: not a folder")
        files, skipped = [], []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if path.name.endswith(SUFFIX):
                continue  # checked with its asset
            if modality_of(path) is None:
                skipped.append(rel)
                continue
            files.append(self.audit_file(path, rel))
        orphans = [p.relative_to(root).as_posix() for p in root.rglob("*" + SUFFIX)
                   if not p.with_name(p.name[: -len(SUFFIX)]).exists()]
        violations = sum(1 for f in files if f["violations"]) + len(orphans)
        return {
            "format": "mmeval-audit/1",
            "root": str(root),
            "status": "fail" if violations else "pass",
            "rules": {f.name: getattr(self.rules, f.name) for f in fields(self.rules)},
            "watermark_key_id": self.keys.key_id,
            "summary": {
                "files": len(files),
                "violating_files": violations,
                "by_violation": dict(Counter(v for f in files for v in f["violations"])),
                "skipped": len(skipped),
                "orphan_manifests": len(orphans),
            },
            "files": files,
            "skipped": skipped,
            "orphan_manifests": orphans,
        }

    def audit_file(self, path: Path, rel: str) -> dict[str, Any]:
        modality = modality_of(path)
        entry: dict[str, Any] = {"file": rel, "modality": modality}
        violations: list[str] = []
        entry["manifest"] = self._manifest(path)
        if entry["manifest"]["state"] == "invalid":
            violations.append("invalid-manifest")
        elif entry["manifest"]["state"] == "missing" and self.rules.require_manifest:
            violations.append("missing-manifest")
        try:
            if modality == "text":
                items = read_texts(path)
                detections = [detect_value(text, self.keys, load_tokenizer(self.tokenizer_dir), self.rules.alpha) for _, text in items]
                entry["items"] = len(items)
                entry["watermark"] = [dict(item=i, **d.to_json()) for (i, _), d in zip(items, detections)]
                marked = all(d.detected for d in detections) and bool(detections)
                pii = self._pii_counts([text for _, text in items])
                entry["pii"] = pii
                if pii and self.rules.pii:
                    violations.append("pii")
            else:
                detection = detect_value(path, self.keys, alpha=self.rules.alpha)
                entry["watermark"] = detection.to_json()
                marked = detection.detected
        except InputError as exc:  # unreadable or too small: reported, not fatal for the audit
            entry["error"] = str(exc)
            violations.append("unreadable")
            marked = True  # already a violation; do not double count
        if not marked and self.rules.require_watermark:
            violations.append("unmarked")
        entry["violations"] = violations
        return entry

    def _manifest(self, path: Path) -> dict[str, Any]:
        """The sidecar manifest's state, else an embedded C2PA manifest's (c2pa_embed.py)."""
        if not manifest_path(path).exists():
            from .c2pa_embed import embedded_state

            return embedded_state(path, self.c2pa_anchors) or {"state": "missing"}
        try:
            claim = verify_manifest(path, self.trusted)
        except (IntegrityError, InputError) as exc:
            return {"state": "invalid", "reason": str(exc)}
        return {"state": "valid", "generator": claim.get("generator"), "run_id": claim.get("run_id"),
                "created": claim.get("created")}

    def _pii_counts(self, texts: list[str]) -> dict[str, int]:
        """Entity type -> count; never the values."""
        if self._pii is None:
            from ..privacy.detect import PiiDetector

            self._pii = PiiDetector(self.rules.pii_entities, self.rules.pii_threshold)
        return dict(Counter(span.entity for text in texts for span in self._pii.analyze(text)))

    def describe_pii(self) -> dict[str, Any] | None:
        return None if self._pii is None else self._pii.describe()

"""The `pii` gate: find personal data in text outputs, then report, anonymize or block.

Suite usage:
    gates:
      - use: pii
        args: {action: block, entities: [EMAIL_ADDRESS, PHONE_NUMBER], threshold: 0.5}

`ner_model` (optional): an installed spaCy package, a spaCy pipeline directory or a
transformers token-classification directory (relative to the suite) for PERSON/LOCATION; without it an installed
en_core_web_* model is used if present, else the built-in gazetteer detector.

`report` allows outputs and records findings; `anonymize` rewrites the spans (the
anonymized text is what gets scored and stored); `block` stops the run when any finding
remains. Findings and reasons carry sample ids, entity types, offsets, scores and counts,
never the values. Non-text outputs (images, audio, numbers) pass untouched.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Literal

from ..errors import SpecError
from .base import Decision, Finding, GateContext, GateItem


class PiiGate:
    """Find personal data in text outputs, then report, anonymize or block."""
    name = "pii"

    def __init__(
        self,
        action: Literal["report", "anonymize", "block"] = "report",
        entities: list[str] | None = None,
        threshold: float = 0.5,
        operator: Literal["replace", "mask", "redact", "pseudonym"] = "replace",
        ner_model: Path | None = None,
        phone_regions: list[str] | None = None,
    ):
        from ..privacy.anonymize import Anonymizer, load_pseudonym_key
        from ..privacy.detect import PiiDetector

        if action not in ("report", "anonymize", "block"):
            raise SpecError(f"action must be report, anonymize or block (got {action!r})")
        self.action = action
        # A directory resolves relative to the suite file; anything else is a spaCy package name.
        model = None if ner_model is None else str(ner_model) if ner_model.exists() else ner_model.name
        self.detector = PiiDetector(entities, threshold, model, phone_regions)
        self.anonymizer = None
        if action == "anonymize":
            key = load_pseudonym_key() if operator == "pseudonym" else None
            self.anonymizer = Anonymizer(operator, key=key)

    def __call__(self, items: list[GateItem], ctx: GateContext) -> Decision:
        findings: list[Finding] = []
        out: list[GateItem] = []
        changed = False
        for item in items:
            if not isinstance(item.output, str):
                out.append(item)
                continue
            spans = self.detector.analyze(item.output)
            findings += [
                Finding(item.id, item.model, s.entity, {"start": s.start, "end": s.end, "score": round(s.score, 3)})
                for s in spans
            ]
            if spans and self.anonymizer is not None:
                out.append(GateItem(item.id, item.model, self.anonymizer.anonymize(item.output, spans)))
                changed = True
            else:
                out.append(item)
        if self.action == "block" and findings:
            return Decision("block", items, findings, reason=self._reason(findings))
        return Decision("transform" if changed else "allow", out, findings)

    @staticmethod
    def _reason(findings: list[Finding]) -> str:
        counts = Counter(f.kind for f in findings)
        models = sorted({f.model for f in findings})
        samples = len({(f.model, f.sample_id) for f in findings})
        kinds = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.items()))
        return f"pii gate blocked outputs of model {', '.join(map(repr, models))}: {kinds} in {samples} sample(s)"

    def describe(self) -> dict[str, Any]:
        info = {"action": self.action, **self.detector.describe()}
        if self.anonymizer is not None:
            info["anonymizer"] = self.anonymizer.describe()
        return info

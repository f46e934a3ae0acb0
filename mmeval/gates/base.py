"""The gate contract: `gate(samples, ctx) -> Decision(action, samples, findings)`.

Each batch of a model's outputs reaches every gate as GateItems (sample id, model name,
output). A gate allows them, transforms them (e.g. anonymizes text; the transformed
outputs are what gets scored and stored) or blocks the run. Findings hold identifiers,
types and counts, never the values they found.

A gate that counts what it did for its `describe()` (the watermark gate's marked
outputs) also has `shard_state()` and `absorb(state)`: on a distributed run each rank's
gate counts its shard and rank 0's absorbs the others before the report describes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Action = Literal["allow", "transform", "block"]


@dataclass(frozen=True)
class GateItem:
    """One output under review."""

    id: str
    model: str
    output: Any


@dataclass(frozen=True)
class Finding:
    """What a gate saw in one sample: a type and where, never the value itself."""

    sample_id: str
    model: str
    kind: str  # e.g. "EMAIL_ADDRESS", "watermark-missing"
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Decision:
    action: Action
    items: list[GateItem]
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""


@dataclass
class GateContext:
    """What a gate may need to know about the run."""

    suite_name: str
    suite_sha256: str
    run_id: str
    run_dir: Any  # Path of the run being written (temporary until the run completes)
    seed: int
    extras: dict[str, Any] = field(default_factory=dict)


class Gate(Protocol):
    name: str

    def __call__(self, items: list[GateItem], ctx: GateContext) -> Decision: ...

    def describe(self) -> dict[str, Any]:
        """What the report should say about this gate (name, settings, detectors that ran)."""
        ...


class KeyedCounts:
    """For a gate that signs or checks under one key and counts what it did (`_keys`,
    `_counts`): each rank hands rank 0 its key id and counts (`shard_state`); rank 0 adds
    them up (`absorb`), refusing ranks that signed with another key, or the report would
    vouch for manifests it cannot."""

    name: str
    _keys: Any
    _counts: Any  # a collections.Counter

    def shard_state(self) -> tuple[str | None, Any]:
        from collections import Counter

        return self._key_id(), Counter(self._counts)

    def absorb(self, state: tuple[str | None, Any]) -> None:
        key_id, counts = state
        if key_id != self._key_id():
            from ..errors import IntegrityError

            raise IntegrityError(f"gate {self.name!r}: ranks signed with different keys ({self._key_id()} and {key_id}); "
                                 "give every node the same key ring")
        self._counts.update(counts)

    def _key_id(self) -> str | None:
        return self._keys.key_id if self._keys else None

"""`replay`: precomputed outputs from a JSONL file of `{"id", "output"}` lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..data import resolve_value, sample_id
from ..errors import InputError


class Replay:
    """Outputs produced elsewhere, looked up by sample id.

    Only a byte offset per id is kept in memory; outputs are read when asked for.
    Example: `use: replay` with `args: {path: outputs/candidate.jsonl}`.
    """

    runs_model = False

    def __init__(self, path: Path):
        self.path = path
        self._offsets: dict[str, int] = {}
        offset = 0
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise InputError(f"{path}: replay file not found") from None
        with handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    obj = self._parse(raw, number)
                    sid = sample_id(obj, path, number)
                    if "output" not in obj:
                        raise InputError(f"{path}:{number}: sample {sid!r} has no 'output'")
                    if sid in self._offsets:
                        raise InputError(f"{path}:{number}: duplicate id {sid!r}")
                    self._offsets[sid] = offset
                offset += len(raw)

    def _parse(self, raw: bytes, number: int) -> dict[str, Any]:
        try:
            obj = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path}:{number}: invalid JSON ({getattr(exc, 'msg', 'not UTF-8')})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{self.path}:{number}: expected a JSON object")
        return obj

    def check_ids(self, ids: Iterable[str]) -> None:
        """Fail before anything runs if the file lacks outputs for some dataset ids."""
        missing = [i for i in ids if i not in self._offsets]
        if missing:
            shown = ", ".join(repr(i) for i in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise InputError(f"{self.path}: no output for id {shown}{more}")

    def generate(self, inputs: Sequence[Any], *, seed: int, ids: Sequence[str]) -> list[Any]:
        self.check_ids(ids)
        outputs = []
        with self.path.open("rb") as handle:
            for sid in ids:
                handle.seek(self._offsets[sid])
                obj = self._parse(handle.readline(), 0)
                outputs.append(resolve_value(obj["output"], self.path.parent, f"{self.path} (id {sid!r})"))
        return outputs

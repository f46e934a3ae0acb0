"""Per-sample records (`records.jsonl`): trace every number in a report to its samples.

One line per (sample, model): `{"id", "model", "metrics": {label: value}, "states":
{label: encoded state}, "output_sha256", "preview"}`, plus `"gates": {gate: [finding
kinds]}` when a gate found something in it. `states` (see `state_codec.py`, at most
4 KB each) let `mmeval compare` recompute each run's corpus-level value on paired
resamples of sample ids.
Previews are short and redacted (e-mail addresses, phone and card numbers become
`<PII>`, see `previews.py`); raw outputs never enter the run directory.

The recorder also keeps each sample's metric state (when small) so the runner can
bootstrap confidence intervals by merging resampled states (see `bootstrap.py`);
set-level metrics get theirs from their final state instead (`set_bootstrap.py`).
Metrics with per-sample statistics (metrics/base.py) hand over a batch's rows instead
(`score_rows`): values, states and the bootstrap then come from arrays, with no
metric call per sample.

Sealed runs: with an encrypted store (`SampleRecorder(..., store=...)`, any object with
`put(id, value)`), records never touch the disk in plaintext. Each batch's lines are
sealed as one store record `records.jsonl#<batch number>` as they are written (no `/`,
so never an output record's `model/sample` id), and
`sealed_records_text` joins them back for readers such as `mmeval compare`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..media.blob import MediaBlob, output_file
from .bootstrap import MAX_STATE_BYTES, bootstrap_interval, headline, resamples_for, state_bytes, stats_interval
from .previews import output_digests

RECORDS = "records.jsonl"
# A sample's state is kept in its record (for `mmeval compare`) up to this JSON size:
# confusion cells, BLEU n-gram sums and error sums are far below it; feature rows are not.
MAX_RECORD_STATE_BYTES = 4096


def media_path(path: Path, run_dir: Path) -> str:
    """A media output's location: relative to the run directory when inside it (the run
    is written to a staging folder first), else absolute."""
    resolved, root = path.resolve(), run_dir.resolve()
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)


class SampleRecorder:
    """Collects per-sample metric values, states and output digests during a run.

    Records stream to `records.jsonl` batch by batch and states are kept as at most
    `MAX_UNITS` blocks (adjacent samples merged once there are more), so memory stays
    bounded whatever the dataset size; with blocks the interval is a block bootstrap.
    """

    MAX_UNITS = 2048

    def __init__(self, path: Path, resamples: int | None = None, seed: int = 0, keep_states: bool = True, store: Any = None):
        self.path = path
        self.resamples = resamples
        self.seed = seed
        self.keep_states = keep_states
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}  # (model, id) -> record of the current batch
        self.units: dict[tuple[str, str], Any] = {}  # (label, model) -> _Units, or None when too large
        self.store = store
        self._batches = 0
        self._handle = None if store is not None else path.open("w", encoding="utf-8")

    def on_outputs(self, model: str, batch: Sequence[Any], outputs: Sequence[Any], seconds: float = 0.0) -> None:
        for sample, output, (digest, preview) in zip(batch, outputs, output_digests(outputs)):
            row = self.rows.setdefault((model, sample.id), {"id": sample.id, "model": model, "metrics": {}})
            row.update(output_sha256=digest, preview=preview)
            if isinstance(output, MediaBlob):  # where the report's gallery finds the media file
                row["media"] = media_path(output_file(self.path.parent, model, output), self.path.parent)
            elif isinstance(output, Path):
                row["media"] = media_path(output, self.path.parent)

    def note_findings(self, gate: str, findings: Sequence[Any]) -> None:
        """What a gate found in each sample (kinds only, e.g. EMAIL_ADDRESS): badges in the report."""
        for f in findings:
            row = self.rows.setdefault((f.model, f.sample_id), {"id": f.sample_id, "model": f.model, "metrics": {}})
            kinds = row.setdefault("gates", {}).setdefault(gate, [])
            if f.kind not in kinds:
                kinds.append(f.kind)

    def finish(self, report: dict[str, Any], run_dir: Path) -> None:  # RunObserver protocol
        pass

    def score(self, label: str, metric: Any, model: str, ids: Sequence[str], outputs: Sequence[Any], targets: Sequence[Any]) -> None:
        """Per-sample states of one batch (the metric's own update on one sample each)."""
        if set_level(metric):
            # A set-level metric has no per-sample value, and updating it one sample at a
            # time would re-run its feature network unbatched (FID: minutes per run).
            return
        key = (label, model)
        if key not in self.units:
            self.units[key] = _Units(metric, self.MAX_UNITS) if self.keep_states else None
        elif isinstance(self.units[key], _RowBlocks):  # the metric's rows stopped (stats_ready)
            self.units[key] = self.units[key].as_units(metric)
        units = self.units[key]
        for sample_id, output, target in zip(ids, outputs, targets):
            state = metric.update(metric.init(), [output], [target])
            value = headline(metric, state)
            value = value if math.isfinite(value) else None
            row = self.rows.setdefault((model, sample_id), {"id": sample_id, "model": model, "metrics": {}})
            row["metrics"][label] = value
            encoded = record_state(state)
            if encoded is not None:  # `mmeval compare` rebuilds corpus statistics from these
                row.setdefault("states", {})[label] = encoded
            if units is not None:
                if units.count == 0 and state_bytes(state) > MAX_STATE_BYTES:
                    self.units[key] = units = None  # too large to keep per sample (e.g. FID features)
                else:
                    units.add(state)

    def score_rows(self, label: str, metric: Any, model: str, ids: Sequence[str], rows: Any) -> None:
        """Per-sample values and states of one batch from its statistic rows (`sample_stats`,
        metrics/base.py): one vectorised `stats_values` call, no metric call per sample."""
        key = (label, model)
        if key not in self.units:
            self.units[key] = _RowBlocks(self.MAX_UNITS) if self.keep_states else None
        values = metric.stats_values(rows).tolist()
        for sample_id, row, value in zip(ids, rows, values):
            record = self.rows.setdefault((model, sample_id), {"id": sample_id, "model": model, "metrics": {}})
            record["metrics"][label] = value if math.isfinite(value) else None
            encoded = record_state(metric.stats_state(row))
            if encoded is not None:
                record.setdefault("states", {})[label] = encoded
        units = self.units[key]
        if units is not None:
            units.add(rows)

    def flush(self, batch_number: int | None = None) -> None:
        """Write (or seal) the current batch's records; called by the runner after each batch
        with the batch's number in the whole dataset, so that the sealed batch records of
        every rank of a distributed run sort into one sequence."""
        self._batches = self._batches + 1 if batch_number is None else batch_number
        text = "".join(json.dumps(row, sort_keys=True, default=str) + "\n" for row in self.rows.values())
        self.rows.clear()
        if self._handle is not None:
            self._handle.write(text)
        elif text:
            self.store.put(f"{RECORDS}#{self._batches:08d}", text)

    def intervals(self, label: str, metric: Any, model: str) -> tuple[float, float] | None:
        units = self.units.get((label, model))
        if units is None or units.count < 2:
            return None
        if isinstance(units, _RowBlocks):
            return stats_interval(metric, units.rows(), resamples=resamples_for(metric, self.resamples), seed=self.seed)
        return bootstrap_interval(metric, units.states(), resamples=resamples_for(metric, self.resamples), seed=self.seed)

    def interval_fields(self, label: str, metric: Any, model: str, state: Any) -> dict[str, Any]:
        """The interval fields of a headline result: a per-sample bootstrap from the kept
        states, or for a set-level metric a set-level bootstrap of its final `state`."""
        if not self.keep_states:  # bootstrap turned off
            return {}
        if set_level(metric):
            from .set_bootstrap import set_interval_fields

            return set_interval_fields(metric, state, resamples=resamples_for(metric, self.resamples), seed=self.seed)
        ci = self.intervals(label, metric, model)
        if ci is None:
            return {}
        note = getattr(ci, "note", "")  # the interval was clipped to the range or extended to the value
        return {"ci_low": ci[0], "ci_high": ci[1], **({"ci_note": note} if note else {})}

    def shard_units(self, metrics: dict[str, Any]) -> dict[tuple[str, str], ShardUnits | None]:
        """The kept states as plain values for rank 0's recorder (`absorb_units`): states,
        never rows (a row's columns follow this process's confusion cells), and no metric."""
        shipped: dict[tuple[str, str], ShardUnits | None] = {}
        for key, units in self.units.items():
            rows = isinstance(units, _RowBlocks)
            if rows:
                units = units.as_units(metrics[key[0]])
            shipped[key] = None if units is None else ShardUnits(units.states(), units.count, rows)
        return shipped

    def absorb_units(self, metrics: dict[str, Any], shipped: dict[tuple[str, str], ShardUnits | None]) -> None:
        """Append another rank's kept states (the next samples in dataset order) to these.
        Ranks of up to `MAX_UNITS` samples per metric ship one state per sample, which this
        replays as the single process added them, so the interval is the same; beyond,
        their blocks join as units."""
        for key, theirs in shipped.items():
            mine = self.units.get(key, _ABSENT)
            if theirs is None or mine is None:
                self.units[key] = None  # too large to keep on some rank: no per-sample interval
                continue
            metric = metrics[key[0]]
            rows = theirs.rows and callable(getattr(metric, "state_stats", None))
            if mine is _ABSENT:
                mine = _RowBlocks(self.MAX_UNITS) if rows else _Units(metric, self.MAX_UNITS)
            if isinstance(mine, _RowBlocks) and rows:
                if theirs.states:
                    mine.add(_stacked([metric.state_stats(state) for state in theirs.states]))
            else:
                mine = mine.as_units(metric) if isinstance(mine, _RowBlocks) else mine
                for state in theirs.states:
                    mine.add(state)
            mine.count += theirs.count - len(theirs.states)
            self.units[key] = mine

    def close(self) -> str:
        """Finish the records; returns where they are (the report's `records` field)."""
        if self.rows:
            self.flush()
        if self._handle is None:
            return f"store:{RECORDS}"
        self._handle.close()
        return self.path.name


@dataclass
class ShardUnits:
    """One rank's kept states (blocks of adjacent samples, in order) and their sample count."""

    states: list[Any]
    count: int
    rows: bool  # the metric gave statistic rows on that rank


_ABSENT = object()


def _stacked(rows: list[Any]) -> Any:
    """Rows of possibly different widths (cells a rank saw later) as one zero-padded array."""
    import numpy as np

    width = max(len(row) for row in rows)
    return np.stack([np.pad(row, (0, width - len(row))) for row in rows])


class _Units:
    """Per-sample states, merged pairwise into blocks when there are more than `limit`."""

    def __init__(self, metric: Any, limit: int):
        self.metric, self.limit = metric, limit
        self.blocks: list[Any] = []
        self.block_size, self.pending, self.pending_n, self.count = 1, None, 0, 0

    def add(self, state: Any) -> None:
        self.count += 1
        self.pending = state if self.pending is None else self.metric.merge(self.pending, state)
        self.pending_n += 1
        if self.pending_n == self.block_size:
            self.blocks.append(self.pending)
            self.pending, self.pending_n = None, 0
            if len(self.blocks) >= self.limit:
                merge = self.metric.merge
                self.blocks = [merge(self.blocks[i], self.blocks[i + 1]) for i in range(0, len(self.blocks) - 1, 2)]
                self.block_size *= 2

    def states(self) -> list[Any]:
        return self.blocks + ([self.pending] if self.pending is not None else [])


class _RowBlocks:
    """Per-sample statistic rows summed into blocks of adjacent samples, as `_Units` merges
    states: the same blocks, so the same block bootstrap, held as one array."""

    def __init__(self, limit: int):
        import numpy as np

        self.limit, self.block_size, self.count = limit, 1, 0
        self.blocks = np.zeros((0, 0))
        self.pending, self.pending_n = np.zeros(0), 0

    def add(self, rows: Any) -> None:
        rows = self._widen(rows)
        self.count += len(rows)
        while len(rows):
            size = self.block_size
            if self.pending_n:  # complete the open block first
                take = min(size - self.pending_n, len(rows))
                self.pending, self.pending_n, rows = self.pending + rows[:take].sum(axis=0), self.pending_n + take, rows[take:]
                if self.pending_n == size:
                    self._append(self.pending[None])
                    self.pending_n = 0
                continue
            full = min(len(rows) // size, self.limit - len(self.blocks))
            if full:
                self._append(rows[: full * size].reshape(full, size, -1).sum(axis=1))
                rows = rows[full * size:]
            else:
                self.pending, self.pending_n, rows = rows.sum(axis=0), len(rows), rows[:0]

    def _append(self, blocks: Any) -> None:
        import numpy as np

        self.blocks = np.concatenate([self.blocks, blocks]) if len(self.blocks) else blocks
        if len(self.blocks) >= self.limit:
            self.blocks = self.blocks[0::2] + self.blocks[1::2]
            self.block_size *= 2

    def _widen(self, rows: Any) -> Any:
        """Rows, blocks and the open block padded to one width (a confusion table gains
        a column for each new cell)."""
        import numpy as np

        width = max(rows.shape[1], self.blocks.shape[1], len(self.pending))
        pad = lambda a, axis: a if a.shape[axis] == width else np.pad(a, [(0, 0)] * axis + [(0, width - a.shape[axis])])
        self.blocks, self.pending = pad(self.blocks, 1) if len(self.blocks) else self.blocks, pad(self.pending, 0)
        return pad(rows, 1)

    def as_units(self, metric: Any) -> _Units:
        """The same blocks as states, for a metric that goes on without rows."""
        units = _Units(metric, self.limit)
        units.blocks = [metric.stats_state(row) for row in self.blocks]
        units.block_size, units.count, units.pending_n = self.block_size, self.count, self.pending_n
        units.pending = metric.stats_state(self.pending) if self.pending_n else None
        return units

    def rows(self) -> Any:
        import numpy as np

        return np.concatenate([self.blocks, self.pending[None]]) if self.pending_n else self.blocks


def set_level(metric: Any) -> bool:
    from .bootstrap import SET_LEVEL

    return getattr(metric, "name", "") in SET_LEVEL or bool(getattr(metric, "set_level", False))


def record_state(state: Any) -> Any:
    """The JSON form of one sample's metric state for its record, or None when the
    codec cannot carry it or it is bigger than `MAX_RECORD_STATE_BYTES`."""
    from .state_codec import UnencodableState, encode_state

    try:
        encoded = encode_state(state)
    except UnencodableState:
        return None
    return encoded if len(json.dumps(encoded, separators=(",", ":"))) <= MAX_RECORD_STATE_BYTES else None


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / RECORDS
    if not path.is_file():
        return []
    return parse_records(path.read_text(encoding="utf-8"), str(path))


def sealed_records_text(store: Any, name: str = RECORDS) -> str:
    """The records of a sealed run as JSONL text: its batch records in order (or, for runs
    sealed before batches were, the one record `name`)."""
    ids = store.ids()
    if name in ids:
        return store.get(name)
    return "".join(store.get(i) for i in ids if i.startswith(name + "#"))


def parse_records(text: str, where: str) -> list[dict[str, Any]]:
    """Records from JSONL text; a line that is not a record object raises InputError."""
    from ..errors import InputError

    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            raise InputError(f"{where}:{number}: not valid JSON") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("model"), str):
            raise InputError(f"{where}:{number}: not a record (needs string 'id' and 'model')")
        rows.append(row)
    return rows

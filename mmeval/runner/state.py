"""The run's state as one mergeable value: a `Shard` per rank, merged on rank 0.

A shard holds what the report needs from a rank: metric states and sample counts, the
kept per-sample states (intervals), gate findings, efficiency figures, the report
entries its observers added, and, from ranks other than 0, the files it wrote (media,
provenance manifests, sealed store records, `records.jsonl`). A single process is the
one-shard case: merging one shard changes nothing.

Ranks hold contiguous batches in rank order, so merging in rank order is merging in
dataset order: records concatenate into the single process's file, and the batch states
of metrics with per-sample statistics fold in one by one, as one process folds them, so
even their float sums are bit-identical. Other states merge whole (FID's feature rows
concatenate; a float sum folded by `update` may then differ in its last bits).
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..efficiency import EfficiencyTracker
from ..errors import IntegrityError
from ..fsutil import write_atomic
from ..report.records import RECORDS, SampleRecorder
from ..suite import Suite


@dataclass
class GateLog:
    findings: dict[str, Counter] = field(default_factory=dict)  # gate -> (model, kind) -> count
    actions: dict[str, Counter] = field(default_factory=dict)  # gate -> action -> batches
    blocked_reason: str = ""

    def absorb(self, other: GateLog) -> None:
        for gate, counts in other.findings.items():
            self.findings.setdefault(gate, Counter()).update(counts)
        for gate, counts in other.actions.items():
            self.actions.setdefault(gate, Counter()).update(counts)
        self.blocked_reason = self.blocked_reason or other.blocked_reason  # the first rank's, in dataset order


@dataclass
class Shard:
    rank: dict[str, Any]  # rank, host, device (distributed.rank_info)
    batches: tuple[int, int]  # first batch number and the one after the last
    states: dict[tuple[str, str], Any] = field(default_factory=dict)  # (metric label, model) -> state
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    gate_log: GateLog = field(default_factory=GateLog)
    efficiency: EfficiencyTracker = field(default_factory=EfficiencyTracker)
    report_entries: dict[str, Any] = field(default_factory=dict)  # observers' `finish`
    gate_states: list[Any] = field(default_factory=list)  # each gate's `shard_state()` (None without one)
    samples: int = 0
    seconds: float = 0.0
    # Ranks > 0: each batch's state of metrics with per-sample statistics (None: some batch
    # went through update), so rank 0 folds them in as one process would have, batch by batch.
    batch_states: dict[tuple[str, str], list[Any] | None] | None = None
    units: dict[tuple[str, str], Any] = field(default_factory=dict)  # SampleRecorder.shard_units (ranks > 0)
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # path in the run -> (bytes, mode) (ranks > 0)

    def figures(self) -> dict[str, Any]:
        """This rank's line of the report's `ranks` section."""
        return {**self.rank, "batches": list(self.batches), "samples": self.samples, "seconds": self.seconds,
                "models": self.efficiency.rank_figures()}


def ship(shard: Shard, recorder: SampleRecorder, suite: Suite, folder: Path) -> Shard:
    """A rank's shard ready to leave its process: kept states as plain values, what its
    gates counted, the modules its models loaded, and every file it wrote."""
    recorder.close()
    shard.gate_states = [getattr(gate, "shard_state", lambda: None)() for gate in suite.gates]
    shard.efficiency.note_adapters(suite.models)
    shard.units = recorder.shard_units({bm.label: bm.metric for bm in suite.metrics})
    shard.files = folder_files(folder)
    return shard


def merge(suite: Suite, shards: list[Shard], recorder: SampleRecorder, run_dir: Path) -> Shard:
    """Rank 0's shard with every other rank's folded in, in rank order; their files are
    placed into `run_dir` and their kept states into rank 0's `recorder`."""
    merged, metrics = shards[0], {bm.label: bm.metric for bm in suite.metrics}
    for shard in shards[1:]:
        for key, state in shard.states.items():
            merge_state, batches = metrics[key[0]].merge, (shard.batch_states or {}).get(key)
            for part in [state] if batches is None else batches:
                merged.states[key] = merge_state(merged.states[key], part)
            merged.counts[key] += shard.counts[key]
        merged.gate_log.absorb(shard.gate_log)
        for gate, state in zip(suite.gates, shard.gate_states):
            if state is not None:
                gate.absorb(state)
        merged.efficiency.absorb(shard.efficiency, suite.models)
        merged.report_entries = merged_entries(merged.report_entries, shard.report_entries)
        merged.samples += shard.samples
        recorder.absorb_units(metrics, shard.units)
        place_files(run_dir, shard.files, shard.rank["rank"])
    return merged


def merged_entries(a: dict[str, Any], b: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Two ranks' report entries as one (RunObserver.finish: their numbers are counts):
    counts add up, anything else must be equal."""
    out = dict(a)
    for key, value in b.items():
        if key not in out:
            out[key] = value
        elif isinstance(value, dict) and isinstance(out[key], dict):
            out[key] = merged_entries(out[key], value, f"{where}{key}.")
        elif isinstance(value, int) and isinstance(out[key], int) and not isinstance(value, bool):
            out[key] += value
        elif out[key] != value:
            raise IntegrityError(f"ranks disagree on report entry {where}{key}: {out[key]!r} and {value!r}")
    return out


def folder_files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every regular file under `folder` (no links followed), by its path inside it."""
    files = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                files[path.relative_to(folder).as_posix()] = (path.read_bytes(), stat.S_IMODE(info.st_mode))
    return files


def place_files(run_dir: Path, files: dict[str, tuple[bytes, int]], rank: int) -> None:
    """Write a rank's files into the run: its records after those before it; any other
    file new, or byte-equal to the one there (a store's manifest)."""
    for name, (data, mode) in sorted(files.items()):
        parts = Path(name).parts
        if Path(name).is_absolute() or ".." in parts or not parts:
            raise IntegrityError(f"rank {rank} sent a file outside the run: {name!r}")
        path = run_dir / name
        if name == RECORDS:
            with path.open("ab") as handle:
                handle.write(data)
        elif path.exists() or path.is_symlink():
            if path.is_symlink() or path.read_bytes() != data:
                raise IntegrityError(f"rank {rank} wrote {name}, which another rank wrote differently")
        else:
            write_atomic(path, data, mode=mode & 0o777)

"""The orchestrator of `mmeval run`: plan, execute a shard, merge, decide, report.

It is the only package that imports every subpackage. One process runs the one shard of
all batches; under torchrun each rank runs its own shard (distributed.py), rank 0 merges
them (state.py), decides and writes the one signed report, and the other ranks write
nothing into the run directory (they work in a private folder whose files travel to
rank 0). Either way a run appears complete and signed, or not at all.

    plan.py    load the suite and dataset; bind adapters, gates and observers
    shard.py   generate, gate, observe and score one shard's batches
    state.py   the mergeable run state (`Shard`) and how shards merge
    decide.py  values, thresholds and the status
    report.py  the report and its signed files
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..distributed import Failed, RankFailure, World, current_world, joined
from ..errors import InputError
from ..gates.base import GateContext
from ..runinfo import utc_now
from ..staging import private_directory, staged_directory
from ..suite import Suite
from .plan import Plan, RunObserver, bind, default_observers, load_plan
from .report import REPORT_FORMAT_VERSION, build_report, write_report_files
from .shard import execute_shard
from .state import merge, ship

__all__ = ["REPORT_FORMAT_VERSION", "RunObserver", "RunResult", "default_observers", "default_run_dir", "run", "write_report_files"]


@dataclass
class RunResult:
    status: str  # pass | fail | blocked | ungated
    run_dir: Path
    report: dict[str, Any]  # empty on ranks other than 0

    @property
    def exit_code(self) -> int:
        return 0 if self.status in ("pass", "ungated") else 1  # ungated: nothing failed, nothing was gated


def default_run_dir(suite_name: str, stamp: str) -> Path:
    return Path("reports") / suite_name / stamp


def run(
    suite_path: str | Path | Suite,
    out: Path | None = None,
    *,
    progress: bool = True,
    extras: dict[str, Any] | None = None,
    reuse_outputs: bool = False,
    force: bool = False,
    suite_sha256: str | None = None,
    limit: int | None = None,
    overrides: Sequence[str] = (),
) -> RunResult:
    """Run a suite end to end and write its report to `out` (atomically).

    Adapters with a `fingerprint()` get sample-level resume of a run that did not
    complete through `models.cache` (`reuse_outputs=True` also reuses a completed run's
    outputs; they are then not timed). `extras` reach gates and observers through
    `GateContext.extras` (e.g. `keyring`: seal raw outputs). `suite_sha256`: the suite
    bytes an access decision was made on; a file that differs when loaded is refused.
    `limit`: run a seeded subset of that many samples (the report says "N of M");
    `overrides`: `--set KEY=VALUE` over the suite file (overrides.py), recorded in the report.
    Under torchrun every rank calls this; rank 0's result has the report.
    """
    with _exits_are_failures(), joined(current_world()) as world:
        run_id, stamp = world.share((uuid.uuid4().hex, datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")))
        asked = _Asked(suite_path if isinstance(suite_path, Suite) else Path(suite_path), out, force, suite_sha256,
                       progress and world.primary, dict(extras or {}), reuse_outputs, run_id, stamp, limit, tuple(overrides))
        outcome = world.attempt(lambda: _run(world, asked))
        verdict = world.share(outcome if isinstance(outcome, Failed) else (outcome.status, str(outcome.run_dir)))
        if isinstance(verdict, Failed):  # every rank exits with the run's code; rank 0 says why
            raise RankFailure(verdict.message, verdict.exit_code, quiet=not world.primary)
        return outcome if world.primary else RunResult(verdict[0], Path(verdict[1]), {})


@dataclass(frozen=True)
class _Asked:
    """What `run` was asked for, plus the id and time stamp every rank shares."""

    suite_path: Path | Suite
    out: Path | None
    force: bool
    suite_sha256: str | None
    progress: bool
    extras: dict[str, Any]
    reuse_outputs: bool
    run_id: str
    stamp: str
    limit: int | None
    overrides: tuple[str, ...]


@dataclass
class _RankPart:
    """What one rank planned and ran: its folder, its shard and its records."""

    plan: Plan
    final: Path  # the run directory (rank 0's folder takes its place at the end)
    folder: Path
    ctx: GateContext
    observers: list[RunObserver]
    shard: Any = None
    recorder: Any = None


def _run(world: World, asked: _Asked) -> RunResult:
    started = utc_now()
    with ExitStack() as stack:  # closing it puts rank 0's run in place, or removes it on an error
        prepared = world.attempt(lambda: _prepare(world, stack, asked))
        world.check(prepared)  # no rank generates into a run that another rank could not start
        part = world.attempt(lambda: _execute(world, prepared, asked))
        shards = world.gather(part if isinstance(part, Failed) else part.shard)  # every rank comes here, failed or not
        if not world.primary:
            return RunResult("", Path(), {})
        failed = next((s for s in shards if isinstance(s, Failed)), None)
        if failed is not None:
            raise RankFailure(failed.message, failed.exit_code)
        ranks = [s.figures() for s in shards] if world.distributed else []  # each rank's own, before they merge
        records = part.recorder.close()  # before other ranks' records are appended to the file
        shard = merge(part.plan.suite, shards, part.recorder, part.folder)
        report = build_report(part.plan, asked.run_id, started, shard, part.recorder, ranks, asked.progress)
        report["records"] = records
        write_report_files(report, part.folder, asked.progress)
    return RunResult(report["status"], part.final, report)


def _prepare(world: World, stack: ExitStack, asked: _Asked) -> _RankPart:
    """Plan this rank's part and bind it to its folder: the staging run directory on rank 0,
    a private temporary folder elsewhere (both removed when the stack closes on an error)."""
    plan = load_plan(asked.suite_path, asked.suite_sha256, asked.overrides, asked.limit)
    final = asked.out or default_run_dir(plan.suite.name, asked.stamp)
    folder = stack.enter_context(staged_directory(final, replace=asked.force) if world.primary else private_directory())
    ctx = GateContext(plan.suite.name, plan.suite.sha256, asked.run_id, folder, plan.suite.spec.seed, dict(asked.extras))
    return _RankPart(plan, final, folder, ctx, bind(plan, ctx))


def _execute(world: World, part: _RankPart, asked: _Asked) -> _RankPart:
    """Run this rank's shard; ranks other than 0 then pack it to travel."""
    part.shard, part.recorder = execute_shard(part.plan, part.ctx, part.observers, world, progress=asked.progress,
                                              reuse_outputs=asked.reuse_outputs)
    if not world.primary:
        part.shard = ship(part.shard, part.recorder, part.plan.suite, part.folder)
    return part


@contextmanager
def _exits_are_failures() -> Iterator[None]:
    """A model, gate or metric that calls `sys.exit(0)` must not end the run green with no
    report: any SystemExit from inside a run is a failed run (exit 2, one line)."""
    try:
        yield
    except SystemExit as exc:
        raise InputError(f"a model, gate or metric called sys.exit({exc.code!r}) during the run; no report was written") from None

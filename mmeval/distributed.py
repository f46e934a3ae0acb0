"""The processes of one run: one (the default) or many, started by `torchrun`.

`torchrun --nproc-per-node N -m mmeval run suite.yaml` starts N copies of `mmeval run`
with RANK, WORLD_SIZE, LOCAL_RANK and a rendezvous in their environment; without those
variables a run is the single process it always was (`SINGLE`, whose collectives are
the identity and whose errors pass through untouched).

Each rank takes a contiguous range of whole batches (`World.shard`), so its batches are
the single process's batches and per-batch seeding gives the same outputs. The ranks
meet three times: `check` once every rank has planned (so a rank stops before its
models run when another cannot start), `gather` brings every rank's shard to rank 0 (an
error on a rank travels as a `Failed` instead, so nobody waits forever for it), and
`share` sends rank 0's outcome back, so every rank exits with the run's exit code. A rank that dies outright
(`kill -9`) is torchrun's to notice: it stops the others, whose SIGTERM unwinds like
Ctrl-C (cli.main), and a collective that loses its peer raises `RankFailure` too.

The backend is gloo on CPU and nccl on GPU (each rank on `cuda:LOCAL_RANK`); objects
travel pickled (`gather_object`), so ranks must trust each other: keep the rendezvous
on a private network.
"""

from __future__ import annotations

import os
import socket
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .errors import InputError, MmevalError

# A rank may wait at `gather` for the slowest shard: hours on a large suite, not gloo's 30 min.
COLLECTIVE_TIMEOUT = timedelta(hours=24)


class RankFailure(MmevalError):
    """A rank of the run failed; raised on every rank, printed by rank 0 only (`quiet`)."""

    def __init__(self, message: str, exit_code: int = 2, quiet: bool = False):
        super().__init__(message)
        self.exit_code = exit_code
        self.quiet = quiet


@dataclass(frozen=True)
class Failed:
    """What a failed rank sends instead of its shard: one line and the exit code."""

    message: str  # starts with the rank it happened on
    exit_code: int


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def primary(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, batches: int) -> range:
        """This rank's batch numbers: contiguous, the same for the same world size."""
        return range(self.rank * batches // self.size, (self.rank + 1) * batches // self.size)

    def attempt(self, work: Any) -> Any:
        """`work()`, or on a rank of a distributed run its failure as a `Failed` to send on."""
        if not self.distributed:
            return work()
        try:
            return work()
        except KeyboardInterrupt:  # SIGTERM: torchrun is stopping every rank
            raise
        except RankFailure as exc:  # already names its rank
            return Failed(str(exc), exc.exit_code)
        except MmevalError as exc:
            return Failed(f"rank {self.rank}: {exc}", exc.exit_code)
        except Exception as exc:  # noqa: BLE001 - a bug on one rank still fails the run in one line
            if os.environ.get("MMEVAL_DEBUG"):  # `--debug`: the traceback, from the rank it happened on
                traceback.print_exc()
            return Failed(f"rank {self.rank}: internal error ({type(exc).__name__}: {exc})", 2)

    def check(self, outcome: Any) -> None:
        """Stop every rank if any rank's `outcome` is a `Failed` (e.g. before models run,
        so that no rank generates for hours into a run rank 0 cannot write)."""
        if not self.distributed:
            return
        import torch.distributed as dist

        outcomes: list[Any] = [None] * self.size
        mine = outcome if isinstance(outcome, Failed) else None
        self._collective(lambda: dist.all_gather_object(outcomes, mine))
        failed = next((o for o in outcomes if o is not None), None)
        if failed is not None:
            raise RankFailure(failed.message, failed.exit_code)

    def gather(self, shard: Any) -> list[Any] | None:
        """Every rank's shard, in rank order, on rank 0 (None elsewhere)."""
        if not self.distributed:
            return [shard]
        import torch.distributed as dist

        shards: list[Any] | None = [None] * self.size if self.primary else None
        self._collective(lambda: dist.gather_object(shard, shards, dst=0))
        return shards

    def share(self, value: Any) -> Any:
        """Rank 0's `value`, on every rank."""
        if not self.distributed:
            return value
        import torch.distributed as dist

        box = [value if self.primary else None]
        self._collective(lambda: dist.broadcast_object_list(box, src=0))
        return box[0]

    def _collective(self, call: Any) -> None:
        try:
            call()
        except (RuntimeError, ValueError) as exc:  # gloo/nccl: a peer closed its connection or timed out
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RankFailure(f"rank {self.rank}: lost contact with the other ranks ({reason}); no report was written") from None


SINGLE = World()


def current_world() -> World:
    """The world torchrun's environment describes, or `SINGLE` without one."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return SINGLE
        return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")),
                     int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    except (KeyError, ValueError):
        raise InputError("WORLD_SIZE is set but RANK, LOCAL_RANK or LOCAL_WORLD_SIZE is missing or not a number; "
                         "start distributed runs with torchrun") from None


@contextmanager
def joined(world: World) -> Iterator[World]:
    """The process group of `world` for the duration of a run (nothing for `SINGLE`)."""
    if not world.distributed:
        yield world
        return
    import torch
    import torch.distributed as dist

    from .runinfo import chosen_device

    cuda = torch.cuda.is_available() and chosen_device() != "cpu"
    if cuda:  # "cuda" then means this rank's GPU for every model and metric
        torch.cuda.set_device(world.local_rank)
    try:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=COLLECTIVE_TIMEOUT)
    except (RuntimeError, ValueError) as exc:
        raise InputError(f"rank {world.rank}: cannot join the other ranks ({str(exc).splitlines()[0]})") from None
    try:
        yield world
    finally:
        dist.destroy_process_group()


def rank_info(world: World, device: str) -> dict[str, Any]:
    """Where a rank ran, for the report's per-rank figures."""
    return {"rank": world.rank, "host": socket.gethostname(), "device": f"{device}:{world.local_rank}" if device == "cuda" else device}

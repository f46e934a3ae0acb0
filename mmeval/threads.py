"""How many threads torch and the BLAS/OpenMP libraries use, chosen once per run.

torch, numpy's OpenBLAS and torch's OpenMP each size their own pool from the CPUs they
see, which a container's CPU quota does not shrink, and a thread that waits for a busy
core stalls the whole parallel region: on a loaded 2-core machine one diffusers call took
3.4 s on 2 threads and 0.07 s on 1. `mmeval run` calls `configure_threads` before
anything heavy loads, so all of them get one deliberate count (on a machine shared with
other jobs, `--threads 1` is often the fastest):

- `--threads N`, else `$MMEVAL_THREADS`, else one per physical core this process may run
  on (its CPU affinity, SMT siblings counted once, capped by a cgroup CPU quota), divided
  among the ranks torchrun started on this machine (LOCAL_WORLD_SIZE);
- torch intra-op threads: `torch.set_num_threads` when torch is loaded already, else
  OMP_NUM_THREADS, which torch reads when it loads (so the CLI's start-up imports no torch);
- OMP/MKL/OpenBLAS env vars, for the libraries that start later (and for child
  processes, which inherit them), and threadpoolctl's limits, for those already started.

Physical cores, not logical CPUs: two SMT siblings share one core's FMA units, so a
second thread on a core adds contention, not matmul throughput (torch's own default
counts the same way, but over the whole machine).

`threads_in_effect()` says what a run actually used; the report records it (runinfo.py).

    >>> configure_threads(1)["count"]
    1
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any

from .errors import SpecError

ENV_VAR = "MMEVAL_THREADS"
# Read by OpenMP, MKL and OpenBLAS when their pools start, which for numpy and scipy is at import.
_LIBRARY_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_MAX_THREADS = 1024  # more is a typo on any machine this runs on, and torch would try to honour it

_chosen: dict[str, Any] | None = None  # what configure_threads last set, for threads_in_effect


def configure_threads(requested: int | str | None = None) -> dict[str, Any]:
    """Set torch and BLAS/OpenMP threads to one count; return `threads_in_effect()`.

    `requested` is `--threads` (a string from the command line, or an int); None falls
    back to `$MMEVAL_THREADS` (unless empty), then to `available_cores()`. A count that is
    not a whole number from 1 to 1024 raises SpecError (exit 2) naming where it came from.
    """
    global _chosen
    count, source = _choose(requested)
    for name in _LIBRARY_ENV_VARS:  # torch sizes its pool from OMP_NUM_THREADS when it loads
        os.environ[name] = str(count)
    torch = sys.modules.get("torch")  # not imported here: a run that fails early never pays for it
    if torch is not None:
        torch.set_num_threads(count)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)  # called, not entered: the limit stays for the whole process
    _chosen = {"count": count, "source": source}
    return threads_in_effect()


def threads_in_effect() -> dict[str, Any]:
    """The count chosen and where it came from, and what torch and BLAS/OpenMP use now.

    `source` is `--threads`, `$MMEVAL_THREADS`, `cores` (the default), or `library
    defaults` when nothing was configured (the Python API without `mmeval run`).
    """
    info: dict[str, Any] = dict(_chosen) if _chosen else {"count": None, "source": "library defaults"}
    torch = sys.modules.get("torch")  # report what is loaded; never import torch just to ask
    info["torch"] = torch.get_num_threads() if torch is not None else None
    from threadpoolctl import threadpool_info

    pools = {pool["internal_api"]: pool["num_threads"] for pool in threadpool_info()}
    info["blas"] = dict(sorted(pools.items()))
    return info


def available_cores() -> int:
    """Physical cores this process may run on: affinity, SMT siblings once, cgroup quota."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    cores = _physical_cores(cpus) or len(cpus)
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota) if quota else cores)


def _choose(requested: int | str | None) -> tuple[int, str]:
    if requested is not None:
        return _parse(requested, "--threads"), "--threads"
    from_env = os.environ.get(ENV_VAR, "")
    if from_env.strip():  # set but empty (a CI template's blank input) means not set
        return _parse(from_env, f"${ENV_VAR}"), f"${ENV_VAR}"
    ranks = _local_ranks()
    if ranks > 1:  # torchrun started this many ranks on this machine: they share its cores
        return max(1, available_cores() // ranks), f"cores/{ranks} ranks"
    return available_cores(), "cores"


def _local_ranks() -> int:
    """Ranks of a torchrun run on this machine (LOCAL_WORLD_SIZE), 1 outside torchrun."""
    text = os.environ.get("LOCAL_WORLD_SIZE", "1").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 1


def _parse(value: int | str, where: str) -> int:
    text = str(value).strip()
    count = int(text) if text.isascii() and text.isdigit() else 0  # no sign, point, inner space or '²'
    if not 1 <= count <= _MAX_THREADS:
        shown = text if len(text) <= 20 else text[:20] + "..."
        raise SpecError(f"{where} must be a whole number of threads from 1 to {_MAX_THREADS}, got {shown!r}")
    return count


def _physical_cores(cpus: list[int]) -> int:
    """Distinct (package, core) pairs among `cpus`, from Linux sysfs; 0 where unreadable."""
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(((topology / "physical_package_id").read_text().strip(), (topology / "core_id").read_text().strip()))
        except OSError:
            return 0
    return len(cores)


def _cgroup_cpu_quota() -> int | None:
    """CPUs a cgroup v2 quota allows (`docker --cpus`), rounded up; None without a quota."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):
        return None

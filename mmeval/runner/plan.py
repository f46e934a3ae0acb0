"""Plan a run: load the suite and dataset, then bind adapters, gates and observers to the
folder a rank writes into (rank 0: the staging run directory; others: a private one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..data import Dataset, Sample
from ..errors import IntegrityError
from ..gates.base import GateContext
from ..suite import Suite, load_suite


class RunObserver(Protocol):
    """Watches a run: efficiency figures, encrypted raw outputs, per-sample records.

    `on_outputs` sees every model's gated outputs of every batch with the generation
    time; `finish` runs when a rank's shard is done and may add entries to the report
    (e.g. `store`) and files to the rank's folder. On many ranks their entries merge:
    equal values stay, counts add up (runner/state.py).
    """

    def on_outputs(self, model: str, batch: list[Sample], outputs: list[Any], seconds: float) -> None: ...

    def finish(self, report: dict[str, Any], run_dir: Path) -> None: ...


@dataclass
class Plan:
    suite: Suite
    dataset: Dataset


def load_plan(suite_path: str | Path | Suite, suite_sha256: str | None, overrides: Sequence[str] = (), limit: int | None = None) -> Plan:
    """The suite (a file with its `--set` overrides, or one built already: the Python API)
    and its dataset (a seeded `limit` of it), checked; nothing bound, nothing run.
    `suite_sha256`: the bytes an access decision was made on; a swapped file is refused."""
    suite = suite_path if isinstance(suite_path, Suite) else load_suite(suite_path, overrides)
    if suite_sha256 is not None and suite.sha256 != suite_sha256:
        raise IntegrityError(f"{suite_path}: the suite file changed after the access check; nothing was run")
    spec = suite.spec.dataset
    dataset = Dataset(suite.dataset_path, spec.format, spec.columns, spec.split)
    if limit is not None:
        dataset.limit(limit, suite.spec.seed)
    for adapter in suite.models.values():
        check = getattr(adapter, "check_ids", None)
        if check is not None:
            check(dataset.ids)
    return Plan(suite, dataset)


def bind(plan: Plan, ctx: GateContext) -> list[RunObserver]:
    """Adapters with `bind(ctx, model=name)` get the run context (e.g. to write media into
    `ctx.run_dir`), gates with `prepare(name, adapter, ctx, use)` see every adapter (e.g. to
    plug a text watermark into generation); returns the run's observers."""
    suite = plan.suite
    observers = default_observers(ctx)
    if suite.spec.review is not None:  # keep what raters will see of the chosen samples
        from ..review.material import ReviewMaterial

        observers.append(ReviewMaterial.planned(suite.spec.review, plan.dataset, suite.spec.seed, ctx.run_dir, sealed_store(observers)))
    for name, adapter in suite.models.items():
        bind_adapter = getattr(adapter, "bind", None)
        if bind_adapter is not None:
            bind_adapter(ctx, model=name)
        for gate in suite.gates:
            prepare = getattr(gate, "prepare", None)
            if prepare is not None:
                prepare(name, adapter, ctx, suite.spec.models[name].use)
    return observers


def sealed_store(observers: list[RunObserver]) -> Any:
    """The run's encrypted store (security/observer.py), or None when the run is not sealed."""
    return next((o.store for o in observers if getattr(o, "store", None) is not None), None)


def default_observers(ctx: GateContext) -> list[RunObserver]:
    """The observers every run gets. Features add theirs here."""
    ring = ctx.extras.get("keyring")
    if ring is not None:  # security: seal raw outputs into RUN_DIR/store/
        from ..security.observer import StoreObserver

        return [StoreObserver(ring, ctx.run_id, ctx.run_dir)]
    from ..media.blob import MediaWriter  # plaintext runs keep generated media as files

    return [MediaWriter(ctx.run_dir)]

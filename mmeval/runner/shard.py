"""Execute one shard of a run: generate, gate, observe and score its batches.

Work streams batch by batch, so memory holds one batch of outputs plus each metric's
state, whatever the dataset size. A single process runs the one shard of all batches.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ..data import Sample
from ..distributed import World, rank_info
from ..efficiency import EfficiencyTracker
from ..errors import InputError, MmevalError
from ..gates.base import Decision, GateContext, GateItem
from ..metrics.base import has_sample_stats, settled
from ..progress import Progress
from ..report.records import RECORDS, SampleRecorder
from ..runinfo import best_device
from ..suite import BoundMetric, Suite
from .plan import Plan, RunObserver, sealed_store
from .state import GateLog, Shard


def execute_shard(
    plan: Plan, ctx: GateContext, observers: list[RunObserver], world: World, *, progress: bool, reuse_outputs: bool
) -> tuple[Shard, SampleRecorder]:
    """Run this rank's batches into `ctx.run_dir`; returns its shard and its records."""
    suite, began = plan.suite, time.perf_counter()
    spec = suite.spec
    count = -(-len(plan.dataset) // spec.batch_size)
    batches = world.shard(count)
    if world.distributed and not batches:
        sys.stderr.write(f"warning: rank {world.rank} of {world.size} has no batch to run (the suite has {count} of "
                         f"{spec.batch_size} samples); a smaller batch_size spreads the work over every rank\n")
    shard = Shard(rank_info(world, best_device()), (batches.start, batches.stop), batch_states=None if world.primary else {})
    for bm in suite.metrics:
        for model in bm.models:
            shard.states[(bm.label, model)] = bm.metric.init()
            shard.counts[(bm.label, model)] = 0
    boot = spec.bootstrap
    sealed = sealed_store(observers)  # records are sealed as written
    recorder = SampleRecorder(Path(ctx.run_dir) / RECORDS, boot.resamples, spec.seed if boot.seed is None else boot.seed,
                              boot.resamples != 0, store=sealed)
    caches = _output_caches(suite, ctx, world, reuse_outputs)
    total = min(len(plan.dataset), batches.stop * spec.batch_size) - batches.start * spec.batch_size
    label = suite.name if not world.distributed else f"{suite.name} (rank {world.rank} of {world.size})"
    bar = Progress(f"{label}: batches", max(total, 0), enabled=progress, unit="samples")
    try:
        for number, batch in plan.dataset.batches(spec.batch_size, batches):
            outputs, seconds = {}, {}
            for name, adapter in suite.models.items():
                bar.doing(f"generating {name}")
                started = time.perf_counter()
                outputs[name] = _generate(name, adapter, batch, spec.seed, caches.get(name), shard.efficiency)
                seconds[name] = time.perf_counter() - started
            bar.doing("gates")
            outputs = _apply_gates(suite, batch, outputs, ctx, shard.gate_log, recorder)
            if shard.gate_log.blocked_reason:
                recorder.flush(number + 1)
                break
            for observer in [*observers, recorder]:
                for name in outputs:
                    observer.on_outputs(name, batch, outputs[name], seconds[name])
            bar.doing("scoring")
            for bm in suite.metrics:
                _score_batch(bm, batch, outputs, shard, recorder)
            recorder.flush(number + 1)
            shard.samples += len(batch)
            bar.update(len(batch))
    finally:
        bar.close()
    _warn_rejected(sum(cache.rejected for cache in caches.values()))  # at load and on lookup
    for cache in caches.values():  # this shard finished: a later run starts afresh unless asked to reuse
        cache.mark_complete()
    for bm in suite.metrics:  # before observers finish: a metric may still read media they remove
        for model in bm.models:
            shard.states[(bm.label, model)] = settled(bm.metric, shard.states[(bm.label, model)])
    for observer in observers:
        observer.finish(shard.report_entries, Path(ctx.run_dir))
    shard.seconds = time.perf_counter() - began
    return shard, recorder


def _output_caches(suite: Suite, ctx: GateContext, world: World, reuse_outputs: bool) -> dict[str, Any]:
    """Resume caches for adapters with a `fingerprint()`; a completed run's folder is
    reused only with `reuse_outputs`, else cleared (resume, not memoisation). Each rank of
    a distributed run has its own (its shard), so a rerun resumes every rank."""
    from ..models.cache import OutputCache, cache_key, cache_root, cache_secret

    root = cache_root()
    if root is None or ctx.extras.get("keyring") is not None:  # the cache holds plaintext outputs
        return {}
    fingerprinted = {name: a.fingerprint for name, a in suite.models.items() if getattr(a, "fingerprint", None) is not None}
    if not fingerprinted:
        return {}
    caches = {}
    try:
        secret = cache_secret()  # an unsafe secret file is an error (InputError), not a silent skip
        for name, fingerprint in fingerprinted.items():
            spec = suite.spec.models[name]
            shard = {"shard": [world.rank, world.size]} if world.distributed else {}
            key = cache_key(suite.sha256, name, spec.use, {**spec.args, **shard}, fingerprint(), suite.spec.seed)
            caches[name] = OutputCache(root, key, ctx.run_dir, secret, reuse_completed=reuse_outputs)
    except OSError as exc:  # resume is a convenience; never fail a run over it
        sys.stderr.write(f"warning: output cache {root} unusable ({exc.strerror}); running without resume\n")
        return {}
    return caches


def _warn_rejected(count: int) -> None:
    if count:
        sys.stderr.write(f"warning: output cache: ignored {count} batches or entries that failed authentication "
                         "(planted, edited or sealed by someone else); those outputs are generated again\n")


def _generate(name: str, adapter: Any, batch: list[Sample], seed: int, cache: Any, efficiency: EfficiencyTracker) -> list[Any]:
    """The batch's outputs: valid cache entries for the same input, the rest generated
    (and timed: only what is generated here counts towards efficiency)."""
    from ..models.cache import MISS, input_sha256

    hashes: dict[str, str] = {}
    reused: dict[str, Any] = {}
    if cache is not None:
        for s in batch:
            hashes[s.id] = input_sha256(s.input)
            hit = cache.lookup(s.id, hashes[s.id])
            if hit is not MISS:
                reused[s.id] = hit
    todo = [s for s in batch if s.id not in reused]
    ids = [s.id for s in todo]
    outputs: list[Any] = []
    if todo:
        try:
            with efficiency.measure(name, len(todo)):
                outputs = list(adapter.generate([s.input for s in todo], seed=seed, ids=ids))
        except MmevalError as exc:  # same error, same traceback, now naming the model
            _keep_partial(exc, ids, hashes, cache)
            exc.args = (f"model {name!r}: {exc}",)
            raise
        except Exception as exc:  # the adapter's own failure; --debug shows its traceback (chained)
            raise InputError(f"model {name!r} failed: {type(exc).__name__}: {exc}") from exc
        if len(outputs) != len(todo):
            raise InputError(f"model {name!r} returned {len(outputs)} outputs for {len(todo)} inputs")
        if cache is not None:
            cache.put(ids, [hashes[i] for i in ids], outputs)
    if reused:
        efficiency.note_reused(name, len(reused))
    made = dict(zip(ids, outputs))
    return [made[s.id] if s.id in made else reused[s.id] for s in batch]


def _keep_partial(exc: MmevalError, ids: list[str], hashes: dict[str, str], cache: Any) -> None:
    """An adapter failing part-way through a batch (e.g. an HTTP adapter out of retries) may
    attach what did finish as `exc.partial_outputs` ({position in the batch: output}); those
    are stored, so the next run resumes past them instead of asking again."""
    done = getattr(exc, "partial_outputs", None)
    if cache is None or not isinstance(done, dict) or not done:
        return
    keep = sorted(i for i in done if isinstance(i, int) and 0 <= i < len(ids))
    cache.put([ids[i] for i in keep], [hashes[ids[i]] for i in keep], [done[i] for i in keep])


def _apply_gates(
    suite: Suite, batch: list[Sample], outputs: dict[str, list[Any]], ctx: GateContext, log: GateLog, recorder: Any = None
) -> dict[str, list[Any]]:
    for gate in suite.gates:
        name = getattr(gate, "name", type(gate).__name__)
        for model in list(outputs):
            items = [GateItem(s.id, model, o) for s, o in zip(batch, outputs[model])]
            decision: Decision = gate(items, ctx)
            log.findings.setdefault(name, Counter()).update((f.model, f.kind) for f in decision.findings)
            if recorder is not None:
                recorder.note_findings(name, decision.findings)
            log.actions.setdefault(name, Counter())[decision.action] += 1
            if decision.action == "block":
                log.blocked_reason = decision.reason or f"gate {name!r} blocked outputs of model {model!r}"
                return outputs
            if decision.action == "transform":
                outputs[model] = [item.output for item in decision.items]
    return outputs


def _score_batch(bm: BoundMetric, batch: list[Sample], outputs: dict[str, list[Any]], shard: Shard, recorder: SampleRecorder) -> None:
    if bm.where:
        keep = [i for i, s in enumerate(batch) if all(s.meta.get(k) == v for k, v in bm.where.items())]
        if not keep:
            return
        batch = [batch[i] for i in keep]
        outputs = {name: [outs[i] for i in keep] for name, outs in outputs.items()}
    if bm.against:
        targets = outputs[bm.against]
    else:
        missing = [s.id for s in batch if s.target is None]
        if missing:
            raise InputError(f"metric {bm.label!r} needs targets, but sample {missing[0]!r} has none (or use 'against:')")
        targets = [s.target for s in batch]
    metric, ids = bm.metric, [s.id for s in batch]
    for model in bm.models:
        key = (bm.label, model)
        try:
            if has_sample_stats(metric):  # one call gives the batch's state and every sample's value
                rows = metric.sample_stats(outputs[model], targets)
                batch_state = metric.stats_state(rows.sum(axis=0))
                shard.states[key] = metric.merge(shard.states[key], batch_state)
                if shard.batch_states is not None and shard.batch_states.get(key, []) is not None:
                    shard.batch_states.setdefault(key, []).append(batch_state)
                recorder.score_rows(bm.label, metric, model, ids, rows)
            else:
                if shard.batch_states is not None:
                    shard.batch_states[key] = None  # folded by update: merged as one state
                shard.states[key] = metric.update(shard.states[key], outputs[model], targets)
                recorder.score(bm.label, metric, model, ids, outputs[model], targets)
        except MmevalError as exc:
            raise type(exc)(f"metric {bm.label!r} on model {model!r}: {exc}") from None
        shard.counts[key] += len(batch)

"""The orchestrator of `mmeval run`: load, generate, gate, score, decide, report.

It is the only module that imports every subpackage. Work streams batch by batch, so
memory holds one batch of outputs plus each metric's state, whatever the dataset size.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from .data import Dataset, Sample
from .efficiency import EfficiencyTracker
from .errors import InputError, IntegrityError, MmevalError
from .fsutil import write_atomic, write_json
from .gates.base import Decision, GateContext, GateItem
from .metrics.base import has_sample_stats
from .progress import Progress
from .runinfo import environment, utc_now
from .staging import staged_directory
from .suite import BoundMetric, Suite, load_suite, result_key

REPORT_FORMAT_VERSION = 1


class RunObserver(Protocol):
    """Watches a run: efficiency figures, encrypted raw outputs, per-sample records.

    `on_outputs` sees every model's gated outputs of every batch with the generation
    time; `finish` runs before the report is written and may add entries to it
    (results, sections) and files to the staging run directory.
    """

    def on_outputs(self, model: str, batch: list[Sample], outputs: list[Any], seconds: float) -> None: ...

    def finish(self, report: dict[str, Any], run_dir: Path) -> None: ...


def default_observers(suite: Suite, ctx: GateContext) -> list[RunObserver]:
    """The observers every run gets. Features add theirs here."""
    observers: list[RunObserver] = []
    ring = ctx.extras.get("keyring")
    if ring is not None:  # security: seal raw outputs into RUN_DIR/store/
        from .security.observer import StoreObserver

        observers.append(StoreObserver(ring, ctx.run_id, ctx.run_dir))
    else:  # plaintext runs keep generated media as files
        from .media.blob import MediaWriter

        observers.append(MediaWriter(ctx.run_dir))
    return observers


@dataclass
class RunResult:
    status: str  # pass | fail | blocked | ungated
    run_dir: Path
    report: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return 0 if self.status in ("pass", "ungated") else 1  # ungated: nothing failed, nothing was gated


@dataclass
class _Scoring:
    """Metric states for every (metric label, model) pair, plus sample counts."""

    states: dict[tuple[str, str], Any] = field(default_factory=dict)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    efficiency: EfficiencyTracker = field(default_factory=EfficiencyTracker)
    recorder: Any = None  # report.records.SampleRecorder: per-sample values, states, output hashes


@dataclass
class _GateLog:
    findings: dict[str, Counter] = field(default_factory=dict)  # gate -> (model, kind) -> count
    actions: dict[str, Counter] = field(default_factory=dict)  # gate -> action -> batches
    blocked_reason: str = ""


def default_run_dir(suite_name: str) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path("reports") / suite_name / stamp


def run(
    suite_path: str | Path,
    out: Path | None = None,
    *,
    progress: bool = True,
    extras: dict[str, Any] | None = None,
    reuse_outputs: bool = False,
    force: bool = False,
    suite_sha256: str | None = None,
) -> RunResult:
    """Run a suite end to end and write its report to `out` (atomically).

    Adapters with a `bind(ctx, model=name)` method get the run context once before
    generation (e.g. to write media outputs into `ctx.run_dir`), and gates with
    `prepare(name, adapter, ctx, use)` see every adapter then (e.g. to plug a text
    watermark into generation); adapters with a `fingerprint()` get sample-level resume
    of a run that did not complete through `models.cache` (`reuse_outputs=True` also
    reuses a completed run's outputs; they are then not timed). `extras` reach gates
    and observers through `GateContext.extras` (e.g. `keyring`: seal raw outputs).
    `suite_sha256`: the suite bytes an access decision was made on; a file that differs
    when loaded (swapped since) is refused.
    """
    with _exits_are_failures():
        return _run(suite_path, out, progress=progress, extras=extras, reuse_outputs=reuse_outputs, force=force,
                    suite_sha256=suite_sha256)


@contextmanager
def _exits_are_failures() -> Iterator[None]:
    """A model, gate or metric that calls `sys.exit(0)` must not end the run green with no
    report: any SystemExit from inside a run is a failed run (exit 2, one line)."""
    try:
        yield
    except SystemExit as exc:
        raise InputError(f"a model, gate or metric called sys.exit({exc.code!r}) during the run; no report was written") from None


def _run(
    suite_path: str | Path, out: Path | None, *, progress: bool, extras: dict[str, Any] | None, reuse_outputs: bool, force: bool,
    suite_sha256: str | None,
) -> RunResult:
    started = utc_now()
    suite = load_suite(suite_path)
    if suite_sha256 is not None and suite.sha256 != suite_sha256:
        raise IntegrityError(f"{suite_path}: the suite file changed after the access check; nothing was run")
    dataset = Dataset(suite.dataset_path)
    for adapter in suite.models.values():
        check = getattr(adapter, "check_ids", None)
        if check is not None:
            check(dataset.ids)
    run_dir = out or default_run_dir(suite.name)
    run_id = uuid.uuid4().hex
    with staged_directory(run_dir, replace=force) as staging:
        ctx = GateContext(suite.name, suite.sha256, run_id, staging, suite.spec.seed, dict(extras or {}))
        observers = default_observers(suite, ctx)
        for name, adapter in suite.models.items():
            bind = getattr(adapter, "bind", None)
            if bind is not None:
                bind(ctx, model=name)
            for gate in suite.gates:  # e.g. the watermark gate plugs into text generation
                prepare = getattr(gate, "prepare", None)
                if prepare is not None:
                    prepare(name, adapter, ctx, suite.spec.models[name].use)
        scoring, gate_log = _execute(suite, dataset, ctx, observers, progress, reuse_outputs)
        report = _report(suite, dataset, run_id, started, scoring, gate_log)
        for observer in observers:
            observer.finish(report, staging)
        report["records"] = scoring.recorder.close()
        write_report_files(report, staging)
    return RunResult(report["status"], run_dir, report)


def write_report_files(report: dict[str, Any], run_dir: Path) -> None:
    """The record (report.json), its views (report.md, report.html), then the signature
    over all of them and every artifact, so a run appears complete and signed or not at all."""
    from .report.html import render_html
    from .report.markdown import render_markdown
    from .report.signing import sign_run

    write_json(run_dir / "report.json", report)
    write_atomic(run_dir / "report.md", render_markdown(report).encode())
    write_atomic(run_dir / "report.html", render_html(report, run_dir).encode())
    sign_run(run_dir, report)


def _execute(
    suite: Suite, dataset: Dataset, ctx: GateContext, observers: list[RunObserver], progress: bool, reuse_outputs: bool
) -> tuple[_Scoring, _GateLog]:
    scoring = _Scoring()
    efficiency = scoring.efficiency
    for bm in suite.metrics:
        for model in bm.models:
            scoring.states[(bm.label, model)] = bm.metric.init()
            scoring.counts[(bm.label, model)] = 0
    from .report.records import SampleRecorder

    boot = suite.spec.bootstrap
    sealed = next((o.store for o in observers if hasattr(o, "store")), None)  # records are sealed as written
    scoring.recorder = SampleRecorder(ctx.run_dir / "records.jsonl", boot.resamples, suite.spec.seed if boot.seed is None else boot.seed,
                                      boot.resamples != 0, store=sealed)
    gate_log = _GateLog()
    caches = _output_caches(suite, ctx, reuse_outputs)
    bar = Progress(f"{suite.name}", len(dataset), enabled=progress)
    try:
        for batch in dataset.batches(suite.spec.batch_size):
            outputs, seconds = {}, {}
            for name, adapter in suite.models.items():
                began = time.perf_counter()
                outputs[name] = _generate(name, adapter, batch, suite.spec.seed, caches.get(name), efficiency)
                seconds[name] = time.perf_counter() - began
            outputs = _apply_gates(suite, batch, outputs, ctx, gate_log, scoring.recorder)
            if gate_log.blocked_reason:
                break
            for observer in [*observers, scoring.recorder]:
                for name in outputs:
                    observer.on_outputs(name, batch, outputs[name], seconds[name])
            for bm in suite.metrics:
                _score_batch(bm, batch, outputs, scoring)
            scoring.recorder.flush()
            bar.update(len(batch))
    finally:
        bar.close()
    _warn_rejected(sum(cache.rejected for cache in caches.values()))  # at load and on lookup
    for cache in caches.values():  # this run finished: a later one starts afresh unless asked to reuse
        cache.mark_complete()
    return scoring, gate_log


def _output_caches(suite: Suite, ctx: GateContext, reuse_outputs: bool) -> dict[str, Any]:
    """Resume caches for adapters with a `fingerprint()`; a completed run's folder is
    reused only with `reuse_outputs`, else cleared (resume, not memoisation)."""
    from .models.cache import OutputCache, cache_key, cache_root, cache_secret

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
            key = cache_key(suite.sha256, name, spec.use, spec.args, fingerprint(), suite.spec.seed)
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
    from .models.cache import MISS, input_sha256

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
    suite: Suite, batch: list[Sample], outputs: dict[str, list[Any]], ctx: GateContext, log: _GateLog, recorder: Any = None
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


def _score_batch(bm: BoundMetric, batch: list[Sample], outputs: dict[str, list[Any]], scoring: _Scoring) -> None:
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
                scoring.states[key] = metric.merge(scoring.states[key], metric.stats_state(rows.sum(axis=0)))
                scoring.recorder.score_rows(bm.label, metric, model, ids, rows)
            else:
                scoring.states[key] = metric.update(scoring.states[key], outputs[model], targets)
                scoring.recorder.score(bm.label, metric, model, ids, outputs[model], targets)
        except MmevalError as exc:
            raise type(exc)(f"metric {bm.label!r} on model {model!r}: {exc}") from None
        scoring.counts[key] += len(batch)


def _results(suite: Suite, scoring: _Scoring) -> list[dict[str, Any]]:
    results = []
    for bm in suite.metrics:
        for model in bm.models:
            state = scoring.states[(bm.label, model)]
            n = scoring.counts[(bm.label, model)]
            unmeasured = _unmeasured(bm, n)
            values = bm.metric.compute(state)
            computed_note = getattr(bm.metric, "note", None)  # e.g. KID: how compute changed its subset size
            ci = {} if unmeasured or not scoring.recorder else scoring.recorder.interval_fields(bm.label, bm.metric, model, state)
            fp = bm.metric.fingerprint()  # after compute: some record what compute chose
            directions = getattr(bm.metric, "extra_directions", {})
            not_comparable = getattr(bm.metric, "not_comparable", None)
            # Label metrics add a confusion matrix and per-class scores to their headline.
            details = getattr(bm.metric, "details", None)
            per_class = None if unmeasured or details is None else details(state)
            for i, (key, value) in enumerate(values.items()):
                extra = key.removeprefix(bm.metric.name + "_")
                entry = {
                    "model": model,
                    "metric": bm.label,
                    "key": result_key(bm.label, bm.metric, key, i),
                    "value": None if unmeasured else value,
                    "n": n,
                    "fingerprint": fp,
                    # An extra value (kid_std, a coverage) has its own direction, or none.
                    "higher_is_better": bm.metric.higher_is_better if i == 0 else directions.get(extra),
                }
                _set_value(entry, unmeasured)
                if i == 0 and computed_note and "note" not in entry:
                    entry["note"] = computed_note
                if not_comparable:
                    entry["not_comparable"] = not_comparable
                if bm.against:
                    entry["against"] = bm.against
                if i == 0:
                    entry.update(ci)
                    if per_class:
                        entry["per_class"] = per_class
                results.append(entry)
    return results


def _unmeasured(bm: BoundMetric, n: int) -> str:
    """Why a metric has no value on `n` samples, or "" if it has one."""
    if n == 0:
        return f"no samples: where: {bm.where} matched no sample" if bm.where else "no samples"
    from .report.records import set_level

    needs = getattr(bm.metric, "min_samples", 2 if set_level(bm.metric) else 1)
    return f"not measured: {bm.label} needs at least {needs} samples, got {n}" if n < needs else ""


def _set_value(entry: dict[str, Any], why_missing: str) -> None:
    """JSON has no inf or NaN: an infinite value is `null` with `nonfinite: "+inf"`, and any
    other missing value is `null` with a `note` saying why (a null never passes a threshold)."""
    value = entry["value"]
    if value is None:
        entry["note"] = why_missing or "not measured"
    elif math.isinf(value):
        entry["value"], entry["nonfinite"] = None, "+inf" if value > 0 else "-inf"
    elif math.isnan(value):
        entry["value"], entry["note"] = None, f"undefined: {entry['metric']} gave NaN on {entry['n']} samples"


def _true_value(entry: dict[str, Any]) -> float | None:
    """The value a threshold sees: infinities restored, missing values None."""
    if entry.get("nonfinite"):
        return float(entry["nonfinite"])
    return entry["value"]


def _check_thresholds(suite: Suite, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    checks = []
    for t in suite.spec.thresholds:
        match = next((r for r in results if r["model"] == t.model and r["key"] == t.metric), None)
        value = None if match is None else _true_value(match)
        passed = value is not None and (t.min is None or value >= t.min) and (t.max is None or value <= t.max)
        check: dict[str, Any] = {"model": t.model, "metric": t.metric, "min": t.min, "max": t.max,
                                 "value": match["value"] if match else None, "passed": passed}
        if match is not None and match.get("nonfinite"):
            check["nonfinite"] = match["nonfinite"]
        if value is None:  # never a pass: say what was not measured
            check["note"] = (match or {}).get("note") or "not measured: no such result"
        checks.append({k: v for k, v in check.items() if v is not None or k in ("value", "passed")})
    return checks


def _report(
    suite: Suite, dataset: Dataset, run_id: str, started: str, scoring: _Scoring, gate_log: _GateLog
) -> dict[str, Any]:
    blocked = bool(gate_log.blocked_reason)
    results = [] if blocked else _results(suite, scoring) + scoring.efficiency.results(suite.models)
    thresholds = [] if blocked else _check_thresholds(suite, results)
    status = _status(blocked, thresholds)
    provenance = environment(suite.spec.seed, suite.path.parent)
    provenance.update(started=started, finished=utc_now())
    return {
        "format_version": REPORT_FORMAT_VERSION,
        "status": status,
        "reason": gate_log.blocked_reason or _failure_reason(thresholds),
        "run_id": run_id,
        "suite": {"name": suite.name, "path": str(suite.path), "sha256": suite.sha256, "language": suite.spec.language},
        "dataset": {"path": str(suite.dataset_path), "n": len(dataset)},
        "models": _models_section(suite, scoring),
        "metrics": _metrics_section(suite),
        "provenance": provenance,
        "results": results,
        "thresholds": thresholds,
        "gates": _gate_section(suite, gate_log),
    }


def _status(blocked: bool, thresholds: list[dict[str, Any]]) -> str:
    """blocked (a gate stopped the run) | ungated (no thresholds: nothing was checked, which
    is not a pass: sign-off refuses it) | fail (a threshold missed) | pass."""
    if blocked:
        return "blocked"
    if not thresholds:
        return "ungated"
    return "fail" if any(not t["passed"] for t in thresholds) else "pass"


def _models_section(suite: Suite, scoring: _Scoring) -> dict[str, Any]:
    """Per model: its adapter, how many outputs it produced in this run (`generated`; for
    `replay`, read from its file) or took from the resume cache (`reused`), and the sha256
    of the adapter's fingerprint (weights, endpoint, settings) where it has one, so
    `compare` can tell that a model ran differently. Hashed: a fingerprint may name
    settings a report should not show."""
    section = {}
    for name, spec in suite.spec.models.items():
        entry: dict[str, Any] = {"use": spec.use, **scoring.efficiency.counts(name)}
        fingerprint = getattr(suite.models[name], "fingerprint", None)
        try:  # an endpoint asked only now (no resume cache) may have gone away: no digest then
            if fingerprint is not None:
                entry["adapter_sha256"] = hashlib.sha256(fingerprint().encode()).hexdigest()
        except MmevalError:
            pass
        section[name] = entry
    return section


def _metrics_section(suite: Suite) -> dict[str, Any]:
    """Per metric label: how the suite applied it, enough for `mmeval compare` to rebuild
    the metric (`plugins.build(METRICS, use, args, ...)`, paths relative to the suite)."""
    section = {}
    for spec, bm in zip(suite.spec.metrics, suite.metrics):
        section[bm.label] = {
            "use": spec.use,
            "args": _plain_json(spec.args),
            "against": bm.against,
            "models": list(bm.models),
            "where": _plain_json(bm.where),
        }
    return section


def _plain_json(value: Any) -> Any:
    """YAML values as strict JSON (the report allows no NaN); others become their text."""
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return str(value)


def _failure_reason(thresholds: list[dict[str, Any]]) -> str:
    missed = [t for t in thresholds if not t["passed"]]
    if not missed:
        return ""
    parts = []
    for t in missed:
        bound = f">= {t['min']}" if "min" in t else f"<= {t['max']}"
        if t.get("nonfinite"):
            value = t["nonfinite"]
        elif t["value"] is None:
            value = t.get("note", "not measured")
        else:
            value = f"{t['value']:.4g}" if isinstance(t["value"], float) else t["value"]  # readable in a verdict line
        parts.append(f"{t['model']} {t['metric']} = {value} (needs {bound})")
    return "threshold missed: " + "; ".join(parts)


def _gate_section(suite: Suite, log: _GateLog) -> list[dict[str, Any]]:
    section = []
    for gate in suite.gates:
        name = getattr(gate, "name", type(gate).__name__)
        describe = getattr(gate, "describe", None)
        findings = [
            {"model": model, "kind": kind, "count": count}
            for (model, kind), count in sorted(log.findings.get(name, Counter()).items())
        ]
        section.append(
            {
                "gate": name,
                "settings": describe() if describe else {},
                "decisions": dict(log.actions.get(name, Counter())),
                "findings": findings,
            }
        )
    return section

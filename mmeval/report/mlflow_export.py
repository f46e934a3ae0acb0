"""Export a verified run to an MLflow tracking store: one MLflow run per mmeval run.

`mlflow_record(report)` says what is logged (pure, no MLflow import); `export_run` verifies
the run folder and logs it. Numbers that were measured become metrics; a null value is a
`not_measured.*` tag with its note, never a number. The report's views travel as
artifacts; the sealed store and raw outputs never leave the run folder.

    >>> record = mlflow_record(json.loads(Path("reports/smoke/RUN/report.json").read_text()))  # doctest: +SKIP
    >>> record.metrics["candidate/accuracy"]  # doctest: +SKIP
    0.9166666666666666
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import InputError, IntegrityError, MissingExtra
from .signing import ATTESTATION, SIGNOFF

# MLflow 2+ accepts 6000-character params and 8000-character tags, but servers from before
# (and proxies in front of them) refuse more than 500 and 5000: stay within those.
PARAM_LIMIT = 500
TAG_LIMIT = 5000
BATCH = 100  # MLflow takes at most 100 params and 100 tags in one log_batch call
TRUNCATED = "... [truncated by mmeval]"
# What a reader of the run in MLflow needs; never store/ or outputs/ (raw outputs stay).
ARTIFACTS = ("report.json", "report.md", "report.html", ATTESTATION, SIGNOFF)
_DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-./ ]")


@dataclass(frozen=True)
class MlflowRecord:
    """What one mmeval run becomes in MLflow."""

    run_name: str
    experiment: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def mlflow_key(text: str) -> str:
    """`text` in MLflow's key charset (letters, digits, _ - . / space); others become `_`."""
    # Keys may become file paths, so no part may be empty, `.` or `..` (nor the key absolute).
    parts = _KEY_UNSAFE.sub("_", text).split("/")
    return "/".join("_" if part in ("", ".", "..") else part for part in parts)


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying so, rather than refused by the server."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def mlflow_record(report: dict[str, Any], experiment: str | None = None) -> MlflowRecord:
    suite = report["suite"]
    record = MlflowRecord(run_name=f"{suite['name']}-{report['run_id']}", experiment=experiment or f"mmeval/{suite['name']}")
    _add_params(record, report)
    _add_results(record, report)
    record.tags.update({"mmeval.run_id": report["run_id"], "mmeval.status": report["status"]})
    for check in report.get("thresholds", []):
        record.tags[mlflow_key(f"threshold.{check['model']}/{check['metric']}")] = "pass" if check["passed"] else "FAIL"
    return record


def _add_params(record: MlflowRecord, report: dict[str, Any]) -> None:
    suite, dataset = report["suite"], report.get("dataset", {})
    params: dict[str, Any] = {
        "suite": suite["name"], "suite.sha256": suite.get("sha256"), "seed": report.get("provenance", {}).get("seed"),
        "language": suite.get("language"), "dataset.n": dataset.get("n"), "dataset.partial": dataset.get("partial"),
    }
    for name, model in report.get("models", {}).items():
        params[f"model.{name}.use"] = model.get("use")
    for override in suite.get("overrides", []):  # `--set KEY=VALUE`: what ran differs from the file
        key, _, value = override.partition("=")
        params[f"override.{key}"] = value
    # MLflow has no null: an absent param (a suite without `language:`) says "not set".
    record.params.update({mlflow_key(k): fit(str(v), PARAM_LIMIT) for k, v in params.items() if v is not None})


def _add_results(record: MlflowRecord, report: dict[str, Any]) -> None:
    for result in report["results"]:
        name = mlflow_key(f"{result['model']}/{result['key']}")
        record.tags[f"mmeval.fingerprint.{name}"] = fit(result["fingerprint"], TAG_LIMIT)
        if result.get("not_comparable"):
            record.tags[f"mmeval.not_comparable.{name}"] = fit(result["not_comparable"], TAG_LIMIT)
        if result["value"] is None:  # an unmeasured number is never a metric
            why = result.get("note") or (f"nonfinite: {result['nonfinite']}" if result.get("nonfinite") else "not measured")
            record.tags[f"not_measured.{name}"] = fit(why, TAG_LIMIT)
            continue
        record.metrics[name] = float(result["value"])
        if result.get("ci_low") is not None and result.get("ci_high") is not None:
            record.metrics[f"{name}_ci_low"] = float(result["ci_low"])
            record.metrics[f"{name}_ci_high"] = float(result["ci_high"])


def export_run(run_dir: Path, tracking_uri: str, experiment: str | None = None, *, statement: dict[str, Any]) -> str:
    """Log the run whose attestation `statement` the caller verified (`verify_run`) to
    `tracking_uri`; returns the MLflow run id. InputError (exit 2) if the store cannot be written."""
    run_dir = Path(run_dir)
    record = mlflow_record(_verified_report(run_dir, statement), experiment)
    return _log(record, [run_dir / name for name in ARTIFACTS if (run_dir / name).is_file()], tracking_uri)


def _verified_report(run_dir: Path, statement: dict[str, Any]) -> dict[str, Any]:
    """report.json as the attestation covers it: the bytes read are the bytes verified."""
    data = (run_dir / "report.json").read_bytes()
    signed = {s.get("name"): s.get("digest", {}).get("sha256") for s in statement["subject"]}
    if signed.get("report.json") != hashlib.sha256(data).hexdigest():
        raise IntegrityError(f"{run_dir / 'report.json'}: sha256 does not match the attestation")
    return json.loads(data)


def require_mlflow() -> None:
    """MissingExtra (exit 2, with the pip command) unless MLflow's client imports."""
    try:
        importlib.import_module("mlflow.tracking")
    except ImportError:
        raise MissingExtra("mlflow-skinny", "mlflow") from None


def check_tracking_uri(tracking_uri: str) -> None:
    """What can be told of a store without reaching it (so `run --mlflow` checks it before
    the run): the client installed, a database store's drivers, a file store allowed."""
    require_mlflow()
    scheme = urlparse(tracking_uri).scheme.split("+")[0]
    if scheme in _DATABASE_SCHEMES and importlib.util.find_spec("sqlalchemy") is None:
        raise InputError(f"MLflow tracking URI {tracking_uri}: a {scheme} store needs sqlalchemy and alembic, "
                         "which mlflow-skinny lacks; run: pip install sqlalchemy alembic")
    if scheme in ("", "file") and not _file_store_allowed():
        raise InputError(f"MLflow tracking URI {tracking_uri}: MLflow 3 writes a file store only with "
                         "MLFLOW_ALLOW_FILE_STORE=true; set it, or log to a tracking server (http://HOST:5000)")


def _file_store_allowed() -> bool:
    try:
        from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE
    except ImportError:  # MLflow 2 writes file stores without being asked
        return True
    return bool(MLFLOW_ALLOW_FILE_STORE.get())


def _log(record: MlflowRecord, artifacts: list[Path], tracking_uri: str) -> str:
    check_tracking_uri(tracking_uri)
    import time

    from mlflow.entities import Metric, Param, RunStatus, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        found = client.get_experiment_by_name(record.experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(record.experiment)
        run_id = client.create_run(experiment_id, run_name=record.run_name).info.run_id
    except (MlflowException, OSError, ValueError) as exc:
        raise InputError(f"MLflow tracking URI {tracking_uri}: {_first_line(exc)}") from None
    try:
        now = int(time.time() * 1000)
        entities = [*(Metric(k, v, now, 0) for k, v in record.metrics.items()),
                    *(Param(k, v) for k, v in record.params.items()), *(RunTag(k, v) for k, v in record.tags.items())]
        for start in range(0, len(entities), BATCH):
            batch = entities[start:start + BATCH]
            client.log_batch(run_id, metrics=[e for e in batch if isinstance(e, Metric)],
                             params=[e for e in batch if isinstance(e, Param)], tags=[e for e in batch if isinstance(e, RunTag)])
        for path in artifacts:
            client.log_artifact(run_id, str(path))
    except (MlflowException, OSError, ValueError) as exc:
        _mark_failed(client, run_id, RunStatus)
        raise InputError(f"MLflow tracking URI {tracking_uri}: run {run_id} left FAILED: {_first_line(exc)}") from None
    client.set_terminated(run_id)
    return run_id


def _mark_failed(client: Any, run_id: str, run_status: Any) -> None:
    """So a half-logged run does not look like a finished export."""
    try:
        client.set_terminated(run_id, status=run_status.to_string(run_status.FAILED))
    except Exception:  # the store already failed once; the error that matters is the first
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

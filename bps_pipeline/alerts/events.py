"""Turning Dagster outcomes into alerts: failed checks, failed runs. Used by the sensors (under
the daemon) and by `bps-pipeline run` (no daemon), with the same keys so neither double-alerts."""

from __future__ import annotations

import re

from bps_pipeline.alerts.channels import Alert, send_alert
from bps_pipeline.config import Settings


def alert_for_check(settings: Settings, run_id: str, evaluation) -> bool:
    """One alert per failed check evaluation of a run (WARN checks alert too)."""
    if evaluation.passed:
        return False
    meta = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
    severity = evaluation.severity.value if hasattr(evaluation.severity, "value") else str(evaluation.severity)
    where = f"{evaluation.asset_key.to_user_string()} / {evaluation.check_name}"
    observed = meta.get("observed", meta.get("failures"))
    if observed is None and meta.get("dagster_dbt/failed_row_count") is not None:  # a dbt test
        observed = f"rows failing the dbt test: {meta['dagster_dbt/failed_row_count']}"
    return send_alert(settings, Alert(
        kind="check_failed" if severity == "ERROR" else "check_warning",
        key=f"check:{run_id}:{where}", severity=severity,
        title=f"Quality check failed: {where}" + (" (publication blocked)" if severity == "ERROR" else " (warning; published)"),
        where=where, observed=str("check failed" if observed is None else observed),
        failing_rows=meta.get("failing_rows", []) if isinstance(meta.get("failing_rows"), list) else [],
        details={"run_id": run_id, "failures": meta.get("failures")}, data_docs=meta.get("data_docs")))


def alert_for_run_failure(settings: Settings, run_id: str, job_name: str, message: str, failed_steps: list[str]) -> bool:
    return send_alert(settings, Alert(
        kind="run_failed", key=f"run:{run_id}", title=f"Pipeline run failed: {job_name}",
        where=", ".join(failed_steps) or job_name, observed=message[:2000],
        details={"run_id": run_id, "dagster_home": str(settings.dagster_home)}))


def stopped_by_gate(step_failures) -> bool:
    """True when a blocking asset check (already alerted as a check) is what failed these steps."""
    return any("blocking asset check" in (getattr(e.event_specific_data.error, "message", "") or "")
               for e in step_failures if e.event_specific_data and e.event_specific_data.error)


def alert_on_result(settings: Settings, result) -> int:
    """After an in-process run: alert failed checks, and the run failure unless a failed check
    (already alerted) is what stopped it."""
    sent = 0
    events = result.all_events
    failed_checks = [e.event_specific_data for e in events
                     if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed]
    for ev in failed_checks:
        sent += alert_for_check(settings, result.run_id, ev)
    failures = [e for e in events if e.event_type_value == "STEP_FAILURE"]
    if failures and not (stopped_by_gate(failures) and failed_checks):
        sent += alert_for_run_failure(settings, result.run_id, result.job_def.name, failures_message(failures),
                                      [e.step_key for e in failures])
    elif not failures and not result.success:  # it failed before any step (another run held the warehouse, say)
        sent += alert_for_run_failure(settings, result.run_id, result.job_def.name, run_failure_reason(result), [])
    return sent


def run_failure_reason(result) -> str:
    """Why a run failed outside its steps (its resources' set-up), in one line: the innermost error."""
    for e in result.all_events:
        if e.event_type_value in ("RESOURCE_INIT_FAILURE", "PIPELINE_FAILURE") and e.event_specific_data.error:
            error = e.event_specific_data.error
            while error.cause is not None:
                error = error.cause
            first = (error.message or error.cls_name).strip().splitlines()[0]
            return re.sub(r"^[\w.]+: ", "", first)  # without the exception's qualified name
    return "the run failed before any step"


def failure_reason(step_failure) -> str:
    """Why a step failed, in one line: a Failure's description (the dbt step's names the failed
    nodes, build_failure), else the first line of the exception that failed it (its class and message)."""
    data = step_failure.event_specific_data
    described = getattr(getattr(data, "user_failure_data", None), "description", None)
    if described:
        return " ".join(described.split())
    error = data.error if data else None
    while error is not None and error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause  # Dagster's wrapper ("Error occurred while executing op ...") around the real one
    lines = (error.message or "").strip().splitlines() if error is not None else []
    return lines[0] if lines else "failed"


def failures_message(step_failures) -> str:
    return "; ".join(f"{e.step_key}: {failure_reason(e)}" for e in step_failures)

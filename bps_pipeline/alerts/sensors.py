"""Sensors that turn failures into alerts while `dagster dev` (the daemon) runs.

A failed asset check does not fail a run, so checks get their own sensor that reads
ASSET_CHECK_EVALUATION events; failed runs get a run-failure sensor. Alert keys make a failure
alert once, even when both the CLI and a sensor see it.
"""

from datetime import datetime, timezone

import dagster as dg
from dagster import DagsterEventType, RunsFilter

from bps_pipeline.alerts.events import alert_for_check, alert_for_run_failure, failures_message, stopped_by_gate
from bps_pipeline.config import load_settings


@dg.sensor(name="check_failure_alerts", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Alerts on every failed asset check (ERROR or WARN), once per run and check.")
def check_failure_alerts(context: dg.SensorEvaluationContext):
    """Reads the check evaluations of runs updated since the cursor (per run: the default SQLite
    event log is sharded by run, so this works on every storage)."""
    since = float(context.cursor or 0)
    runs = context.instance.get_runs(filters=RunsFilter(updated_after=datetime.fromtimestamp(since, timezone.utc)),
                                     limit=50, ascending=True) if since else context.instance.get_runs(limit=50)
    settings = load_settings()
    newest = since
    for run in runs:
        records = context.instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
        for rec in records:
            alert_for_check(settings, run.run_id, rec.event_log_entry.dagster_event.event_specific_data)
        record = context.instance.get_run_record_by_id(run.run_id)
        if record and record.update_timestamp:
            newest = max(newest, record.update_timestamp.timestamp())
    context.update_cursor(str(newest))


@dg.run_failure_sensor(name="run_failure_alerts", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Alerts when a pipeline run fails.")
def run_failure_alerts(context: dg.RunFailureSensorContext):
    failures = context.get_step_failure_events()
    if stopped_by_gate(failures):
        return  # a failed gate check stopped the run; check_failure_alerts has alerted it
    steps = [e.step_key for e in failures]
    alert_for_run_failure(load_settings(), context.dagster_run.run_id, context.dagster_run.job_name,
                          failures_message(failures) or context.failure_event.message or "run failed", steps)

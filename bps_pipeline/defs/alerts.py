"""Sensors that turn failures into alerts while `dagster dev` (the daemon) runs.

A failed asset check does not fail a run, so checks get their own sensor that reads
ASSET_CHECK_EVALUATION events; failed runs get a run-failure sensor. Alert keys make a failure
alert once, even when both the CLI and a sensor see it.
"""

import dagster as dg
from dagster import DagsterEventType, EventRecordsFilter

from bps_pipeline.alerts.events import alert_for_check, alert_for_run_failure
from bps_pipeline.config import load_settings


@dg.sensor(name="check_failure_alerts", minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Alerts on every failed asset check (ERROR or WARN), once per run and check.")
def check_failure_alerts(context: dg.SensorEvaluationContext):
    cursor = int(context.cursor or 0)
    records = context.instance.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=cursor),
        ascending=True, limit=200)
    settings = load_settings()
    for rec in records:
        evaluation = rec.event_log_entry.dagster_event.event_specific_data
        alert_for_check(settings, rec.event_log_entry.run_id, evaluation)
        cursor = max(cursor, rec.storage_id)
    context.update_cursor(str(cursor))


@dg.run_failure_sensor(name="run_failure_alerts", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Alerts when a pipeline run fails.")
def run_failure_alerts(context: dg.RunFailureSensorContext):
    steps = [e.step_key for e in context.get_step_failure_events()]
    alert_for_run_failure(load_settings(), context.dagster_run.run_id, context.dagster_run.job_name,
                          context.failure_event.message or "run failed", steps)

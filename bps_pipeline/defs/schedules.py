"""The nightly schedule and the landing-folder sensor; both on by default under `dagster dev`.

Never two runs on the warehouse at once: the instance's run queue allows one run at a time
(dagster.yaml written by `bps-pipeline`), and the sensor also waits while a run is in progress.
"""

import hashlib
import json
import os
import time

import dagster as dg
from dagster import DagsterRunStatus, RunsFilter

from bps_pipeline.config import load_settings
from bps_pipeline.ingest.loader import LastLoad, last_loads, scan_landing

ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def schedule_settings() -> tuple[str, str]:
    return (os.environ.get("BPS_SCHEDULE_CRON", "0 5 * * *"),
            os.environ.get("BPS_SCHEDULE_TIMEZONE", "America/New_York"))


def build_daily_schedule(job) -> dg.ScheduleDefinition:
    cron, tz = schedule_settings()
    return dg.ScheduleDefinition(
        name="daily_pipeline", job=job, cron_schedule=cron, execution_timezone=tz,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"ingest -> dbt -> gate -> publish every day at '{cron}' ({tz}); "
                    "set BPS_SCHEDULE_CRON / BPS_SCHEDULE_TIMEZONE to change.")


def build_weekly_full_refresh(job) -> dg.ScheduleDefinition:
    """Incremental models rebuild a lookback window nightly; once a week everything is rebuilt so
    that corrections older than the window land too."""
    _, tz = schedule_settings()
    return dg.ScheduleDefinition(
        name="weekly_full_refresh", job=job, cron_schedule=os.environ.get("BPS_FULL_REFRESH_CRON", "0 3 * * 0"),
        execution_timezone=tz, default_status=dg.DefaultScheduleStatus.RUNNING,
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}},
        description="The whole pipeline with dbt --full-refresh, Sundays 03:00 (BPS_FULL_REFRESH_CRON).")


def loaded_files(settings) -> dict[tuple[str, str], LastLoad] | None:
    """Every landing file's last load (the loader's own record); None while a run holds the warehouse."""
    import duckdb

    if not settings.warehouse_path.exists():
        return {}
    try:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return last_loads(con)
    except duckdb.IOException:  # the writer's lock: a run is loading
        return None


def build_landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(name="landing_files", job=job, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts the pipeline when new or changed extracts land (settled for "
                           "BPS_SENSOR_DEBOUNCE_SECONDS, default 120) and no run is in progress.")
    def landing_files(context: dg.SensorEvaluationContext):
        settings = load_settings()
        debounce = float(os.environ.get("BPS_SENSOR_DEBOUNCE_SECONDS", "120"))
        if context.instance.get_runs(filters=RunsFilter(job_name=job.name, statuses=ACTIVE), limit=1):
            return dg.SkipReason("a pipeline run is in progress; new files will be picked up after it")
        loaded = loaded_files(settings)
        if loaded is None:
            return dg.SkipReason("the warehouse is locked by a run")
        new = []
        for f in scan_landing(settings.landing_dir):
            stat, prev = f.path.stat(), loaded.get((f.source, f.name))
            if prev is None or not prev.same_size_and_time(stat):  # what the loader would look at
                new.append((f.label, stat.st_size, stat.st_mtime))
        if not new:
            return dg.SkipReason("no new or changed files in the landing folder")
        settling = time.time() - max(m for _, _, m in new)
        if settling < debounce:
            return dg.SkipReason(f"{len(new)} new file(s) still settling ({settling:.0f}s < {debounce:.0f}s)")
        fingerprint = json.dumps(sorted(new))  # a same-size rewrite is a new request
        key = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=f"landing-{key}", tags={"bps/trigger": "landing_files", "bps/new_files": str(len(new))})

    return landing_files

"""The jobs and their schedules; both schedules are on by default under `dagster dev`.

Never two runs on the warehouse at once: the in-process executor keeps a run to one DuckDB writer,
the instance's run queue allows one run at a time (dagster_home.py), and the landing sensor waits
while a run is in progress.
"""

from __future__ import annotations

import dagster as dg

from bps_pipeline.config import load_settings

PUBLISHED = dg.AssetKey(["published", "published_duckdb"])
REPORT = dg.AssetKey(["published", "progress_report"])


def pipeline_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        "pipeline", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
        description="ingest -> dbt build -> quality gate -> publish -> report, in one process.")


def publish_job(gate_check_keys) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        "publish", executor_def=dg.in_process_executor,
        selection=dg.AssetSelection.assets(PUBLISHED, REPORT) | dg.AssetSelection.checks(*gate_check_keys),
        description="The quality gate, publish and report on the marts as they are, without ingest or dbt.")


def build_daily_schedule(job) -> dg.ScheduleDefinition:
    settings = load_settings()
    cron, tz = settings.schedule_cron, settings.schedule_timezone
    return dg.ScheduleDefinition(
        name="daily_pipeline", job=job, cron_schedule=cron, execution_timezone=tz,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"ingest -> dbt -> gate -> publish every day at '{cron}' ({tz}); "
                    "set BPS_SCHEDULE_CRON / BPS_SCHEDULE_TIMEZONE to change.")


def build_weekly_full_refresh(job) -> dg.ScheduleDefinition:
    """Incremental models rebuild a lookback window nightly; once a week everything is rebuilt so
    that corrections older than the window land too."""
    settings = load_settings()
    return dg.ScheduleDefinition(
        name="weekly_full_refresh", job=job, cron_schedule=settings.full_refresh_cron,
        execution_timezone=settings.schedule_timezone, default_status=dg.DefaultScheduleStatus.RUNNING,
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}},
        description="The whole pipeline with dbt --full-refresh, Sundays 03:00 (BPS_FULL_REFRESH_CRON).")

"""The code location: every asset, check, job, schedule and sensor of the pipeline, in flow order."""

import dagster as dg

from bps_pipeline.alerts.sensors import check_failure_alerts, run_failure_alerts
from bps_pipeline.ingest.assets import ingest
from bps_pipeline.ingest.sensors import build_landing_sensor
from bps_pipeline.jobs import build_daily_schedule, build_weekly_full_refresh, pipeline_job, publish_job
from bps_pipeline.publish.assets import published_duckdb
from bps_pipeline.quality.checks import quality_gate
from bps_pipeline.report.assets import progress_report
from bps_pipeline.transform.assets import dbt_models, dbt_resource
from bps_pipeline.warehouse_lock import WarehouseLock

pipeline = pipeline_job()

defs = dg.Definitions(
    assets=[ingest, dbt_models, published_duckdb, progress_report],
    asset_checks=[quality_gate],
    jobs=[pipeline, publish_job(quality_gate.check_keys)],
    schedules=[build_daily_schedule(pipeline), build_weekly_full_refresh(pipeline)],
    sensors=[build_landing_sensor(pipeline), check_failure_alerts, run_failure_alerts],
    resources={"dbt": dbt_resource, "warehouse_lock": WarehouseLock()},
)

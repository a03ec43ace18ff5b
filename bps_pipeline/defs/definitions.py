"""The code location: every asset, check, job, schedule and sensor of the pipeline."""

import dagster as dg

from bps_pipeline.defs.alerts import check_failure_alerts, run_failure_alerts
from bps_pipeline.defs.dbt import dbt_models, dbt_resource
from bps_pipeline.defs.ingest import ingest_assets
from bps_pipeline.defs.publish import published_duckdb
from bps_pipeline.defs.quality import quality_gate
from bps_pipeline.defs.schedules import build_daily_schedule, build_landing_sensor, build_weekly_full_refresh

PUBLISHED = dg.AssetKey(["published", "published_duckdb"])

# One process, one DuckDB writer at a time (stack-notes: the multiprocess executor costs seconds
# per step and invites lock conflicts).
pipeline_job = dg.define_asset_job(
    "pipeline", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
    description="ingest -> dbt build -> quality gate -> publish, in one process.")

publish_job = dg.define_asset_job(
    "publish", executor_def=dg.in_process_executor,
    selection=dg.AssetSelection.assets(PUBLISHED) | dg.AssetSelection.checks(*quality_gate.check_keys),
    description="The quality gate and publish on the marts as they are, without ingest or dbt.")

defs = dg.Definitions(
    assets=[*ingest_assets, dbt_models, published_duckdb],
    asset_checks=[quality_gate],
    jobs=[pipeline_job, publish_job],
    schedules=[build_daily_schedule(pipeline_job), build_weekly_full_refresh(pipeline_job)],
    sensors=[build_landing_sensor(pipeline_job), check_failure_alerts, run_failure_alerts],
    resources={"dbt": dbt_resource},
)

"""The code location: every asset, check, job, schedule and sensor of the pipeline."""

from __future__ import annotations

import dagster as dg

from bps_pipeline.defs.dbt import dbt_models, dbt_resource
from bps_pipeline.defs.ingest import ingest_assets
from bps_pipeline.defs.publish import published_duckdb

# One process, one DuckDB writer at a time (stack-notes: the multiprocess executor costs seconds
# per step and invites lock conflicts).
pipeline_job = dg.define_asset_job(
    "pipeline", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor,
    description="ingest -> dbt build -> quality gate -> publish, in one process.")

defs = dg.Definitions(
    assets=[*ingest_assets, dbt_models, published_duckdb],
    jobs=[pipeline_job],
    resources={"dbt": dbt_resource},
)

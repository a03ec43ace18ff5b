"""The transform step's own bookkeeping; the SQL itself is the dbt project (dbt_project/), run by
bps_pipeline.defs.dbt."""

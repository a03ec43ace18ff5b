"""bps-pipeline: the district's strategic-plan metrics, from nightly extracts to a published file.

Flow (one subpackage each): generate (sample district) -> ingest (contract-checked loads) ->
dbt_project (transform) -> quality (gate) -> publish -> alerts; `defs` wires them into Dagster.
"""

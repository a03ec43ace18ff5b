"""Dagster definitions, one module per stage: ingest -> dbt -> quality -> publish -> alerts.

`definitions.py` assembles them; `workspace.yaml` points `dagster dev` at it.
"""

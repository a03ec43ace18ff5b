"""bps-pipeline: the district's strategic-plan metrics, from nightly extracts to a published file.

The packages follow the flow, each holding its logic and its Dagster definitions:
ingest -> transform (dbt) -> quality (Great Expectations gate) -> publish -> alerts.
`definitions.py` wires them into one Dagster code location; `generate/` writes the sample district.
"""

"""Dagster definitions, one module per stage: ingest -> dbt -> quality -> publish -> alerts.

`definitions.py` assembles them; `workspace.yaml` points `dagster dev` at it.
"""

import sys

DBT_CORE_PROBE = "dbt.version"  # the module dagster-dbt imports first to learn whether dbt-core is there


def _import_dagster_dbt_without_dbt_core() -> None:
    """Import dagster-dbt in the mode it has for dbt-core installed elsewhere (or dbt Fusion).

    This process runs dbt only as a subprocess (`bps-dbt`, or the process warm_dbt starts), yet
    dagster-dbt imports dbt-core's adapters, results and artifact schemas when it finds dbt-core
    (dagster_dbt/compat.py): 1.7-2.7 s of one core in every process that loads these definitions,
    a run among them, for a handful of enums it otherwise defines itself with the same values.
    Hiding its probe module during the import selects that mode; nothing else changes, as the
    resource tells dagster-dbt the dbt version it runs (defs/dbt.py) and skips the in-process
    adapter. Left as is when dbt-core or dagster-dbt is imported already: nothing to save then.
    tests/test_definitions.py checks that loading the definitions imports no dbt and that they
    come out the same either way; tests/test_pipeline.py that a run's dbt results arrive."""
    if "dagster_dbt" in sys.modules or DBT_CORE_PROBE in sys.modules:
        return
    sys.modules[DBT_CORE_PROBE] = None  # importing it now raises ImportError
    try:
        import dagster_dbt  # noqa: F401
    finally:
        del sys.modules[DBT_CORE_PROBE]


_import_dagster_dbt_without_dbt_core()

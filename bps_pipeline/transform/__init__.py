"""Transform: the dbt project (dbt_project/) as Dagster assets, and the dbt step's own
bookkeeping: when a build must rebuild in full (full_refresh.py) and why one failed (build_failure.py)."""

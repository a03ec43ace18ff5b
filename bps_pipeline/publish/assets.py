"""The publish asset: runs only when every blocking check upstream has passed."""

import dagster as dg
from dagster import DagsterEventType

from bps_pipeline.config import load_settings
from bps_pipeline.publish.release import publish
from bps_pipeline.quality.checks import gate_checks
from bps_pipeline.transform.assets import published_mart_keys


class PublishConfig(dg.Config):
    as_of_date: str | None = None


def _checks_of_run(context: dg.AssetExecutionContext) -> tuple[int, int]:
    """Every gate check must have run in this run and none may have failed with ERROR severity:
    publishing is never possible around the gate, whatever the selection."""
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [r.event_log_entry.dagster_event.event_specific_data for r in records]
    seen = {e.check_name for e in evaluations}
    missing = sorted(name for name in gate_checks() if name not in seen)
    if missing:
        raise dg.Failure(f"not published: the quality gate did not run in this run ({', '.join(missing)})")
    blocking = [e for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    if blocking:
        raise dg.Failure("not published: blocking checks failed: " + ", ".join(e.check_name for e in blocking))
    return len(evaluations), sum(1 for e in evaluations if e.passed)


@dg.asset(
    key=dg.AssetKey(["published", "published_duckdb"]),
    deps=published_mart_keys(),
    group_name="publish",
    kinds={"duckdb"},
    required_resource_keys={"warehouse_lock"},
    owners=["team:data-engineering"],
    description="published.duckdb: the aggregate marts dashboards read, replaced atomically; "
                "runs only after every blocking check on the marts passed.",
)
def published_duckdb(context: dg.AssetExecutionContext, config: PublishConfig) -> dg.MaterializeResult:
    checks_run, checks_passed = _checks_of_run(context)
    result = publish(load_settings(), context.run.run_id, checks_run, checks_passed, config.as_of_date)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(result.path), "release": result.release,
        "tables": dg.MetadataValue.json(result.tables),
        "checks_run": checks_run, "checks_passed": checks_passed})

"""The quality gate as blocking asset checks: one check per Great Expectations suite, on its mart,
and the privacy audit on metric_values.

A suite whose critical expectations fail yields an ERROR check result, which (blocking) stops the
publish step; WARN-only failures yield WARN results, which alert but publish. The privacy audit
fails (ERROR) when any hidden count of the release can be narrowed below the protection level.
"""

import json

import dagster as dg

from bps_pipeline.config import Settings, load_settings
from bps_pipeline.privacy.published_cells import audit_release
from bps_pipeline.quality.gate import SuiteResult, run_gate, suite_names
from bps_pipeline.warehouse import connect

PRIVACY_CHECK = "privacy_audit"
EXPOSURES_NAMED = 20  # in the check's metadata and its alert


def check_name(suite: str) -> str:
    return f"gx_{suite}"


def mart_key(suite: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", suite])


GATE_SPECS = [
    dg.AssetCheckSpec(check_name(s), asset=mart_key(s), blocking=True,
                      description=f"Great Expectations suite expectations/{s}.json (ERROR blocks publish, WARN alerts).")
    for s in suite_names()
] + [dg.AssetCheckSpec(PRIVACY_CHECK, asset=mart_key("metric_values"), blocking=True,
                       description="No suppressed count can be narrowed, by the sums the release shows, to a range "
                                   "narrower than BPS_PRIVACY_PROTECTION_LEVEL (bps_pipeline/privacy/audit.py).")]


def gate_checks() -> list[str]:
    """Every check that must pass in a run before it publishes."""
    return [spec.name for spec in GATE_SPECS]


class GateConfig(dg.Config):
    as_of_date: str | None = None


def to_check_result(r: SuiteResult) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if r.severity == "ERROR" else dg.AssetCheckSeverity.WARN
    failures = [{"expectation": f.expectation, "column": f.column, "severity": f.severity, "observed": f.observed,
                 "why": f.why} for f in r.failures]
    rows = [row for f in r.failures for row in f.failing_rows][:5]
    return dg.AssetCheckResult(
        asset_key=mart_key(r.suite), check_name=check_name(r.suite), passed=r.passed, severity=severity,
        metadata={
            "expectations": r.evaluated, "failed": len(r.failures),
            "observed": "; ".join(f"{f.expectation}({f.column or ''}): {f.observed}" for f in r.failures)[:2000] or "all passed",
            "failures": dg.MetadataValue.json(failures),
            "failing_rows": dg.MetadataValue.json(json.loads(json.dumps(rows, default=str))),
            "data_docs": r.data_docs or "",
        })


@dg.multi_asset_check(specs=GATE_SPECS, name="quality_gate", can_subset=False, required_resource_keys={"warehouse_lock"})
def quality_gate(context: dg.AssetCheckExecutionContext, config: GateConfig):
    """Runs every suite once (one read of the marts, one data-docs build), then the privacy audit."""
    settings = load_settings()
    for r in run_gate(settings, as_of=config.as_of_date):
        if not r.passed:
            context.log.warning(f"{r.suite}: {len(r.failures)} expectation(s) failed ({r.severity})")
        yield to_check_result(r)
    result = privacy_check_result(settings)
    if not result.passed:
        context.log.warning(f"{PRIVACY_CHECK}: {result.metadata['exposed'].value} hidden count(s) can be narrowed")
    yield result


def privacy_check_result(settings: Settings) -> dg.AssetCheckResult:
    with connect(settings, read_only=True) as con:
        audited, exposures = audit_release(con, settings.privacy_protection_level)
    named = [e.describe() for e in exposures[:EXPOSURES_NAMED]]
    return dg.AssetCheckResult(
        asset_key=mart_key("metric_values"), check_name=PRIVACY_CHECK, passed=not exposures,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "hidden_counts": audited, "exposed": len(exposures),
            "protection_level": settings.privacy_protection_level,
            "observed": (f"{len(exposures)} hidden count(s) can be narrowed below "
                         f"{settings.privacy_protection_level}: " + "; ".join(named)) if exposures else "all protected",
            "failing_rows": dg.MetadataValue.json([
                {"cell": list(e.cell), "count": e.count, "low": e.low, "high": e.high} for e in exposures[:EXPOSURES_NAMED]]),
        })

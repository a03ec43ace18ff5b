"""The quality gate as blocking asset checks: one check per Great Expectations suite, on its mart.

A suite whose critical expectations fail yields an ERROR check result, which (blocking) stops the
publish step; WARN-only failures yield WARN results, which alert but publish.
"""

import json

import dagster as dg

from bps_pipeline.config import load_settings
from bps_pipeline.quality.gate import SuiteResult, run_gate, suite_names


def check_name(suite: str) -> str:
    return f"gx_{suite}"


def mart_key(suite: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", suite])


GATE_SPECS = [
    dg.AssetCheckSpec(check_name(s), asset=mart_key(s), blocking=True,
                      description=f"Great Expectations suite expectations/{s}.json (ERROR blocks publish, WARN alerts).")
    for s in suite_names()
]


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
    """Runs every suite once (one read of the marts, one data-docs build)."""
    for r in run_gate(load_settings(), as_of=config.as_of_date):
        if not r.passed:
            context.log.warning(f"{r.suite}: {len(r.failures)} expectation(s) failed ({r.severity})")
        yield to_check_result(r)

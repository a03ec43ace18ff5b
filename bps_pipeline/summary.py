"""What `bps-pipeline run` prints: the published figures beside the report's, and where things are."""

from __future__ import annotations

import duckdb

from bps_pipeline.alerts.events import failure_reason, run_failure_reason
from bps_pipeline.catalog import is_rate, report_figures
from bps_pipeline.config import Settings
from bps_pipeline.transform.full_refresh import last_build


def figures_beside_report(con) -> list[tuple]:
    """(metric, year, period, breakdown, report figure, published display_value, within tolerance,
    hidden by the privacy rules) rows. The report's own figures are not in the marts, so they are
    formatted here."""
    rows = []
    for f in report_figures():
        got = con.execute(
            """SELECT value, display_value FROM marts.metric_values
               WHERE metric_id = ? AND school_year = ? AND period = ? AND school_id IS NULL
                 AND subgroup_type = ? AND subgroup_value = ?""",
            [f.metric_id, f.school_year, f.period, f.subgroup_type, f.subgroup_value]).fetchone()
        value, shown = got if got else (None, "-")
        ok = value is not None and abs(value - f.value) <= f.tolerance
        want = f"{100 * f.value:.1f}%" if is_rate(f.metric_id) else f"{f.value:.2f}"
        rows.append((f.metric_id, f.school_year, f.period,
                     "all" if f.subgroup_type == "all" else f.subgroup_value, want, shown, ok, bool(got) and value is None))
    return rows


def files_of_run(result) -> list[dict]:
    """Every file ingest looked at in this run, as its materializations record them."""
    out = []
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            files = e.event_specific_data.materialization.metadata.get("files")
            out += files.value if files is not None else []
    return out


def print_summary(settings: Settings, result, published: bool, seconds: float) -> None:
    failed_steps = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    failed_checks = [e.event_specific_data for e in result.all_events
                     if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed]
    if settings.published_path.exists():
        con = duckdb.connect(str(settings.published_path), read_only=True)
        try:
            print(f"\n{'metric':<34}{'year':>5} {'period':<10}{'breakdown':<18}{'report':>8}{'published':>11}")
            for metric, year, period, breakdown, want, got, ok, hidden in figures_beside_report(con):
                note = "" if ok else "  (hidden to protect a small group)" if hidden else "  <- outside tolerance"
                print(f"{metric:<34}{year:>5} {period:<10}{breakdown:<18}{want:>8}{got:>11}{note}")
            print("\nanchor goals:")
            for c, m, y, v, p, d in con.execute(
                    "SELECT commitment, metric_id, school_year, display_value, prior_display_value, direction "
                    "FROM marts.anchor_goals ORDER BY commitment").fetchall():
                print(f"  {c}  {m:<34} SY{y % 100:02d}  {v or '-':>7}  prior {p or '-':>7}  {d or '-'}")
        finally:
            con.close()
    print()
    for f in files_of_run(result):
        if f["status"] == "quarantined":
            print(f"quarantined: {f['reason']}")
        elif f.get("drift"):
            print(f"warning: {f['file']}: extra columns kept out of the warehouse: {', '.join(f['drift'])}")
    for check in failed_checks:
        what = "warning" if check.severity.value == "WARN" else "check failed"
        observed = (check.metadata or {}).get("observed")
        print(f"{what}: {check.asset_key.to_user_string()} / {check.check_name}"
              + (f": {str(observed.value)[:300]}" if observed is not None else ""))
    for step in failed_steps:
        print(f"step failed: {step.step_key}: {failure_reason(step)}")
    if not result.success and not failed_steps:
        print(f"run failed: {run_failure_reason(result)}")
    build = last_build(settings, run_id=result.run_id)
    if build and build.full_refresh_reason:
        print(f"dbt rebuilt in full: {build.full_refresh_reason}")
    state = "published" if published else "NOT published (the last good file, if any, is unchanged)"
    print(f"run {result.run_id[:8]}: {state} in {seconds:.0f} s")
    print(f"published file: {settings.published_path}")
    if published and (settings.report_dir / "report.html").exists():
        print(f"report:         {settings.report_dir / 'report.html'} (and report.pdf)")
    print(f"warehouse:      {settings.warehouse_path}")
    print(f"alert log:      {settings.alert_log_path}")

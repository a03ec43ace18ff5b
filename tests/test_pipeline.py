"""The whole pipeline on a small generated district: real Dagster run, real dbt, real publish."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess

import duckdb

from bps_pipeline.catalog import is_rate, metric_catalog, report_figures
from bps_pipeline.ingest.contract import EXTRACTS
from bps_pipeline.transform.assets import DBT_RUN_FOLDERS_KEPT
from tests.conftest import run_dbt


def published(settings):
    return duckdb.connect(str(settings.published_path), read_only=True)


def test_run_publishes_every_mart(pipeline_run):
    settings, result = pipeline_run
    assert result.success
    con = published(settings)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()}
    assert {"metric_values", "anchor_goals", "mart_course_failure", "mart_daily_attendance",
            "mart_survey_participation", "publish_log"} <= tables
    log = con.execute("SELECT run_id, source_extract_dates FROM marts.publish_log").fetchall()
    assert log[-1][0] == result.run_id and '"sis/course_marks": "2020-12-07"' in log[-1][1]
    metrics = {r[0] for r in con.execute("SELECT DISTINCT metric_id FROM marts.metric_values").fetchall()}
    assert metrics == set(metric_catalog())
    assert con.execute("SELECT count(*) FROM marts.anchor_goals WHERE value IS NOT NULL").fetchone()[0] == 6
    # no helper process outlives the run (Dagster's compute-log tails are switched off)
    lingering = subprocess.run(["pgrep", "-f", f"tail -F .*{settings.dagster_home}"], capture_output=True, text=True)
    assert lingering.stdout.strip() == ""


def test_every_dbt_node_arrives_as_a_materialization_or_a_check(pipeline_run):
    """Every model and seed is materialized, every data test is a check evaluation, all passed."""
    from bps_pipeline.transform.project import ensure_manifest

    settings, result = pipeline_run
    nodes = json.loads(ensure_manifest().read_text())["nodes"].values()
    built = {n["name"] for n in nodes if n["resource_type"] in ("model", "seed")}
    tests = {n["name"] for n in nodes if n["resource_type"] == "test"}
    materialized = {e.asset_key.path[-1] for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}
    checks = {e.event_specific_data.asset_check_key.name: e.event_specific_data.passed
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert built <= materialized
    assert {name: checks.get(name) for name in tests} == {name: True for name in tests}


def test_the_pipelines_dbt_invocation_is_recorded_as_the_pipelines(pipeline_run):
    """The on-run-start hook notes the build with its Dagster run (dbt by hand would have none)."""
    settings, result = pipeline_run
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT command, dagster_run_id FROM raw._dbt_invocations").fetchall()
    assert rows == [("build --select fqn:*", result.run_id)]  # dagster-dbt selects the whole project


def test_status_names_the_runs_dbt_build_and_no_full_refresh_to_come(pipeline_run, capsys):
    """`status` reads the build record and the full-build starts on one connection: the run's
    build (the warehouse's first, so a full one) finished, and the next night may be a daily build."""
    from bps_pipeline.cli import cmd_status

    settings, result = pipeline_run
    assert cmd_status(None, settings) == 0
    out = capsys.readouterr().out
    assert f"(run {result.run_id[:8]}), full refresh: no record of the dbt code" in out
    assert "the next daily build rebuilds in full" not in out


def test_each_build_keeps_its_dbt_artifacts_and_old_ones_are_pruned(pipeline_run):
    settings, result = pipeline_run
    here = settings.dbt_runs_dir / result.run_id
    assert (here / "run_results.json").exists() and (here / "dbt.log").exists()
    kept = {p.name for p in settings.dbt_runs_dir.iterdir()}
    assert "old-00" not in kept and "old-01" in kept, "the oldest planted build folder goes"
    assert len(kept) <= DBT_RUN_FOLDERS_KEPT


def test_a_misnamed_file_is_quarantined_and_alerted_without_stopping_the_run(pipeline_run):
    settings, result = pipeline_run
    assert (settings.quarantine_dir / "sis" / "studnets_20201207.csv").exists()
    assert not (settings.landing_dir / "sis" / "studnets_20201207.csv").exists()
    alerts = [json.loads(line) for line in settings.alert_log_path.read_text().splitlines()]
    assert [a["where"] for a in alerts if a["kind"] == "file_quarantined"] == ["sis/studnets_20201207.csv"]


def test_the_runs_summary_names_quarantined_files_warnings_and_the_report(pipeline_run, capsys):
    from bps_pipeline.summary import print_summary

    settings, result = pipeline_run
    print_summary(settings, result, published=True, seconds=1.0)
    out = capsys.readouterr().out
    quarantined = [line for line in out.splitlines() if line.startswith("quarantined: ")]
    assert len(quarantined) == 1 and "studnets_20201207.csv" in quarantined[0]
    assert any(line.startswith("warning: ") and "extra columns" in line for line in out.splitlines())
    assert f"report:         {settings.report_dir / 'report.html'}" in out


def test_every_raw_and_staging_table_is_populated(pipeline_run):
    settings, _ = pipeline_run
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for ex in EXTRACTS:
            assert con.execute(f"SELECT count(*) FROM {ex.table}").fetchone()[0] > 0, ex.table
        staging = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'staging'").fetchall()]
        # a view per extract, for each daily extract a view of how far each school year reaches,
        # and the snapshot loads the models rebuilt by school year hash (stg_ingest__snapshots)
        assert len(staging) == len(EXTRACTS) + sum(ex.kind == "daily" for ex in EXTRACTS) + 1
        for view in staging:
            assert con.execute(f"SELECT count(*) FROM staging.{view}").fetchone()[0] > 0, view
        # the through views hold each school year's newest day of the rows (taken here from the rows)
        for through, rows, day in (("stg_online__activity_through", "stg_online__activity", "activity_date"),
                                   ("stg_staff__signin_through", "stg_staff__signins", "signin_date")):
            assert con.execute(f"SELECT school_year, through_date FROM staging.{through} ORDER BY ALL").fetchall() == \
                con.execute(f"SELECT school_year, max({day}) FROM staging.{rows} GROUP BY ALL ORDER BY ALL").fetchall()


def test_district_figures_match_the_report(pipeline_run):
    """Within the report's tolerance, widened to 3 standard errors for the small test district.
    A figure the small district's privacy rules hide is compared through its exact cell in the
    warehouse, and must be marked suppressed or range-coded in the published file."""
    settings, _ = pipeline_run
    con = published(settings)
    warehouse = duckdb.connect(str(settings.warehouse_path), read_only=True)
    cell = """SELECT {} FROM {} WHERE metric_id = ? AND school_year = ? AND period = ? AND school_id IS NULL
              AND subgroup_type = ? AND subgroup_value = ?"""
    hidden = 0
    for f in report_figures():
        key = [f.metric_id, f.school_year, f.period, f.subgroup_type, f.subgroup_value]
        row = con.execute(cell.format("value, denominator, suppressed OR range_coded", "marts.metric_values"),
                          key).fetchone()
        assert row is not None, f
        if row[0] is None:
            assert row[2], f"{f} has no value and is not marked hidden"
            hidden += 1
            row = warehouse.execute(cell.format("value, denominator", "intermediate.int_metric_cells"), key).fetchone()
        value, n = row[:2]
        if not is_rate(f.metric_id):  # the parity indexes: no binomial spread
            assert abs(value - f.value) <= f.tolerance, (f, value)
            continue
        n = float(n) if n and n >= 1 and f.metric_id != "need_based_allocation" else 10_000
        spread = 3 * math.sqrt(f.value * (1 - f.value) / n)
        assert abs(value - f.value) <= max(f.tolerance, spread), (f, value, n)
    assert hidden <= len(report_figures()) // 4  # the district figures are mostly shown


def test_anchor_table_directions(pipeline_run):
    settings, _ = pipeline_run
    got = dict(published(settings).execute("SELECT metric_id, direction FROM marts.anchor_goals").fetchall())
    # exact by construction in the generator: No Change where the report says so
    assert got["graduate_readiness"] == "No Change"
    assert got["staff_parity_index_race"] == "No Change"
    assert got["need_based_allocation"] == "Decline"


IDENTIFIER = re.compile(r"(local_id|state_id|staff_id|email|person|student_name|staff_name|response_id|asset_tag|serial)", re.I)


def test_published_file_holds_no_identifiers(pipeline_run):
    settings, _ = pipeline_run
    con = published(settings)
    cols = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marts'").fetchall()
    assert not [c for c in cols if IDENTIFIER.search(c[1])]
    wh = duckdb.connect(str(settings.warehouse_path), read_only=True)
    ids = {r[0] for r in wh.execute(
        "SELECT local_id FROM raw.sis__students UNION SELECT state_id FROM raw.sis__students "
        "UNION SELECT staff_id FROM raw.staff__roster UNION SELECT lower(email) FROM raw.sis__students").fetchall()}
    for table, column, dtype in cols:
        if dtype != "VARCHAR":
            continue
        values = {r[0] for r in con.execute(f'SELECT DISTINCT "{column}" FROM marts.{table}').fetchall() if r[0]}
        assert not values & ids, f"marts.{table}.{column} holds identifiers"
        assert not any("@" in v for v in values), f"marts.{table}.{column} holds an email"


def test_no_unsuppressed_small_cell(pipeline_run):
    settings, _ = pipeline_run
    con = published(settings)
    people_rates = [m for m, r in metric_catalog().items()
                    if r["suppress"] == "true" and r["unit"] == "rate" and r["counts"] == "people"]
    assert "average_daily_attendance" not in people_rates  # its denominator counts student-days
    bad = con.execute(f"""
        SELECT metric_id, school_id, subgroup_type, subgroup_value, denominator FROM marts.metric_values
        WHERE metric_id IN ({", ".join("?" for _ in people_rates)}) AND NOT suppressed
          AND denominator < {settings.min_cell_size}""", people_rates).fetchall()
    assert bad == []
    assert con.execute("SELECT count(*) FROM marts.metric_values WHERE suppressed AND (value IS NOT NULL "
                       "OR numerator IS NOT NULL OR denominator IS NOT NULL OR prior_value IS NOT NULL)").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM marts.metric_values WHERE suppressed").fetchone()[0] > 0


def test_dbt_unit_tests_pass(pipeline_run):
    settings, _ = pipeline_run
    from bps_pipeline.transform.project import ensure_manifest

    unit_tests = len(json.loads(ensure_manifest().read_text())["unit_tests"])
    proc = run_dbt(settings, "test", "--select", "test_type:unit")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert f"PASS={unit_tests + 1} WARN=0 ERROR=0" in proc.stdout and unit_tests >= 21  # and the on-run-start hook


def test_a_student_twice_in_a_school_year_fails_the_grain_test(pipeline_run, tmp_path):
    """The metrics that count int_students' rows as people (cell_size='count(*)') rely on its grain:
    a second row for a student must fail the build's test, not double-count them in published cells."""
    settings, _ = pipeline_run
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, copy)
    grain = "unique_combination_int_students_school_year__local_id"
    assert run_dbt(settings, "test", "--select", grain, warehouse=copy).returncode == 0
    with duckdb.connect(str(copy)) as con:
        con.execute("INSERT INTO intermediate.int_students SELECT * FROM intermediate.int_students LIMIT 1")
    proc = run_dbt(settings, "test", "--select", grain, warehouse=copy)
    assert proc.returncode == 1 and f"FAIL 1 {grain}" in proc.stdout, proc.stdout[-2000:]


def test_figures_can_be_rebuilt_as_of_an_earlier_extract_date(pipeline_run, tmp_path):
    settings, _ = pipeline_run
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, copy)
    proc = run_dbt(settings, "build", "--exclude", "test_type:unit", "--vars", '{"as_of_date": "2020-11-30"}', warehouse=copy)
    assert proc.returncode == 0, proc.stdout[-4000:]
    con = duckdb.connect(str(copy), read_only=True)
    as_of, graded = con.execute("""SELECT as_of_date, denominator FROM marts.metric_values
        WHERE metric_id = 'core_course_failure_rate' AND school_year = 2021 AND school_id IS NULL
          AND subgroup_type = 'all'""").fetchone()
    now = duckdb.connect(str(settings.warehouse_path), read_only=True).execute("""SELECT denominator FROM marts.metric_values
        WHERE metric_id = 'core_course_failure_rate' AND school_year = 2021 AND school_id IS NULL
          AND subgroup_type = 'all'""").fetchone()[0]
    assert str(as_of) == "2020-11-30"
    assert graded < now  # marks posted in the last week were not in the earlier snapshot
    ada_as_of = con.execute("""SELECT max(as_of_date) FROM marts.metric_values
        WHERE metric_id = 'average_daily_attendance' AND school_year = 2021""").fetchone()[0]
    assert str(ada_as_of) == "2020-11-30"


def test_a_daily_build_of_an_emptied_incremental_model_rebuilds_every_day(pipeline_run, tmp_path):
    """The window starts var('incremental_lookback_days') before the newest day a model holds;
    holding no day, a daily (not full-refresh) build must rebuild them all, not none."""
    settings, _ = pipeline_run
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, copy)
    days = "SELECT calendar_date, school_id, learning_model, num, den FROM intermediate.int_attendance_days ORDER BY ALL"
    with duckdb.connect(str(copy)) as con:
        want = con.execute(days).fetchall()
        con.execute("DELETE FROM intermediate.int_attendance_days")
    proc = run_dbt(settings, "run", "--select", "int_attendance_days", warehouse=copy)
    assert proc.returncode == 0, proc.stdout[-4000:]
    with duckdb.connect(str(copy), read_only=True) as con:
        assert con.execute(days).fetchall() == want and len(want) > 100


def test_dbt_docs_generate(pipeline_run, tmp_path):
    settings, _ = pipeline_run
    proc = run_dbt(settings, "docs", "generate", "--target-path", str(tmp_path / "docs"))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "docs" / "catalog.json").exists()

"""A daily run after a full run publishes the same figures as a full rebuild on the same files,
reading only the new files."""

from __future__ import annotations

import csv
import json
import logging
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from bps_pipeline.cli import run_pipeline, was_published
from bps_pipeline.generate.district import GenerateOptions, generate
from tests.conftest import SMALL, run_dbt, use_folders

NEXT_DAY = date(2020, 12, 8)
# the models rebuilt by school year (inputs_hash; macros/incremental.sql)
BY_SCHOOL_YEAR = ("int_students", "int_course_marks", "int_metric__core_course_failure_rate",
                  "int_metric__students_failing_one_plus")


def _on_a_copy(settings, folder: Path, monkeypatch, landing: Path | None = None):
    """Settings on copies of the full run's warehouse and published file in `folder`."""
    folder.mkdir()
    for name in ("warehouse.duckdb", "published.duckdb"):
        shutil.copy(settings.data_dir / name, folder / name)
    return use_folders(monkeypatch, folder, landing or settings.landing_dir)


def _night(settings, tmp_path, monkeypatch, landing: Path):
    """A daily run on copies of the full run's warehouse and published file, reading `landing`."""
    s_daily = _on_a_copy(settings, tmp_path / "daily", monkeypatch, landing)
    result = run_pipeline(s_daily)
    assert was_published(result)
    return s_daily, result


def _rebuilt_years(target: Path) -> dict[str, str]:
    """The school years each model rebuilt by school year wrote into its compiled SQL."""
    out = {}
    for path in (target / "compiled" / "bps" / "models" / "intermediate").rglob("*.sql"):
        if path.stem in BY_SCHOOL_YEAR and "unit_tests" not in str(path):
            out[path.stem] = re.search(r"school_year in (\([^)]*\))", path.read_text())[1]
    return out


def _built(settings, run_id: str) -> dict[str, set[str]]:
    """The nodes a run's dbt build ran, by kind (seed, view, table, incremental, test)."""
    folder = settings.dbt_runs_dir / run_id
    nodes = json.loads((folder / "manifest.json").read_text())["nodes"]
    out: dict[str, set[str]] = {}
    for r in json.loads((folder / "run_results.json").read_text())["results"]:
        node = nodes[r["unique_id"]]
        kind = node["config"]["materialized"] if node["resource_type"] == "model" else node["resource_type"]
        out.setdefault(kind, set()).add(node["name"])
    return out


def _figures(path) -> list[tuple]:
    """Every published figure, unrounded: the same files must give the same figures to the last
    digit, whatever order a build's threads add the rows in (exact decimal sums; metric_rollup)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("""
            SELECT metric_id, school_year, period_type, period, as_of_date, school_id, subgroup_type, subgroup_value,
                   numerator, denominator, value, prior_value, suppressed
            FROM marts.metric_values ORDER BY ALL""").fetchall()


def test_next_day_incremental_run_equals_a_full_rebuild(pipeline_run, tmp_path, monkeypatch):
    settings, _ = pipeline_run
    # the next day's extracts of the same district: new daily files and new snapshots
    nxt = tmp_path / "next"
    generate(GenerateOptions(out=nxt, students=SMALL, seed=11, as_of=NEXT_DAY))
    landing = tmp_path / "landing"
    shutil.copytree(settings.landing_dir, landing)
    new_files = list(nxt.rglob(f"*_{NEXT_DAY:%Y%m%d}.csv"))
    assert {f.parent.name for f in new_files} >= {"online", "staff", "sis", "attendance", "devices"}
    for f in new_files:
        shutil.copy(f, landing / f.parent.name / f.name)

    # the daily run: the full run's warehouse and published file, plus the new files
    s_daily, result = _night(settings, tmp_path, monkeypatch, landing)
    daily = s_daily.data_dir
    loaded = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
              and e.asset_key.path[0] == "raw"
              and getattr(e.event_specific_data.materialization.metadata.get("files_loaded"), "value", 0) > 0]
    assert len(loaded) <= len({f.parent.name + f.name.rsplit("_", 1)[0] for f in new_files})
    with duckdb.connect(str(daily / "warehouse.duckdb"), read_only=True) as con:
        new_loads = con.execute("SELECT count(*) FROM raw._load_log WHERE load_id = ?", [result.run_id]).fetchone()[0]
    assert new_loads == len(new_files)  # only the new files were read
    # the night's snapshots are all SY2021's: the prior school years were left as they were
    assert _rebuilt_years(s_daily.dbt_runs_dir / result.run_id) == {m: "(2021)" for m in BY_SCHOOL_YEAR}
    # each student's year to date, summed from the months the night rebuilt (and the months it left
    # alone), equals the year's student-days counted directly - written here, not by the model
    with duckdb.connect(str(daily / "warehouse.duckdb"), read_only=True) as con:
        direct = con.execute("""
            SELECT school_year, local_id, school_id, count(*), sum(1 - portion_absent), max(calendar_date)
            FROM intermediate.int_student_days WHERE in_attendance_period GROUP BY ALL ORDER BY ALL""").fetchall()
        summed = con.execute("""
            SELECT school_year, local_id, school_id, days_enrolled, days_present, last_day
            FROM intermediate.int_student_attendance ORDER BY ALL""").fetchall()
        months = con.execute("SELECT count(DISTINCT month_start) FROM intermediate.int_student_attendance_months"
                             ).fetchone()[0]
    assert months >= 3  # September to December: months before the night's window were kept, not rebuilt
    assert summed == direct and len(direct) > 0
    # a daily build builds every node and runs every test, as the full one did
    night, first = _built(s_daily, result.run_id), _built(settings, pipeline_run[1].run_id)
    assert night == first

    # the full rebuild on the same files
    full = tmp_path / "full"
    s_full = use_folders(monkeypatch, full, landing)
    assert was_published(run_pipeline(s_full))

    got, want = _figures(daily / "published.duckdb"), _figures(full / "published.duckdb")
    assert len(got) == len(want) > 0
    assert got == want
    with duckdb.connect(str(daily / "published.duckdb"), read_only=True) as con:
        assert str(con.execute("SELECT max(as_of_date) FROM marts.metric_values").fetchone()[0]) == "2020-12-08"


def test_backfill_publishes_an_earlier_as_of_date_then_the_current_figures(pipeline_run, tmp_path):
    import os
    import subprocess
    import sys

    settings, _ = pipeline_run
    data = tmp_path / "data"
    data.mkdir()
    for name in ("warehouse.duckdb", "published.duckdb"):
        shutil.copy(settings.data_dir / name, data / name)
    env = {**os.environ, "BPS_DATA_DIR": str(data), "BPS_LANDING_DIR": str(settings.landing_dir)}
    proc = subprocess.run([sys.executable, "-m", "bps_pipeline.cli", "backfill", "--from", "2020-11-30", "--to", "2020-11-30"],
                          env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with duckdb.connect(str(data / "published.duckdb"), read_only=True) as con:
        as_ofs = [str(r[0]) for r in con.execute("SELECT as_of_date FROM marts.publish_log ORDER BY published_at").fetchall()]
        assert as_ofs[-2:] == ["2020-11-30", "None"]
        history = {str(r[0]) for r in con.execute("SELECT DISTINCT published_as_of FROM marts.metric_values_history").fetchall()}
        assert {"2020-11-30", "2020-12-07"} <= history
        # the current figures are back after the backfill
        assert str(con.execute("SELECT max(as_of_date) FROM marts.metric_values").fetchone()[0]) == "2020-12-07"
    # all of them, as the full run made them from the same files: the as-of build left each school
    # year's students and marks as of 2020-11-30, loaded in the same batch as 2020-12-07's
    assert _figures(data / "published.duckdb") == _figures(settings.published_path)


def _core_failure(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("""SELECT school_year, period, value FROM marts.metric_values
            WHERE metric_id = 'core_course_failure_rate' AND school_id IS NULL AND subgroup_type = 'all'
            ORDER BY ALL""").fetchall()


def test_a_prior_years_snapshot_sent_again_rebuilds_that_year(pipeline_run, tmp_path, monkeypatch):
    """SY2020's marks sent again under the same file name, corrected: the night rebuilds SY2020's
    marks and course-failure figures, leaves SY2021 and the students alone, and publishes what a
    full rebuild of the same files does."""
    settings, _ = pipeline_run
    landing = tmp_path / "landing"
    shutil.copytree(settings.landing_dir, landing)
    marks = landing / "sis" / "course_marks_20191209.csv"  # SY2020's only marks snapshot
    with open(marks, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if r["department"] == "MATH":
            r["mark"] = "50"  # every SY2020 math mark now fails
    with open(marks, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    s_daily, result = _night(settings, tmp_path, monkeypatch, landing)
    daily = s_daily.data_dir
    assert _rebuilt_years(s_daily.dbt_runs_dir / result.run_id) == {
        "int_students": "(null)", "int_course_marks": "(2020)",
        "int_metric__core_course_failure_rate": "(2020)", "int_metric__students_failing_one_plus": "(2020)"}

    full = tmp_path / "full"
    s_full = use_folders(monkeypatch, full, landing)
    assert was_published(run_pipeline(s_full))
    got, before = _core_failure(daily / "published.duckdb"), _core_failure(settings.data_dir / "published.duckdb")
    assert got == _core_failure(full / "published.duckdb")
    assert [r for r in got if r[0] == 2020] != [r for r in before if r[0] == 2020]  # the correction shows
    assert [r for r in got if r[0] == 2021] == [r for r in before if r[0] == 2021]
    with duckdb.connect(str(daily / "published.duckdb"), read_only=True) as con:
        math_2020 = con.execute("""SELECT value, range_coded, display_value FROM marts.metric_values
            WHERE metric_id = 'core_course_failure_rate' AND school_year = 2020 AND school_id IS NULL
              AND subgroup_type = 'subject' AND subgroup_value = 'MATH'""").fetchone()
    # every SY2020 math mark is now 50: all of them fail, which is published as a range (value_coding)
    assert math_2020[:2] == (None, True) and math_2020[2].startswith("≥")
    assert _figures(daily / "published.duckdb") == _figures(full / "published.duckdb")


@pytest.mark.parametrize("change", ["var", "seed"])
def test_a_changed_var_or_seed_rebuilds_every_school_year(pipeline_run, tmp_path, change):
    """A definition the marks are classified by - the passing mark (a var) or the failing_marks
    seed - changed between nights: the daily build rebuilds every school year, as a full refresh
    with the same definition does. Without it, prior years would keep the old definition."""
    settings, _ = pipeline_run
    models = ["int_course_marks", "int_metric__core_course_failure_rate", "int_metric__students_failing_one_plus"]
    args = ["run", "--select", *models]
    if change == "var":
        args += ["--vars", '{"passing_numeric_mark": 70}']
    built = {}
    for kind in ("daily", "full"):
        copy = tmp_path / kind / "warehouse.duckdb"
        copy.parent.mkdir()
        shutil.copy(settings.warehouse_path, copy)
        if change == "seed":  # as a seed edit loads: WF (withdrawn failing) no longer fails
            with duckdb.connect(str(copy)) as con:
                con.execute("DELETE FROM reference.failing_marks WHERE mark_code = 'WF'")
        extra = ["--full-refresh"] if kind == "full" else []
        proc = run_dbt(settings, *args, *extra, "--target-path", str(tmp_path / kind / "target"), warehouse=copy)
        assert proc.returncode == 0, proc.stdout[-4000:]
        with duckdb.connect(str(copy), read_only=True) as con:
            built[kind] = [con.execute(f"SELECT * FROM intermediate.{m} ORDER BY ALL").fetchall() for m in models]
    assert _rebuilt_years(tmp_path / "daily" / "target") == {m: "(2020, 2021)" for m in models}
    assert built["daily"] == built["full"]
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        before = con.execute("SELECT * FROM intermediate.int_course_marks ORDER BY ALL").fetchall()
    assert built["daily"][0] != before  # the change moved marks between classes
    with duckdb.connect(str(tmp_path / "daily" / "warehouse.duckdb"), read_only=True) as con:
        if change == "var":  # every year: below 70 fails, 70 and up passes
            wrong, moved = con.execute("""SELECT count(*) FILTER (numeric_mark < 70 AND mark_class = 'passing'
                                                            OR numeric_mark >= 70 AND mark_class = 'failing'),
                                                 count(*) FILTER (numeric_mark >= 60 AND numeric_mark < 70)
                                          FROM intermediate.int_course_marks WHERE school_year = 2020""").fetchone()
        else:  # every year: WF no longer fails
            wrong, moved = con.execute("""SELECT count(*) FILTER (mark_class = 'failing'), count(*)
                                          FROM intermediate.int_course_marks
                                          WHERE school_year = 2020 AND upper(trim(mark)) = 'WF'""").fetchone()
    assert wrong == 0 and moved > 0


def test_tables_built_before_inputs_hash_are_rebuilt_whole_by_the_next_night(pipeline_run, tmp_path):
    """A warehouse from before the school-year models (no inputs_hash column): the next daily build
    rebuilds every school year and adds the column. Comparing hashes against a table without the
    column once matched every year (DuckDB bound the missing name to the outer query's) and kept
    the old rows."""
    settings, _ = pipeline_run
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(settings.warehouse_path, copy)
    rows = {m: f"SELECT * EXCLUDE (inputs_hash) FROM intermediate.{m} ORDER BY ALL" for m in BY_SCHOOL_YEAR}
    with duckdb.connect(str(copy)) as con:
        want = {m: con.execute(q).fetchall() for m, q in rows.items()}
        for m in BY_SCHOOL_YEAR:
            con.execute(f"ALTER TABLE intermediate.{m} DROP COLUMN inputs_hash")
        con.execute("UPDATE intermediate.int_students SET grade_level = 'stale'")  # what the old table held
    proc = run_dbt(settings, "run", "--select", *BY_SCHOOL_YEAR, "--target-path", str(tmp_path / "target"), warehouse=copy)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert _rebuilt_years(tmp_path / "target") == {
        "int_students": "(2019, 2020, 2021)", "int_course_marks": "(2020, 2021)",
        "int_metric__core_course_failure_rate": "(2020, 2021)", "int_metric__students_failing_one_plus": "(2020, 2021)"}
    with duckdb.connect(str(copy), read_only=True) as con:
        assert {m: con.execute(q).fetchall() for m, q in rows.items()} == want
        assert con.execute("SELECT count(*) FROM intermediate.int_students WHERE inputs_hash IS NULL").fetchone()[0] == 0


PLANTED = 0.123456  # a portion absent no day has: marks rows a build did not rewrite


def _planted_rows(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT count(*) FROM intermediate.int_student_days WHERE portion_absent = ?",
                           [PLANTED]).fetchone()[0]


def _plant_old_days(path: Path, sql: str | None = None) -> None:
    """Days long before a daily build's window get a value no build makes (and `sql` runs)."""
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE intermediate.int_student_days SET portion_absent = ? "
                    "WHERE calendar_date < DATE '2020-10-01' AND school_year = 2021", [PLANTED])
        if sql:
            con.execute(sql)
    assert _planted_rows(path) > 0


def _was_full_refresh(settings, run_id: str) -> bool:
    args = json.loads((settings.dbt_runs_dir / run_id / "run_results.json").read_text())["args"]
    return bool(args.get("full_refresh"))


def test_a_change_of_dbt_code_makes_the_next_build_a_full_refresh(pipeline_run, tmp_path, monkeypatch, capsys):
    """A daily build rewrites its window only, so rows outside it stay as an earlier build's code made
    them. When the code that built the warehouse differs - here a macro, which no inputs_hash covers -
    the next build is a full refresh and says why, until one succeeds; the build after it is a daily
    one again."""
    from bps_pipeline.summary import print_summary
    from bps_pipeline.transform.full_refresh import BUILDS_TABLE, NO_RECORD, last_build

    settings, _ = pipeline_run
    landing = tmp_path / "landing"
    shutil.copytree(settings.landing_dir, landing)
    s = _on_a_copy(settings, tmp_path / "daily", monkeypatch, landing)
    assert last_build(s).full_refresh_reason == NO_RECORD  # the fixture's build, on a new warehouse
    _plant_old_days(s.warehouse_path,
                    f"""UPDATE {BUILDS_TABLE} SET code = json_merge_patch(code, '{{"macro metric_rollup": "0"}}')""")

    # a night whose full refresh fails (a student without an id fails dbt's not_null test): no
    # record, so the next night still knows the warehouse was built by other code
    with duckdb.connect(str(s.warehouse_path)) as con:
        victim = con.execute("SELECT min(local_id), max(_extract_date) FROM raw.sis__students").fetchone()
        con.execute("UPDATE raw.sis__students SET local_id = NULL WHERE local_id = ? AND _extract_date = ?", victim)
    result = run_pipeline(s)
    assert not result.success and _was_full_refresh(s, result.run_id)
    assert [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"] == ["dbt_models"]
    # the alert and the summary say which node failed and why, not only that dbt exited 1
    alerts = [json.loads(line) for line in s.alert_log_path.read_text().splitlines()]
    assert [a["observed"] for a in alerts if a["kind"] == "check_failed"] == ["rows failing the dbt test: 1"]
    (alert,) = [a for a in alerts if a["kind"] == "run_failed"]
    why = ("dbt_models: dbt build failed: test not_null_stg_sis__students_local_id failed: "
           "Got 1 result, configured to fail if != 0; ")
    assert alert["observed"].startswith(why) and f"dbt_runs/{result.run_id}/dbt.log" in alert["observed"], alert
    print_summary(s, result, published=False, seconds=1.0)
    assert f"step failed: {why}" in capsys.readouterr().out
    assert last_build(s, result.run_id) is None and last_build(s).code["macro metric_rollup"] == "0"
    with duckdb.connect(str(s.warehouse_path)) as con:
        con.execute("UPDATE raw.sis__students SET local_id = ? WHERE local_id IS NULL AND _extract_date = ?", victim)
    _plant_old_days(s.warehouse_path)  # the failed night rebuilt these days before it failed

    result = run_pipeline(s)
    assert was_published(result)
    assert _was_full_refresh(s, result.run_id)
    assert _planted_rows(s.warehouse_path) == 0  # every day rebuilt by the code of now
    assert last_build(s, result.run_id).full_refresh_reason == \
        "the dbt code changed since the last build (macro metric_rollup)"
    # the night after, with the same code: a daily build, which leaves the old days alone
    _plant_old_days(s.warehouse_path)
    result = run_pipeline(s)
    assert was_published(result)
    assert not _was_full_refresh(s, result.run_id) and last_build(s, result.run_id).full_refresh_reason is None
    assert _planted_rows(s.warehouse_path) > 0


def test_dbt_run_by_hand_makes_the_next_pipeline_build_a_full_one(pipeline_run, tmp_path, monkeypatch):
    """dbt run by hand writes rows no record describes (a daily window of changed code, a seed
    edited and reloaded): the project's on-run-start hook notes it, and the pipeline's next build
    is a full one that names it. A command that only reads notes nothing, nor does the pipeline's
    own build; the build after the full one is daily again."""
    from bps_pipeline.transform import full_refresh

    def by_hand() -> list[str]:
        with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
            return [r[0] for r in con.execute(f"SELECT command FROM {full_refresh.INVOCATIONS_TABLE} "
                                              "WHERE dagster_run_id IS NULL ORDER BY ALL").fetchall()]

    s = _on_a_copy(pipeline_run[0], tmp_path / "daily", monkeypatch)
    target = ["--target-path", str(tmp_path / "target")]
    assert run_dbt(s, "ls", "--select", "int_student_days", *target).returncode == 0
    assert run_dbt(s, "compile", "--select", "int_student_days", *target).returncode == 0
    assert by_hand() == []

    _plant_old_days(s.warehouse_path)
    proc = run_dbt(s, "run", "--select", "int_student_days", *target)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert by_hand() == ["run --select int_student_days"]
    assert _planted_rows(s.warehouse_path) > 0  # a daily window by hand left the old days
    result = run_pipeline(s)
    assert was_published(result) and _was_full_refresh(s, result.run_id) and _planted_rows(s.warehouse_path) == 0
    assert full_refresh.last_build(s, result.run_id).full_refresh_reason.startswith(
        "dbt was run by hand on the warehouse after the last build the pipeline recorded "
        "(`dbt run --select int_student_days` at ")

    _plant_old_days(s.warehouse_path)
    result = run_pipeline(s)
    assert was_published(result) and not _was_full_refresh(s, result.run_id) and _planted_rows(s.warehouse_path) > 0
    assert len(by_hand()) == 1


def test_a_warehouse_from_before_exact_numbers_is_retyped_and_rebuilt_in_full(pipeline_run, tmp_path, monkeypatch):
    """The warehouse as the code before exact numbers left it: its raw numbers and the tables made
    from them DOUBLE, and a build record without the raw types. The next night converts the raw
    columns, rebuilds in full (a daily build would fail dbt's on_schema_change check or keep the
    old types), and publishes to the last digit what the full run on the same files did."""
    from dagster import DagsterInstance

    from bps_pipeline.dagster_home import prepare_dagster_home
    from bps_pipeline.transform.full_refresh import BUILDS_TABLE, last_build

    settings, _ = pipeline_run
    s = _on_a_copy(settings, tmp_path / "daily", monkeypatch)
    decimal = """SELECT schema_name || '.' || table_name || '.' || column_name FROM duckdb_columns()
                 WHERE schema_name IN ('raw', 'intermediate') AND data_type LIKE 'DECIMAL%' ORDER BY 1"""
    with duckdb.connect(str(s.warehouse_path)) as con:
        columns = [r[0] for r in con.execute(decimal).fetchall()]
        assert {"raw.finance__budget_allocations.amount", "raw.attendance__attendance_events.portion_absent",
                "intermediate.int_student_days.portion_absent"} <= set(columns)
        for column in columns:
            schema, table, name = column.split(".")
            con.execute(f"ALTER TABLE {schema}.{table} ALTER {name} SET DATA TYPE DOUBLE")
        con.execute(f"""UPDATE {BUILDS_TABLE} SET code = (SELECT json_group_object(k, code ->> k)
                        FROM unnest(json_keys(code)) AS t(k) WHERE k NOT LIKE 'raw types %')""")
    result = run_pipeline(s)
    assert was_published(result) and _was_full_refresh(s, result.run_id)
    assert last_build(s, result.run_id).full_refresh_reason.startswith(
        "the dbt code changed since the last build (raw types ")
    # the ingest step says so, a warning per raw column it converted
    prepare_dagster_home(s)
    with DagsterInstance.get() as instance:
        warned = sorted(e.user_message for e in instance.all_logs(result.run_id)
                        if e.level == logging.WARNING and "retyped to the contract's type" in e.user_message)
    warning = "DOUBLE -> DECIMAL(18,6): retyped to the contract's type; the next dbt build is a full one"
    assert warned == sorted(f"{c}: {warning}" for c in columns if c.startswith("raw."))
    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        assert [r[0] for r in con.execute(decimal).fetchall()] == columns
    assert _figures(s.published_path) == _figures(settings.published_path)


def test_after_an_as_of_build_or_an_unfinished_full_one_the_next_build_is_full(pipeline_run, tmp_path, monkeypatch):
    """A daily build rewrites its window only. After an as-of build the older days hold that
    date's figures, and after a full build that failed part-way some tables are as its code or
    date made them (the code may have been taken back since): the next build is a full refresh."""
    from bps_pipeline.transform.full_refresh import last_build

    s = _on_a_copy(pipeline_run[0], tmp_path / "daily", monkeypatch)
    assert was_published(run_pipeline(s, as_of="2020-11-30"))
    _plant_old_days(s.warehouse_path)  # days the as-of build made, which a daily window leaves alone
    result = run_pipeline(s)
    assert was_published(result) and _was_full_refresh(s, result.run_id) and _planted_rows(s.warehouse_path) == 0
    assert last_build(s, result.run_id).full_refresh_reason == "the last build rebuilt the figures as of 2020-11-30"

    # a full build that fails (a student without an id fails dbt's not_null test) after rebuilding some tables
    with duckdb.connect(str(s.warehouse_path)) as con:
        victim = con.execute("SELECT min(local_id), max(_extract_date) FROM raw.sis__students").fetchone()
        con.execute("UPDATE raw.sis__students SET local_id = NULL WHERE local_id = ? AND _extract_date = ?", victim)
    failed = run_pipeline(s, full_refresh=True)
    assert not failed.success and _was_full_refresh(s, failed.run_id)
    with duckdb.connect(str(s.warehouse_path)) as con:
        con.execute("UPDATE raw.sis__students SET local_id = ? WHERE local_id IS NULL AND _extract_date = ?", victim)
    _plant_old_days(s.warehouse_path)
    result = run_pipeline(s)
    assert was_published(result) and _was_full_refresh(s, result.run_id) and _planted_rows(s.warehouse_path) == 0
    assert last_build(s, result.run_id).full_refresh_reason == (
        f"the full build of run {failed.run_id} (asked for (the weekly full refresh, or --full-refresh)) "
        "did not rebuild the whole project")
    # then daily builds again
    _plant_old_days(s.warehouse_path)
    result = run_pipeline(s)
    assert was_published(result) and not _was_full_refresh(s, result.run_id) and _planted_rows(s.warehouse_path) > 0


def test_the_code_parts_cover_what_computes_rows_and_nothing_else(monkeypatch):
    """Each kind of change that alters what a build computes is a changed part, named; a change to
    a description or to the as-of parameter is not."""
    import copy

    from bps_pipeline.transform.project import ensure_manifest
    from bps_pipeline.transform.full_refresh import NO_RECORD, changed_parts, code_parts, why_rebuild

    manifest = json.loads(ensure_manifest().read_text())
    env = {"BPS_MIN_CELL_SIZE": "10"}
    base = code_parts(manifest, env)
    assert {"model int_students", "seed failing_marks", "macro metric_rollup", "var passing_numeric_mark",
            "var min_cell_size", "dbt-core", "dbt-duckdb", "duckdb"} <= base.keys()
    assert not any(k.startswith(("test ", "source ", "unit_test ")) or k == "var as_of_date" for k in base)
    assert why_rebuild(base, code_parts(manifest, env)) is None
    assert why_rebuild(None, base) == NO_RECORD  # a warehouse from before the record: rebuilt whole

    def changed(edit) -> list[str]:
        m = copy.deepcopy(manifest)
        edit(m)
        return changed_parts(base, code_parts(m, env))

    nodes, macros = manifest["nodes"], manifest["macros"]
    student_model = next(k for k in nodes if k.endswith(".int_students"))
    rollup = next(k for k in macros if k.endswith(".metric_rollup"))
    seed = next(k for k in nodes if k.endswith(".failing_marks"))
    assert changed(lambda m: m["macros"][rollup].update(macro_sql="{% macro metric_rollup() %}{% endmacro %}")) \
        == ["macro metric_rollup"]
    assert changed(lambda m: m["nodes"][student_model]["checksum"].update(checksum="0")) == ["model int_students"]
    assert changed(lambda m: m["nodes"][student_model]["config"].update(materialized="table")) == ["model int_students"]
    assert changed(lambda m: m["nodes"][seed]["checksum"].update(checksum="0")) == ["seed failing_marks"]
    assert changed(lambda m: m["nodes"].pop(student_model)) == ["model int_students"]
    assert changed(lambda m: m["nodes"][student_model].update(description="why, in other words")) == []
    assert changed(lambda m: m["nodes"][student_model]["config"].update(tags=["nightly"], meta={"owner": "x"})) == []
    assert changed_parts(base, code_parts(manifest, {"BPS_MIN_CELL_SIZE": "11"})) == ["var min_cell_size"]
    # the types ingest gives the raw rows: numbers were DOUBLE before they were exact
    from bps_pipeline.ingest import loader

    monkeypatch.setattr(loader, "NUMBER_SQL", "DOUBLE")
    assert changed_parts(base, code_parts(manifest, env)) == [
        "raw types attendance__attendance_events", "raw types finance__budget_allocations",
        "raw types sis__graduates", "raw types staff__roster"]
    many = {k: "0" for k in list(base)[:7]}
    assert why_rebuild({**base, **many}, base).endswith(f"({', '.join(sorted(many)[:5])} and 2 more)")


def test_a_build_of_some_models_is_not_recorded_as_the_code_of_the_warehouse(pipeline_run, tmp_path, monkeypatch):
    """A run that selects some dbt assets leaves the others as an earlier build's code made them,
    so it must not become the record a later build compares its code with."""
    import dagster as dg

    from bps_pipeline.dagster_home import prepare_dagster_home
    from bps_pipeline.definitions import defs
    from bps_pipeline.transform.full_refresh import last_build

    settings, _ = pipeline_run
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(settings.warehouse_path, data / "warehouse.duckdb")
    s = use_folders(monkeypatch, data, settings.landing_dir)
    before = last_build(s)
    prepare_dagster_home(s)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("pipeline").execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(["intermediate", "int_staff"])])
    assert result.success
    assert (s.dbt_runs_dir / result.run_id / "run_results.json").exists()  # dbt did build
    assert last_build(s, result.run_id) is None and last_build(s) == before


def test_a_school_year_no_snapshot_holds_any_more_is_deleted_by_the_daily_build(pipeline_run, tmp_path):
    """Every snapshot that held a school year was sent again without it: the daily build deletes
    the year from the models rebuilt by school year, as a full refresh would (delete+insert alone
    replaces only the years a build writes, so the year's old rows would stay)."""
    settings, _ = pipeline_run
    built, years = {}, {}
    for kind in ("daily", "full"):
        copy = tmp_path / kind / "warehouse.duckdb"
        copy.parent.mkdir()
        shutil.copy(settings.warehouse_path, copy)
        with duckdb.connect(str(copy)) as con:  # ingest's index after such files: marks name their year,
            # a students file's is its extract date's
            con.execute("DELETE FROM raw._snapshots WHERE source = 'sis' AND (extract = 'course_marks' AND school_year = 2020 "
                        "OR extract = 'students' AND extract_date = DATE '2019-06-10')")
        extra = ["--full-refresh"] if kind == "full" else []
        proc = run_dbt(settings, "run", "--select", *BY_SCHOOL_YEAR, *extra,
                       "--target-path", str(tmp_path / kind / "target"), warehouse=copy)
        assert proc.returncode == 0, proc.stdout[-4000:]
        with duckdb.connect(str(copy), read_only=True) as con:
            built[kind] = {m: con.execute(f"SELECT * FROM intermediate.{m} ORDER BY ALL").fetchall() for m in BY_SCHOOL_YEAR}
            years[kind] = {m: [r[0] for r in con.execute(f"SELECT DISTINCT school_year FROM intermediate.{m} ORDER BY 1")
                               .fetchall()] for m in BY_SCHOOL_YEAR}
    # the years the index still holds, known from what was deleted (SY2019 students, SY2020 marks):
    # for the daily build under test, not only for the full refresh it is compared with
    for kind in ("daily", "full"):
        assert years[kind] == {"int_students": [2020, 2021], "int_course_marks": [2021],
                               "int_metric__core_course_failure_rate": [2021],
                               "int_metric__students_failing_one_plus": [2021]}, kind
    assert _rebuilt_years(tmp_path / "daily" / "target") == {m: "(null)" for m in BY_SCHOOL_YEAR}  # nothing else changed
    assert built["daily"] == built["full"]

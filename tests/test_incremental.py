"""A daily run after a full run publishes the same figures as a full rebuild on the same files,
reading only the new files."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb

from bps_pipeline.cli import run_pipeline, was_published
from bps_pipeline.generate.district import GenerateOptions, generate
from tests.conftest import SMALL, use_folders

NEXT_DAY = date(2020, 12, 8)


def _figures(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("""
            SELECT metric_id, school_year, period_type, period, as_of_date, school_id, subgroup_type, subgroup_value,
                   round(numerator, 9), round(denominator, 9), round(value, 12), round(prior_value, 12), suppressed
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
    daily = tmp_path / "daily"
    daily.mkdir()
    for name in ("warehouse.duckdb", "published.duckdb"):
        shutil.copy(settings.data_dir / name, daily / name)
    s_daily = use_folders(monkeypatch, daily, landing)
    result = run_pipeline(s_daily)
    assert was_published(result)
    loaded = [e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
              and e.asset_key.path[0] == "raw"
              and getattr(e.event_specific_data.materialization.metadata.get("files_loaded"), "value", 0) > 0]
    assert len(loaded) <= len({f.parent.name + f.name.rsplit("_", 1)[0] for f in new_files})
    with duckdb.connect(str(daily / "warehouse.duckdb"), read_only=True) as con:
        new_loads = con.execute("SELECT count(*) FROM raw._load_log WHERE load_id = ?", [result.run_id]).fetchone()[0]
    assert new_loads == len(new_files)  # only the new files were read
    # each student's year to date, summed from the months the night rebuilt (and the months it left
    # alone), equals the year's student-days counted directly - written here, not by the model
    with duckdb.connect(str(daily / "warehouse.duckdb"), read_only=True) as con:
        direct = con.execute("""
            SELECT school_year, local_id, school_id, count(*), round(sum(1 - portion_absent), 9), max(calendar_date)
            FROM intermediate.int_student_days WHERE in_attendance_period GROUP BY ALL ORDER BY ALL""").fetchall()
        summed = con.execute("""
            SELECT school_year, local_id, school_id, days_enrolled, round(days_present, 9), last_day
            FROM intermediate.int_student_attendance ORDER BY ALL""").fetchall()
        months = con.execute("SELECT count(DISTINCT month_start) FROM intermediate.int_student_attendance_months"
                             ).fetchone()[0]
    assert months >= 3  # September to December: months before the night's window were kept, not rebuilt
    assert summed == direct and len(direct) > 0

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

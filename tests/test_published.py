"""The published release as a dashboard tool meets it: a DuckDB 1.4 reader opens it, every table
and column is described, counts are integers where they count, the dimension marts name every
school and metric, and the Parquet copies are the same release's tables."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import duckdb
import yaml

from bps_pipeline.config import DBT_PROJECT_DIR, PROJECT_ROOT

READER_14 = PROJECT_ROOT / ".venv-duckdb14" / "bin" / "python"  # made by `make test`
OPEN_WITH_1_4 = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
print(json.dumps({"version": duckdb.__version__,
                  "tables": {t: n for t, n in con.execute(
                      "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()},
                  "district_figures": con.execute("SELECT count(*) FROM marts.metric_values "
                                                  "WHERE school_id IS NULL AND subgroup_type = 'all'").fetchone()[0],
                  "comment": con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'metric_values'").fetchone()[0]}))
"""


def test_duckdb_1_4_opens_the_published_file(pipeline_run):
    settings, _ = pipeline_run
    assert READER_14.exists(), "run `make test`: it makes .venv-duckdb14 with DuckDB 1.4"
    out = subprocess.run([str(READER_14), "-c", OPEN_WITH_1_4, str(settings.published_path)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout)
    assert seen["version"].startswith("1.4.")
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()}
        district = con.execute("SELECT count(*) FROM marts.metric_values WHERE school_id IS NULL "
                               "AND subgroup_type = 'all'").fetchone()[0]
    assert set(seen["tables"]) == tables and seen["district_figures"] == district > 0
    assert seen["comment"].startswith("Every figure of the strategic plan")


def test_every_published_table_and_column_is_described_and_counts_are_integers(pipeline_run):
    settings, _ = pipeline_run
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        tables = con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall()
        columns = con.execute("SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
                              "WHERE schema_name = 'marts'").fetchall()
    assert {"dim_schools", "dim_metrics", "metric_values", "publish_log", "metric_values_history"} <= {t for t, _ in tables}
    assert [t for t, comment in tables if not comment] == []
    assert [(t, c) for t, c, _, comment in columns if not comment] == []
    types = {(t, c): ty for t, c, ty, _ in columns}
    for column in (("mart_survey_participation", "responses"), ("mart_survey_participation", "invited"),
                   ("mart_daily_attendance", "enrolled_students"), ("mart_course_failure", "numerator")):
        assert types[column] == "BIGINT", column
    assert types[("metric_values", "numerator")] == "DECIMAL(18,6)"  # people, person-days, dollars, exact


def test_the_dimension_marts_name_every_school_and_metric_published(pipeline_run):
    settings, _ = pipeline_run
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        unnamed = con.execute("SELECT DISTINCT m.school_id FROM marts.metric_values m LEFT JOIN marts.dim_schools s "
                              "USING (school_id) WHERE m.school_id IS NOT NULL AND s.school_name IS NULL").fetchall()
        undescribed = con.execute("SELECT DISTINCT metric_id FROM marts.metric_values "
                                  "EXCEPT SELECT metric_id FROM marts.dim_metrics").fetchall()
        anchors = con.execute("SELECT count(*) FROM marts.dim_metrics WHERE is_anchor_goal").fetchone()[0]
    assert unnamed == [] and undescribed == [] and anchors == 6


def test_the_parquet_copies_are_the_releases_tables(pipeline_run):
    settings, _ = pipeline_run
    release = settings.published_dir.resolve()  # resolved once: one release's files
    manifest = json.loads((release / "release.json").read_text())
    assert manifest["release"] == release.name and manifest["storage_version"] == settings.published_storage_version
    with duckdb.connect(str(release / "published.duckdb"), read_only=True) as con:
        for table, rows in manifest["tables"].items():
            parquet = release / "parquet" / f"{table}.parquet"
            assert hashlib.sha256(parquet.read_bytes()).hexdigest() == manifest["parquet"][f"{table}.parquet"]
            assert con.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0] == rows
            same = con.execute(f"SELECT count(*) FROM (SELECT * FROM marts.{table} EXCEPT ALL "
                               f"SELECT * FROM read_parquet('{parquet}'))").fetchone()[0]
            assert same == 0, table
            kv = dict(con.execute(f"SELECT key::VARCHAR, value::VARCHAR FROM parquet_kv_metadata('{parquet}')").fetchall())
            assert kv["release"] == release.name
    assert os.readlink(settings.published_path) == "published/published.duckdb"


def test_every_published_mart_has_an_enforced_contract_with_every_column_typed():
    doc = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "_marts.yml").read_text())
    marts = {p.stem for p in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")}
    assert {m["name"] for m in doc["models"]} == marts
    for m in doc["models"]:
        assert m["config"]["contract"]["enforced"] is True, m["name"]
        assert all(c.get("data_type") and c.get("description") for c in m["columns"]), m["name"]

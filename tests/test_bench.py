"""The benchmark's own parts, on the small district's real run: the floor computes the same
figures as the pipeline (so pipeline/floor compares like with like), stage seconds come from the
run's event log, and the dashboard queries run on the published file."""

from __future__ import annotations

import os
import shutil

import duckdb

from bps_pipeline import bench
from bps_pipeline.transform.code_changes import NO_RECORD
from tests.conftest import use_folders


def test_the_floor_runs_the_compiled_sql_and_gets_the_pipelines_figures(pipeline_run, tmp_path, monkeypatch):
    settings, _ = pipeline_run
    floor_settings = use_folders(monkeypatch, tmp_path / "data", settings.landing_dir)
    bench.compile_for_floor(dict(os.environ))
    bench.floor(floor_settings)
    floor = bench.floor_path(floor_settings)
    with duckdb.connect(str(floor), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.metric_values").fetchone()[0] > 1000
    assert bench.differing_figures(settings.warehouse_path, floor) == 0
    # the figures are exact, so a last digit differing is a different figure (the comparison once
    # allowed 1e-9 of a figure's size, for sums of DOUBLEs): dollar totals over 1e6 moved by 1e-10
    # of themselves each count, on a copy
    moved_floor = tmp_path / "moved.duckdb"
    shutil.copy(floor, moved_floor)
    with duckdb.connect(str(moved_floor)) as con:
        moved = con.execute("UPDATE marts.metric_values SET numerator = numerator * (1 + 1e-10), "
                            "denominator = denominator * (1 - 1e-10) WHERE numerator > 1e6").fetchone()[0]
    assert moved > 0 and bench.differing_figures(settings.warehouse_path, moved_floor) == moved
    changes = [  # a changed figure, a cell missing, a suppressed cell shown, a cell twice
        "UPDATE marts.metric_values SET value = value + 0.01 WHERE rowid = "
        "(SELECT min(rowid) FROM marts.metric_values WHERE value IS NOT NULL)",
        "DELETE FROM marts.metric_values WHERE rowid = (SELECT max(rowid) FROM marts.metric_values)",
        "UPDATE marts.metric_values SET suppressed = false, numerator = 3 WHERE rowid = "
        "(SELECT min(rowid) FROM marts.metric_values WHERE suppressed AND numerator IS NULL)",
        "INSERT INTO marts.metric_values SELECT * FROM marts.metric_values WHERE rowid = "
        "(SELECT max(rowid) FROM marts.metric_values WHERE NOT suppressed)"]  # a row none of the above touched
    for differing, change in enumerate(changes, start=1):
        with duckdb.connect(str(floor)) as con:
            assert con.execute(change).fetchone()[0] == 1
        assert bench.differing_figures(settings.warehouse_path, floor) == differing


def test_stage_seconds_come_from_the_newest_runs_event_log(pipeline_run):
    settings, result = pipeline_run
    steps = bench.newest_run(settings)["steps"]
    read = bench.run_reads(settings, result.run_id)  # the first run loaded every landing file
    assert read["files"] == read["landing_files"] > 100 and read["rows"] > 0
    assert set(steps) >= {"ingest", "dbt", "gate", "publish"}
    assert all(v > 0 for v in steps.values())
    assert steps["dbt"] > steps["publish"]


def test_dashboard_queries_run_on_the_published_file(pipeline_run):
    settings, _ = pipeline_run
    timings = bench.dashboard_timings(settings.data_dir / "published.duckdb", repeat=3)
    assert set(timings) == set(bench.DASHBOARD_QUERIES)
    assert all(t["median_ms"] > 0 for t in timings.values())


def test_the_parallel_check_times_real_work_on_one_thread_and_on_two():
    """Fifty times the rows take several times as long on each thread count: the timed aggregate
    does the work (the speed-up itself depends on what the VM gives, so no range is asserted)."""
    small, big = bench.parallel_check(2, rows=3_000_000), bench.parallel_check(2, rows=150_000_000)
    assert set(big) == {"1_thread_s", "2_thread_s", "speedup"}
    for key in ("1_thread_s", "2_thread_s"):
        assert big[key] > 4 * max(small[key], 0.01), (small, big)


def test_make_bench_reports_every_stage_of_every_scale(tmp_path):
    """`make bench` end to end on a district of 1,521 students (0.027x), twice over: every stage, the
    whole and next-day runs (each the best of two), both floors and the dashboard queries land in
    the JSON, which names what it measured."""
    import json

    assert bench.main(["--scales", "0.027", "--repeat", "2", "--out", str(tmp_path)]) == 0
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("results-*.json")]
    assert report["software"]["duckdb"] == duckdb.__version__
    (result,) = report["results"]
    assert result["students"] == 1521
    # a full school year of daily data: through SY2021's second-last school day, and the next-day
    # run brought the last
    assert report["as_of"] == result["as_of"] == "2021-06-22"
    landing = tmp_path / "scale_0.027" / "landing"
    assert max(p.name for p in landing.glob("online/activity_*.csv")) == "activity_20210623.csv"
    assert (landing / "attendance" / "attendance_events_20210623.csv").exists()
    assert set(result["stages"]) == set(result["incremental_stages"]) == {"ingest", "dbt", "gate", "publish"}
    measured = [result[k] for k in ("generate", "dbt_parse", "whole_run", "floor", "incremental_run", "floor_next_day")]
    for m in [*measured, *result["stages"].values(), *result["incremental_stages"].values()]:
        assert m["seconds"] > 0 and m["peak_mib"] > 0
    for run in ("whole_run", "floor", "incremental_run"):  # best of two, each run's seconds kept
        assert result[run]["runs"] == len(result[run]["all_seconds"]) == 2
        assert result[run]["seconds"] == min(result[run]["all_seconds"])
    # each repetition's night over its own whole run, and its whole run over its own floor
    for key, run, base in (("incremental_over_full", "incremental_run", "whole_run"),
                           ("pipeline_over_floor", "whole_run", "floor")):
        paired = result["paired"][key]
        assert paired["each"] == [round(a / b, 3) for a, b in zip(result[run]["all_seconds"], result[base]["all_seconds"])]
        assert paired["median"] == round(sum(paired["each"]) / 2, 2)
    # the whole run builds a new warehouse; the night is a daily build (the bench raises otherwise)
    assert result["whole_run"]["dbt_full_refresh"] == NO_RECORD and result["incremental_run"]["dbt_full_refresh"] is None
    for run in ("whole_run", "incremental_run"):
        assert {"ingest", "dbt", "gate", "publish"} <= set(result[run]["steps"])
        assert result[run]["steps"]["start_up_and_other"] > 0  # the stages fit inside the process that ran them
        nodes = result[run]["dbt_nodes"]  # where the dbt build went, from its run_results.json and debug log
        # the night leaves the views and seeds the whole run made standing (transform/standing.py)
        kinds = {"model", "staging view", "seed", "test"} if run == "whole_run" else {"model", "test"}
        assert set(nodes["by_kind"]) == kinds
        assert 0 < max(nodes["slowest"].values()) <= sum(nodes["by_kind"].values()) <= nodes["elapsed"] + 1
        # the nodes' time split into their SQL (from dbt's debug log) and dbt's own work around it
        assert 0 < nodes["sql"] < sum(nodes["by_kind"].values())
        assert nodes["dbt_own"] > 0  # the rest of the nodes' time (each figure rounded on its own)
        assert abs(nodes["dbt_own"] - (sum(nodes["by_kind"].values()) - nodes["sql"])) < 0.05
        assert len(nodes["slowest"]) == 12
    assert result["next_day_files"] > 0 and all(n > 0 for n in result["rows_per_extract"].values())
    # generating the night's files alone (generate --night-only) is measured like every stage
    assert result["generate_next_day"]["seconds"] > 0 and result["generate_next_day"]["peak_mib"] > 0
    assert set(result["dashboard"]) == set(bench.DASHBOARD_QUERIES)
    # the full run read every file the district had; the next-day run the night's files and
    # nothing it had loaded before
    full, read = result["whole_run"]["read"], result["incremental_run"]["read"]
    assert full["rows"] == sum(result["rows_per_extract"].values())
    assert full["files"] + result["next_day_files"] == read["landing_files"]
    assert read["files"] == result["next_day_files"] < read["landing_files"]
    assert 0 < read["rows"] < full["rows"]
    # the next-day floor ran the night's SQL: the night changed figures, and the bench (which
    # raises otherwise) found the floor's figures equal to the next-day run's
    assert result["floor_next_day"]["figures_the_night_changed"] > 0
    assert result["floor_next_day_over_floor"] > 0 and result["incremental_over_its_floor"] > 0
    # each statement counted for the node it ran in: no node's SQL exceeds the node's own time in
    # run_results.json (a statement counted for the wrong node, or twice, would), in every build left
    builds = list(tmp_path.glob("scale_*/data/dbt_runs/*/run_results.json"))
    assert builds
    for path in builds:
        took = {r["unique_id"]: r["execution_time"] for r in json.loads(path.read_text())["results"]}
        sql = bench.node_sql_seconds(path.with_name("dbt.log"))
        assert sql and set(sql) <= set(took)
        assert all(seconds <= took[node] + 0.005 for node, seconds in sql.items()), path
    assert not list(tmp_path.glob("scale_*/data/floor"))  # the floor's copy of the warehouse is removed
    assert not list(tmp_path.glob("scale_*/data_before_next_day")) and not list(tmp_path.glob("scale_*/floor_parked"))
    assert not list(tmp_path.glob("scale_*/next_day*"))  # the held next-day files went to the landing folder


def test_a_failed_stage_says_why():
    """A stage that fails stops the benchmark with the end of its output (the CLI says on stdout
    which check blocked publication)."""
    import sys

    import pytest

    with pytest.raises(RuntimeError, match="exited 1: the gate blocked publication"):
        bench.measure([sys.executable, "-c", "print('the gate blocked publication'); raise SystemExit(1)"], dict(os.environ))


def test_a_failed_scale_keeps_what_it_measured(tmp_path, monkeypatch):
    """A scale that fails (here its generate step: every measured command fails) still writes what
    it measured before the failure, with the reason, to the JSON, and the bench stops."""
    import json

    import pytest

    def fails(cmd, env):
        raise RuntimeError("exited 1: no space left on device")

    monkeypatch.setattr(bench, "measure", fails)
    with pytest.raises(RuntimeError, match="no space left"):
        bench.main(["--scales", "0.027", "--out", str(tmp_path)])
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("results-*.json")]
    (result,) = report["results"]
    assert result["failed"] == "RuntimeError: exited 1: no space left on device"
    assert result["students"] == 1521 and result["parallel_check"]["speedup"] > 0


def test_a_scale_too_small_for_every_metric_is_refused(capsys):
    """200 students over 128 schools leave no school with 20 growth scores: the run would be
    blocked by the gate (a metric is missing), so the benchmark refuses the scale up front."""
    import pytest

    with pytest.raises(SystemExit) as refused:
        bench.main(["--scales", "0.25", "0.0035"])
    assert refused.value.code == 2
    assert "scale 0.0035 is 197 students; the smallest is 0.018 (1000 students)" in capsys.readouterr().err


def test_an_as_of_date_without_a_next_school_day_is_refused(capsys):
    """The next-day run needs a next school day in the year: the last one is refused up front, not
    after the full run has been measured."""
    import pytest

    with pytest.raises(SystemExit) as refused:
        bench.main(["--scales", "0.25", "--as-of", "2021-06-23"])
    assert refused.value.code == 2
    assert "--as-of 2021-06-23 must fall between 2020-10-05 and the day before 2021-06-23" in capsys.readouterr().err


def test_node_sql_seconds_counts_the_nodes_statements_only(tmp_path):
    """dbt's debug log: each statement's SQLQueryStatus with the node it ran for; statements of
    dbt's start have no node, and other events carry no statement time."""
    import json

    import pytest

    def event(name, data):
        return json.dumps({"data": data, "info": {"name": name, "level": "debug"}}) + "\n"

    log = tmp_path / "dbt.log"
    log.write_text(
        event("SQLQueryStatus", {"elapsed": 0.25, "node_info": {"unique_id": "model.bps.a"}})
        + event("SQLQuery", {"sql": "select 'SQLQueryStatus'", "node_info": {"unique_id": "model.bps.a"}})
        + event("SQLQueryStatus", {"elapsed": 1.5, "node_info": {"unique_id": "model.bps.b"}})
        + event("SQLQueryStatus", {"elapsed": 4.0, "conn_name": "master"})  # no node: dbt's start
        + event("SQLQueryStatus", {"elapsed": 2.0, "node_info": {}})
        + '{"data": {"elapsed": 9.0, "node_info": {"unique_id": "model.bps.c"}}, "info": {"name": "SQLQueryStatus"\n')  # cut short
    assert bench.node_sql_seconds(log) == {"model.bps.a": 0.25, "model.bps.b": 1.5}
    log.write_text("12:00:00  Running with dbt=1.11\n")  # a text log: no split rather than a wrong one
    with pytest.raises(RuntimeError, match="no SQL statement timings"):
        bench.node_sql_seconds(log)

"""The benchmark's own parts: the floor computes the pipeline's figures (so whole/floor compares
like with like), stage seconds come from the run's event log, and `make bench` runs end to end."""

from __future__ import annotations

import json
import os
import shutil
import sys

import duckdb
import pytest

from bench import floor as bench_floor
from bench import run as bench
from bps_pipeline.transform.full_refresh import NO_RECORD
from tests.conftest import use_folders


def test_the_floor_runs_the_compiled_sql_and_gets_the_pipelines_figures(pipeline_run, tmp_path, monkeypatch):
    settings, _ = pipeline_run
    floor_settings = use_folders(monkeypatch, tmp_path / "data", settings.landing_dir)
    bench_floor.compile_for_floor(dict(os.environ))
    bench_floor.floor(floor_settings)
    floor = bench_floor.floor_path(floor_settings)
    with duckdb.connect(str(floor), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM marts.metric_values").fetchone()[0] > 1000
    assert bench_floor.differing_figures(settings.warehouse_path, floor) == 0
    # the figures are exact: dollar totals moved by 1e-10 of themselves each count, on a copy
    moved_floor = tmp_path / "moved.duckdb"
    shutil.copy(floor, moved_floor)
    with duckdb.connect(str(moved_floor)) as con:
        moved = con.execute("UPDATE marts.metric_values SET numerator = numerator * (1 + 1e-10) "
                            "WHERE numerator > 1e6").fetchone()[0]
    assert moved > 0 and bench_floor.differing_figures(settings.warehouse_path, moved_floor) == moved
    changes = [  # a changed figure, a cell missing, a suppressed cell shown, a cell twice
        "UPDATE marts.metric_values SET value = value + 0.01 WHERE rowid = "
        "(SELECT min(rowid) FROM marts.metric_values WHERE value IS NOT NULL)",
        "DELETE FROM marts.metric_values WHERE rowid = (SELECT max(rowid) FROM marts.metric_values)",
        "UPDATE marts.metric_values SET suppressed = false, numerator = 3 WHERE rowid = "
        "(SELECT min(rowid) FROM marts.metric_values WHERE suppressed AND numerator IS NULL)",
        "INSERT INTO marts.metric_values SELECT * FROM marts.metric_values WHERE rowid = "
        "(SELECT max(rowid) FROM marts.metric_values WHERE NOT suppressed)"]
    for differing, change in enumerate(changes, start=1):
        with duckdb.connect(str(floor)) as con:
            assert con.execute(change).fetchone()[0] == 1
        assert bench_floor.differing_figures(settings.warehouse_path, floor) == differing


def test_stage_seconds_come_from_the_newest_runs_event_log(pipeline_run):
    settings, result = pipeline_run
    newest = bench.newest_run(settings)
    assert newest["run_id"] == result.run_id
    read = newest["read"]  # the first run loaded every landing file
    assert read["files"] == read["landing_files"] > 100 and read["rows"] > 0
    steps = newest["steps"]
    assert set(steps) >= {"ingest", "dbt", "gate", "publish"} and all(v > 0 for v in steps.values())
    assert steps["dbt"] > steps["publish"]
    assert newest["dbt_full_refresh"] == NO_RECORD and newest["dbt_nodes"]["elapsed"] > 0


@pytest.mark.slow
def test_make_bench_reports_every_stage_and_the_targets(tmp_path):
    """`make bench` end to end on a district of 1,521 students (0.027x), twice over: every stage,
    the whole and next-day runs (each the best of two, with paired ratios), the floor, the
    dashboard queries and the targets land in the JSON."""
    assert bench.main(["--scales", "0.027", "--repeat", "2", "--out", str(tmp_path)]) == 0
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("results-*.json")]
    assert report["software"]["duckdb"] == duckdb.__version__
    (result,) = report["results"]
    assert result["students"] == 1521 and report["as_of"] == result["as_of"] == "2021-06-22"
    landing = tmp_path / "scale_0.027" / "landing"
    assert max(p.name for p in landing.glob("online/activity_*.csv")) == "activity_20210623.csv"
    assert set(result["stages"]) == set(bench.STAGES)
    for m in [result[k] for k in ("generate", "generate_next_day", "dbt_parse", "whole_run", "floor", "next_day_run")]:
        assert m["seconds"] > 0 and m["peak_mib"] > 0
    for run in ("whole_run", "floor", "next_day_run"):
        assert result[run]["runs"] == len(result[run]["all_seconds"]) == 2
        assert result[run]["seconds"] == min(result[run]["all_seconds"])
    for key, run, base in (("night_over_full", "next_day_run", "whole_run"), ("pipeline_over_floor", "whole_run", "floor")):
        paired = result["paired"][key]
        assert paired["each"] == [round(a / b, 3) for a, b in zip(result[run]["all_seconds"], result[base]["all_seconds"])]
    assert result["whole_run"]["dbt_full_refresh"] == NO_RECORD and result["next_day_run"]["dbt_full_refresh"] is None
    for run in ("whole_run", "next_day_run"):
        assert {"ingest", "dbt", "gate", "publish"} <= set(result[run]["steps"])
        assert result[run]["steps"]["start_up_and_other"] > 0
    full, night = result["whole_run"]["read"], result["next_day_run"]["read"]
    assert full["rows"] == sum(result["rows_per_extract"].values())
    assert night["files"] == result["next_day_files"] > 0 and full["files"] + night["files"] == night["landing_files"]
    assert set(result["dashboard"]) == set(bench.DASHBOARD_QUERIES)
    assert {t["target"] for t in result["targets"]} == {"peak memory GiB (the pipeline's processes)",
                                                        "dashboard query median ms (slowest query)"}
    assert all(isinstance(t["met"], bool) for t in result["targets"])
    assert not list(tmp_path.glob("scale_*/data/floor")) and not list(tmp_path.glob("scale_*/next_day"))


def test_the_targets_are_judged_at_their_scales():
    def result(scale, over_floor, night_s, night_over, peak):
        return {"scale": scale, "paired": {"pipeline_over_floor": {"median": over_floor}, "night_over_full": {"median": night_over}},
                "next_day_run": {"seconds": night_s, "peak_mib": peak}, "whole_run": {"peak_mib": 1},
                "stages": {"dbt": {"peak_mib": 2}}, "dashboard": {"q": {"median_ms": 3.0}}}

    at_16 = {t["target"]: t["met"] for t in bench.targets(result(16, 1.31, 110, 0.12, 4200))}
    assert at_16 == {"whole run / floor (paired median)": False, "next-day run seconds": True,
                     "next-day run / whole run (paired median)": True, "peak memory GiB (the pipeline's processes)": False,
                     "dashboard query median ms (slowest query)": True}
    assert len(bench.targets(result(1, 9.0, 999, 0.9, 100))) == 2  # 1x: memory and dashboards only


def test_a_failed_stage_says_why():
    with pytest.raises(RuntimeError, match="exited 1: the gate blocked publication"):
        bench.measure([sys.executable, "-c", "print('the gate blocked publication'); raise SystemExit(1)"], dict(os.environ))


def test_a_failed_scale_keeps_what_it_measured(tmp_path, monkeypatch):
    def fails(cmd, env):
        raise RuntimeError("exited 1: no space left on device")

    monkeypatch.setattr(bench, "measure", fails)
    with pytest.raises(RuntimeError, match="no space left"):
        bench.main(["--scales", "0.027", "--out", str(tmp_path)])
    (report,) = [json.loads(p.read_text()) for p in tmp_path.glob("results-*.json")]
    (result,) = report["results"]
    assert result["failed"] == "RuntimeError: exited 1: no space left on device"
    assert result["students"] == 1521 and result["parallel_check"]["speedup"] > 0


@pytest.mark.parametrize("argv, said", [
    (["--scales", "0.25", "0.0035"], "scale 0.0035 is 197 students; the smallest is 0.018 (1000 students)"),
    (["--scales", "0.25", "--as-of", "2021-06-23"], "--as-of 2021-06-23 must fall between 2020-10-05 and the day before 2021-06-23"),
])
def test_what_the_bench_cannot_measure_is_refused_up_front(argv, said, capsys):
    with pytest.raises(SystemExit) as refused:
        bench.main(argv)
    assert refused.value.code == 2 and said in capsys.readouterr().err

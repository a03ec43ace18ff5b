"""Reliability: settings and arguments are checked before anything runs; two runs never share
the warehouse; a killed run, a full disk or a reader during publishes never corrupt a release."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from bps_pipeline.cli import main
from tests.conftest import use_folders

CLI = [sys.executable, "-m", "bps_pipeline.cli"]


@pytest.mark.parametrize("name, value, said", [
    ("BPS_DUCKDB_MEMORY_LIMIT", "lots", "BPS_DUCKDB_MEMORY_LIMIT='lots' is not a memory size DuckDB accepts"),
    ("BPS_DUCKDB_MEMORY_LIMIT", "0GB", "BPS_DUCKDB_MEMORY_LIMIT='0GB' is not a memory size DuckDB accepts"),
    ("BPS_DUCKDB_THREADS", "two", "BPS_DUCKDB_THREADS='two' is not a whole number"),
    ("BPS_MIN_CELL_SIZE", "0", "BPS_MIN_CELL_SIZE='0' must be 1 to 1000"),
    ("BPS_SCHEDULE_CRON", "0 25 * * *", "the hour field '25' is not one of * or 0-23"),
    ("BPS_FULL_REFRESH_CRON", "weekly", "is not a cron expression: five fields"),
    ("BPS_SCHEDULE_TIMEZONE", "Mars/Olympus", "is not an IANA time zone"),
    ("BPS_LOG_LEVEL", "loud", "BPS_LOG_LEVEL='loud' is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("BPS_SENSOR_DEBOUNCE_SECONDS", "soon", "is not a number of seconds"),
    ("BPS_RUN_WAIT_SECONDS", "-5", "must be 0 to 86400 seconds"),
    ("BPS_ALERT_WEBHOOK_URL", "hooks.example/x", "is not an http:// or https:// address"),
    ("BPS_ALERT_SMTP_PORT", "99999", "must be 1 to 65535"),
    ("BPS_STALENESS_REFERENCE", "yesterday", "is not 'data', 'today' or a YYYY-MM-DD date"),
])
def test_a_setting_that_cannot_be_used_stops_every_command_with_one_line(name, value, said, tmp_path, monkeypatch,
                                                                          capsys):
    use_folders(monkeypatch, tmp_path / "data", tmp_path / "landing")
    monkeypatch.setenv(name, value)
    for command in (["status"], ["run"], ["generate", "--out", str(tmp_path / "g")]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1, err
    assert not (tmp_path / "data").exists() and not (tmp_path / "g").exists()  # nothing ran


@pytest.mark.parametrize("argv, said", [
    (["run", "--as-of", "2031-01-01"], "2031-01-01 is in the future"),
    (["run", "--as-of", "2020-02-30"], "'2020-02-30' is not a date (YYYY-MM-DD)"),
    (["run", "--as-of", "2001-01-01"], "--as-of 2001-01-01 is before every extract (the earliest is dated"),
    (["publish", "--as-of", "2099-06-01"], "2099-06-01 is in the future"),
    (["backfill", "--from", "2020-12-07", "--to", "2020-11-01"], "--from 2020-12-07 is after --to 2020-11-01"),
    (["run", "--full-refresh", "--no-such-option"], "unrecognized arguments: --no-such-option"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_an_argument_that_cannot_be_used_is_one_line_and_exit_2(argv, said, settings, capsys):
    from bps_pipeline.warehouse import connect

    with connect(settings) as con:  # a warehouse, for publish and backfill
        con.execute("CREATE SCHEMA raw; CREATE TABLE raw._load_log (extract_date DATE); "
                    "INSERT INTO raw._load_log VALUES ('2017-12-11')")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1, err


def _lock_holder(settings) -> dict | None:
    lock = settings.data_dir / "pipeline.lock"
    text = lock.read_text().strip() if lock.exists() else ""
    return json.loads(text) if text else None


def test_a_second_run_exits_saying_which_run_holds_the_warehouse_or_waits_for_it(pipeline_run, tmp_path, monkeypatch):
    settings = use_folders(monkeypatch, tmp_path / "data", pipeline_run[0].landing_dir)
    shutil.copytree(pipeline_run[0].data_dir, settings.data_dir,
                    ignore=shutil.ignore_patterns("dbt_runs", "gx_project", "dagster_home"))
    env = {**os.environ}
    first = subprocess.Popen([*CLI, "run", "--full-refresh"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.monotonic() + 120
    while _lock_holder(settings) is None:  # the first run has set up and holds the warehouse
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.2)
    holder = _lock_holder(settings)["run_id"]
    second = subprocess.run([*CLI, "run"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1
    assert f'another run holds the warehouse ({{"run_id": "{holder}"' in second.stdout, second.stdout
    assert "this run changed nothing" in second.stdout
    waiting = subprocess.Popen([*CLI, "run"], env={**env, "BPS_RUN_WAIT_SECONDS": "600"}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, out[-2000:] + err[-2000:]
    out, err = waiting.communicate(timeout=600)
    assert waiting.returncode == 0 and "published" in out, out[-2000:] + err[-2000:]
    alerts = [json.loads(line) for line in settings.alert_log_path.read_text().splitlines()]
    busy = [a for a in alerts if a["kind"] == "run_failed"]
    assert len(busy) == 1 and "another run holds the warehouse" in busy[0]["observed"]
    assert _lock_holder(settings) is None  # released at the end of the runs

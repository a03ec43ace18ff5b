"""Daily operations: schedule and sensor (with Dagster's testing APIs), the command line in a
subprocess, and the Dagster webserver answering GraphQL on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from bps_pipeline.dagster_home import DAGSTER_YAML
from bps_pipeline.ingest.sensors import build_landing_sensor
from bps_pipeline.jobs import build_daily_schedule, build_weekly_full_refresh
from tests.conftest import ingest

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "bps_pipeline.cli"]


@pytest.fixture(scope="module")
def job():
    from bps_pipeline.definitions import pipeline

    return pipeline


def test_daily_schedule_requests_the_pipeline_at_5_in_new_york(job, monkeypatch):
    monkeypatch.delenv("BPS_SCHEDULE_CRON", raising=False)
    schedule = build_daily_schedule(job)
    assert schedule.cron_schedule == "0 5 * * *" and schedule.execution_timezone == "America/New_York"
    data = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=None))
    assert len(data.run_requests) == 1
    monkeypatch.setenv("BPS_SCHEDULE_CRON", "30 6 * * 1-5")
    monkeypatch.setenv("BPS_SCHEDULE_TIMEZONE", "UTC")
    other = build_daily_schedule(job)
    assert other.cron_schedule == "30 6 * * 1-5" and other.execution_timezone == "UTC"


def test_weekly_full_refresh_schedule_rebuilds_incremental_models(job):
    weekly = build_weekly_full_refresh(job)
    data = weekly.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=None))
    assert data.run_requests[0].run_config["ops"]["dbt_models"]["config"]["full_refresh"] is True



def test_landing_sensor_sees_new_files_and_ignores_loaded_ones(settings, job, monkeypatch):
    from bps_pipeline.ingest.contract import EXTRACTS

    sensor = build_landing_sensor(job)
    with dg.DagsterInstance.ephemeral() as instance:
        monkeypatch.setenv("BPS_SENSOR_DEBOUNCE_SECONDS", "3600")
        settling = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not settling.run_requests and "settling" in settling.skip_message
        monkeypatch.setenv("BPS_SENSOR_DEBOUNCE_SECONDS", "0")
        fresh = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(fresh.run_requests) == 1 and fresh.run_requests[0].run_key.startswith("landing-")
        ingest(settings, "sensor-test", *EXTRACTS)
        loaded = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not loaded.run_requests and "no new" in loaded.skip_message
        new = settings.landing_dir / "online" / "activity_20201208.csv"
        new.write_text("user_email,activity_date,application,event_count\ns1@x.example,2020-12-08,Gmail,3\n")
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(again.run_requests) == 1
        assert again.run_requests[0].run_key != fresh.run_requests[0].run_key
        new.unlink()
        # a loaded file re-sent with the same size but other content is seen too (size + mtime)
        resent = settings.landing_dir / "survey" / "invitations_20201207.csv"
        lines = resent.read_text().splitlines(keepends=True)
        lines[1], lines[-1] = lines[-1], lines[1]
        resent.write_text("".join(lines))
        stamp = resent.stat().st_mtime_ns - 10 * 10**9  # settled, and unlike the logged time on any clock
        os.utime(resent, ns=(stamp, stamp))
        rewritten = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert len(rewritten.run_requests) == 1 and "1" == rewritten.run_requests[0].tags["bps/new_files"]


def test_landing_sensor_waits_while_a_run_is_in_progress(settings, job, monkeypatch):
    sensor = build_landing_sensor(job)
    monkeypatch.setenv("BPS_SENSOR_DEBOUNCE_SECONDS", "0")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_run(dg.DagsterRun(job_name=job.name, run_id="r1", status=dg.DagsterRunStatus.STARTED))
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        assert not tick.run_requests and "in progress" in tick.skip_message


# --- the command line ---------------------------------------------------------------------------


def _cli(*args, env=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=600)


@pytest.mark.parametrize("command", ["generate", "run", "validate", "publish", "status", "backfill", "dev"])
def test_every_subcommand_has_help(command):
    proc = _cli(command, "--help")
    assert proc.returncode == 0 and "usage: bps-pipeline" in proc.stdout


def test_bad_usage_exits_2_with_one_line(tmp_path):
    env = {"BPS_DATA_DIR": str(tmp_path / "d"), "BPS_LANDING_DIR": str(tmp_path / "empty")}
    proc = _cli("run", env=env)
    assert proc.returncode == 2 and "no extracts in" in proc.stderr and "Traceback" not in proc.stderr
    assert _cli("generate", "--students", "ten").returncode == 2
    assert _cli("frobnicate").returncode == 2
    proc = _cli("publish", env=env)
    assert proc.returncode == 2 and "no warehouse" in proc.stderr
    proc = _cli("status", env={**env, "BPS_MIN_CELL_SIZE": "zero"})
    assert proc.returncode == 2 and "BPS_MIN_CELL_SIZE" in proc.stderr


def test_status_lists_sources_and_a_quarantined_file(settings):
    from bps_pipeline.ingest.contract import BY_KEY

    bad = settings.landing_dir / "sis" / "students_20201208.csv"
    bad.write_text("state_id,local_id\n1,2\n")
    ingest(settings, "status-test", BY_KEY[("sis", "students")])
    env = {"BPS_DATA_DIR": str(settings.data_dir), "BPS_LANDING_DIR": str(settings.landing_dir)}
    proc = _cli("status", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "sis/students" in proc.stdout and "2020-12-07" in proc.stdout
    assert "quarantined files: 1" in proc.stdout and "students_20201208.csv" in proc.stdout
    assert "missing" in proc.stdout
    # no dbt build yet: the next one rebuilds every model whole
    assert "the next daily build rebuilds in full: no record of the dbt code" in proc.stdout


def test_a_reader_that_stops_early_gets_no_error(settings, monkeypatch, capsys):
    """`bps-pipeline status | head -1`: the closed pipe ends the command quietly, exit 1."""
    import io

    from bps_pipeline.cli import main

    read_end, write_end = os.pipe()  # the settings fixture has pointed BPS_DATA_DIR at its folders
    os.close(read_end)
    with io.FileIO(write_end, "w") as closed_pipe:
        monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(closed_pipe, write_through=True))
        assert main(["status"]) == 1
    assert "Error" not in capsys.readouterr().err


# --- the Dagster UI -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_webserver_serves_the_asset_graph(tmp_path):
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {**os.environ, "DAGSTER_HOME": str(home), "BPS_DATA_DIR": str(tmp_path / "data")}
    exe = str(Path(sys.executable).with_name("dagster-webserver"))
    proc = subprocess.Popen([exe, "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        query = json.dumps({"query": "{ assetNodes { assetKey { path } groupName } }"}).encode()
        deadline, nodes = time.time() + 120, None
        while time.time() < deadline and nodes is None:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=query,
                                             headers={"Content-Type": "application/json"})
                body = json.loads(urllib.request.urlopen(req, timeout=5).read())
                nodes = body.get("data", {}).get("assetNodes") or None
            except OSError:
                time.sleep(1)
        assert nodes, "the GraphQL endpoint never listed the assets"
        keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
        assert {"raw/sis__students", "marts/metric_values", "published/published_duckdb"} <= keys
        assert {n["groupName"] for n in nodes} >= {"ingest", "marts", "publish"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_failed_dbt_build_is_explained_in_one_line(tmp_path):
    """What the run's summary and alert say when dbt fails: each failed node and dbt's reason
    without the preamble that repeats the node's name, how many nodes were skipped, where the log
    is; dbt's own messages when it stopped before writing run_results.json. (A real failed build's
    message: test_a_change_of_dbt_code_makes_the_next_build_a_full_refresh.)"""
    from bps_pipeline.transform.build_failure import NODES_NAMED, why_the_build_failed

    assert why_the_build_failed(tmp_path, ["Could not find profile named 'bps'", " "]) == \
        "dbt build failed without writing run_results.json: Could not find profile named 'bps'."
    (tmp_path / "dbt.log").write_text("")
    error = ("Runtime Error in model int_student_days (models/intermediate/int_student_days.sql)\n"
             "  Binder Error: Referenced column \"entry_date\" not found in FROM clause!\n  " + "x" * 400)
    results = [{"unique_id": "model.bps.int_student_days", "status": "error", "message": error},
               {"unique_id": "test.bps.not_null_stg_sis__students_local_id.9d96279601", "status": "fail",
                "message": "Got 1 result, configured to fail if != 0"},
               {"unique_id": "model.bps.int_students", "status": "success", "message": "OK"},
               {"unique_id": "model.bps.metric_values", "status": "skipped", "message": None},
               {"unique_id": "model.bps.anchor_goals", "status": "skipped", "message": None}]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results}))
    said = why_the_build_failed(tmp_path, ["ignored: run_results.json says more"])
    assert said.startswith('dbt build failed: model int_student_days errored: Binder Error: Referenced column '
                           '"entry_date" not found in FROM clause! xxx')
    assert "Runtime Error" not in said and "\n" not in said
    assert said.endswith("...; test not_null_stg_sis__students_local_id failed: Got 1 result, configured to fail "
                         f"if != 0; 2 nodes skipped after them. dbt's log: {tmp_path / 'dbt.log'}")
    many = [{"unique_id": f"test.bps.t{i}.x", "status": "fail", "message": "Got 2 results"} for i in range(NODES_NAMED + 2)]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": many}))
    assert f"t{NODES_NAMED - 1} failed: Got 2 results; and 2 more." in why_the_build_failed(tmp_path, [])
    # every node passed, yet dbt exited 1 (an on-run-end hook, say): dbt's own messages, each on one line
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results[2:3]}))
    assert why_the_build_failed(tmp_path, ["it exited with code 1", "on-run-end failed:\n  no table x", ""]) == \
        f"dbt build failed: it exited with code 1; on-run-end failed: no table x. dbt's log: {tmp_path / 'dbt.log'}"
    assert why_the_build_failed(tmp_path, []) == \
        f"dbt build failed: dbt ended with an error outside its nodes. dbt's log: {tmp_path / 'dbt.log'}"


def test_dbt_messages_are_taken_from_dagster_dbts_error():
    """dagster-dbt's description: three paragraphs of its own, then dbt's error messages."""
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    from bps_pipeline.transform.assets import dbt_messages

    err = DagsterDbtCliRuntimeError(description=(
        "The dbt CLI process with command\n\n`dbt build --exclude test_type:unit`\n\nfailed with exit code `2`."
        " Check the stdout in the Dagster compute logs for the full information about the error, or view the dbt"
        " debug log: /x/dbt.log.\n\nErrors parsed from dbt logs:\n\nEncountered an error:\nRuntime Error\n\n"
        "Could not find profile named 'bps'"))
    assert dbt_messages(err) == ["it exited with code 2", "Encountered an error:\nRuntime Error",
                                 "Could not find profile named 'bps'"]
    assert dbt_messages(DagsterDbtCliRuntimeError(description="something else")) == ["something else"]
    other = "dbt stopped\n\nErrors parsed from dbt logs:\n\nno profile"  # another shape: whole, nothing lost
    assert dbt_messages(DagsterDbtCliRuntimeError(description=other)) == [other]


def test_a_dbt_build_that_fails_before_its_nodes_is_explained_from_dagster_dbts_real_error(tmp_path):
    """The same, on dagster-dbt's own error from a real dbt process that stops before any node (no
    run_results.json): its exit code and dbt's message, without dagster-dbt's headings. (A hand-made
    description once missed the heading dagster-dbt puts before dbt's messages.)"""
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    from bps_pipeline.transform.assets import dbt_messages, dbt_resource
    from bps_pipeline.transform.build_failure import why_the_build_failed

    invocation = dbt_resource.cli(["parse", "--profile", "no_such_profile"], target_path=tmp_path)
    with pytest.raises(DagsterDbtCliRuntimeError) as raised:
        invocation.wait()
    assert invocation.process.returncode == 2  # dbt's own code for a run that could not start
    said = why_the_build_failed(tmp_path, dbt_messages(raised.value))
    assert said == ("dbt build failed without writing run_results.json: it exited with code 2; Encountered an "
                    f"error: Runtime Error Could not find profile named 'no_such_profile'. dbt's log: {tmp_path / 'dbt.log'}")


def test_run_failure_sensor_alerts_why_each_step_failed(tmp_path, monkeypatch):
    """Under the daemon a failed run reaches people through this sensor; its alert says why each
    step failed, in one line (a Failure's description: the dbt step's names the failed nodes),
    not only Dagster's 'Steps failed: [...]'."""
    from bps_pipeline.alerts.sensors import run_failure_alerts
    from tests.conftest import use_folders

    settings = use_folders(monkeypatch, tmp_path / "data", tmp_path / "landing", BPS_ALERT_WEBHOOK_URL="",
                           BPS_ALERT_SMTP_HOST="")

    @dg.op
    def dbt_models():
        raise dg.Failure(description="dbt build failed: model int_x errored:\n  Binder Error: no column y.")

    @dg.op
    def ingest_step():
        raise OSError("landing share went away\nsecond line")

    @dg.job
    def failing():
        dbt_models()
        ingest_step()

    with dg.DagsterInstance.ephemeral() as instance:
        result = failing.execute_in_process(instance=instance, raise_on_error=False)
        run_failure_alerts(dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=result.dagster_run).for_run_failure())
    (alert,) = [json.loads(line) for line in settings.alert_log_path.read_text().splitlines()]
    assert alert["kind"] == "run_failed" and sorted(alert["where"].split(", ")) == ["dbt_models", "ingest_step"]
    assert sorted(alert["observed"].split("; ")) == [
        "dbt_models: dbt build failed: model int_x errored: Binder Error: no column y.",
        "ingest_step: OSError: landing share went away"], alert["observed"]

"""`bps-dbt` handing itself to a dbt process started early (bps_pipeline/transform/warm_dbt.py),
with real processes: the command's output, exit code and signals are dbt's as if it ran itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest

from bps_pipeline.config import DBT_EXECUTABLE, DBT_PROJECT_DIR
from bps_pipeline.transform import warm_dbt


@contextmanager
def sigint_ignored():
    """Processes started inside are started as a shell script's background job (`cmd &`) starts
    them, and a daemon started that way: with SIGINT ignored, which they inherit. The tests that
    interrupt dbt start it so: it must stop all the same."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def warm():
    with sigint_ignored():
        server = warm_dbt.start()
    yield server
    server.stop()


def bps_dbt(*args: str, socket_path=None, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != warm_dbt.SOCKET_ENV}
    if socket_path is not None:
        env[warm_dbt.SOCKET_ENV] = str(socket_path)
    return subprocess.run([str(DBT_EXECUTABLE), *args], env=env, capture_output=True, text=True, timeout=120, **kwargs)


def slow_parse(socket_path, tmp_path) -> subprocess.Popen:
    """`bps-dbt parse` with no partial-parse file, which takes seconds: time to interrupt it. It
    writes tmp_path/target/manifest.json only if it runs to the end."""
    env = {**os.environ, warm_dbt.SOCKET_ENV: str(socket_path), "BPS_DATA_DIR": str(tmp_path / "data")}
    with sigint_ignored():
        return subprocess.Popen([str(DBT_EXECUTABLE), "parse", "--no-partial-parse", "--project-dir", str(DBT_PROJECT_DIR),
                                 "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target")],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_bps_dbt_runs_in_the_process_started_early(warm):
    done = bps_dbt("--version", socket_path=warm.socket_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed:" in done.stdout  # dbt's output, on the pipe bps-dbt was given
    assert warm.process.wait(timeout=30) == 0, "the server ran the command and ended"
    assert warm.stop() is True


def test_dbts_exit_code_comes_back(warm):
    done = bps_dbt("no-such-command", socket_path=warm.socket_path)
    assert done.returncode == 2  # click's usage error, as plain dbt exits
    assert "No such command" in done.stderr
    assert warm.stop() is True


def test_without_a_server_or_after_its_one_build_bps_dbt_runs_dbt_itself(warm, tmp_path):
    assert bps_dbt("--version", socket_path=tmp_path / "none.sock").returncode == 0
    assert bps_dbt("--version", socket_path=warm.socket_path).returncode == 0
    assert not warm.socket_path.exists(), "a server serves one build"
    second = bps_dbt("--version", socket_path=warm.socket_path)
    assert second.returncode == 0 and "installed:" in second.stdout


def test_an_unused_server_is_stopped_and_its_folder_removed():
    server = warm_dbt.start()
    assert server.stop() is False
    assert server.process.returncode is not None
    assert not server.socket_path.parent.exists()


def test_a_server_that_took_a_build_counts_as_used_while_it_is_still_ending(tmp_path):
    """After a build the server reports dbt's exit code, then tears down; a run that stops it in
    between (as a loaded machine can) must not log it as unused, nor cut its teardown short."""
    folder = tmp_path / "bps-dbt-x"
    folder.mkdir()
    ending = subprocess.Popen(["sleep", "1"])  # a server that took its build: socket gone, still running
    server = warm_dbt.WarmDbt(ending, folder / "dbt.sock")
    assert server.stop() is True
    assert ending.returncode == 0, "let it end by itself, not terminated"
    assert not folder.exists()


def test_the_warm_up_parses_while_ingest_holds_the_warehouse_and_leaves_nothing_behind(tmp_path):
    """The server's throwaway parse runs while ingest writes: it must not need the warehouse, and
    must leave the server's environment and dbt's once-a-process warnings as a new process has them."""
    import duckdb

    data = tmp_path / "data"
    data.mkdir()
    ingest = duckdb.connect(str(data / "warehouse.duckdb"))  # a writer holds DuckDB's file lock
    ingest.execute("CREATE TABLE t AS SELECT 1 AS x")
    ingest.execute("BEGIN")
    ingest.execute("INSERT INTO t VALUES (2)")
    script = """
import os, sys
from pathlib import Path
from dbt import deprecations
from bps_pipeline.transform.warm_dbt import warm_up
before = dict(os.environ)
deprecations.active_deprecations["exposure-name"] += 1  # as if one had been given
folder = Path(sys.argv[1])
assert warm_up(folder), "dbt parse failed"
assert dict(os.environ) == before, "environment changed"
assert not folder.exists(), "folder left"
assert not deprecations.active_deprecations, "warnings not reset"
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BPS_")} | {"BPS_DATA_DIR": str(data)}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "warm-up")], env=env, capture_output=True,
                          text=True, timeout=120)
    ingest.execute("ROLLBACK")
    ingest.close()
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_signal_to_bps_dbt_reaches_dbt(warm, tmp_path):
    """dagster-dbt stops a build by SIGINT to the process it started: dbt must get it."""
    launcher = slow_parse(warm.socket_path, tmp_path)
    deadline = time.monotonic() + 60
    while warm.socket_path.exists() and time.monotonic() < deadline:  # the server took the build
        time.sleep(0.05)
    time.sleep(0.5)
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=60) != 0
    warm.process.wait(timeout=10)  # dbt itself was interrupted, not left running
    assert not (tmp_path / "target" / "manifest.json").exists()


def test_only_the_build_gets_the_servers_address():
    """Set up for a run, the resource keeps the address out of os.environ, so no other `bps-dbt`
    the run starts (a `dbt parse` of a changed project) takes the server the build waits for."""
    import dagster as dg

    from bps_pipeline.defs.dbt import dbt_resource

    context = dg.build_init_resource_context()
    resource = dbt_resource.model_copy()
    resource.setup_for_execution(context)
    try:
        assert resource._warm is not None and resource._warm.socket_path.exists()
        assert warm_dbt.SOCKET_ENV not in os.environ
    finally:
        resource.teardown_after_execution(context)
    assert resource._warm is None


def test_bps_dbt_that_falls_back_can_still_be_interrupted(tmp_path):
    """A server that closes the connection before starting dbt: `bps-dbt` runs dbt itself, and a
    SIGINT must reach that dbt, not the forwarding it set up for the server."""
    import socket

    path = tmp_path / "closing.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    launcher = slow_parse(path, tmp_path)
    listener.settimeout(60)
    conn, _ = listener.accept()
    conn.close()  # no pid: dbt never started there
    listener.close()
    time.sleep(1.0)  # bps-dbt is importing dbt itself now
    launcher.send_signal(signal.SIGINT)
    assert launcher.wait(timeout=60) != 0
    assert not (tmp_path / "target" / "manifest.json").exists()

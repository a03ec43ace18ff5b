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
    shutil.copytree(pipeline_run[0].data_dir, settings.data_dir, symlinks=True,  # keep data/published a link
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


# --- publishes under readers, a full disk, and runs killed at any point ----------------------------

READER = """
import duckdb, json, os, sys, time
data, seconds = sys.argv[1], float(sys.argv[2])
seen, errors, end = set(), [], time.time() + seconds
while time.time() < end:
    try:
        con = duckdb.connect(os.path.join(data, "published.duckdb"), read_only=True)
        # one statement: the marker and the publish count come from one release
        count, marker = con.execute("SELECT (SELECT count(*) FROM marts.publish_log), (SELECT value FROM "
            "marts.metric_values WHERE metric_id = 'chromebook_coverage' AND school_id IS NULL "
            "AND subgroup_type = 'all')").fetchone()
        time.sleep(0.005)
        if con.execute("SELECT count(*) FROM marts.publish_log").fetchone()[0] != count:
            errors.append("one connection saw two releases")
        con.close()
        release = os.path.realpath(os.path.join(data, "published"))  # a Parquet reader resolves the release once
        manifest = json.load(open(os.path.join(release, "release.json")))
        pq = duckdb.connect()
        kv = {r[0] for r in pq.execute(f"SELECT DISTINCT value::VARCHAR FROM parquet_kv_metadata('{release}/parquet/*.parquet')").fetchall()}
        p_marker = pq.execute(f"SELECT value FROM read_parquet('{release}/parquet/metric_values.parquet') WHERE "
                              "metric_id = 'chromebook_coverage' AND school_id IS NULL AND subgroup_type = 'all'").fetchone()[0]
        p_count = pq.execute(f"SELECT count(*) FROM read_parquet('{release}/parquet/publish_log.parquet')").fetchone()[0]
        pq.close()
        if kv != {manifest["release"]} or (p_count, round(p_marker, 6)) != (manifest["tables"]["publish_log"], round(p_marker, 6)):
            errors.append(f"the Parquet files of {release} are not one release: {kv}")
        seen.add((count, round(marker, 6)))
        seen.add((p_count, round(p_marker, 6)))
    except Exception as err:
        errors.append(repr(err))
print(json.dumps([sorted(seen), errors]))
"""


@pytest.fixture
def data_copy(pipeline_run, tmp_path, monkeypatch):
    """A private copy of the full run's data folder (its releases and links too), alerts to the log only."""
    shutil.copytree(pipeline_run[0].data_dir, tmp_path / "data", symlinks=True,
                    ignore=shutil.ignore_patterns("dbt_runs", "dagster_home"))
    return use_folders(monkeypatch, tmp_path / "data", pipeline_run[0].landing_dir,
                       BPS_ALERT_WEBHOOK_URL="", BPS_ALERT_SMTP_HOST="")


def test_readers_during_ten_publishes_never_error_or_see_a_mix_of_releases(data_copy):
    import duckdb

    from bps_pipeline.publish.release import RELEASES_KEPT, publish

    settings = data_copy
    with duckdb.connect(str(settings.published_path), read_only=True) as pub:
        base = pub.execute("SELECT count(*) FROM marts.publish_log").fetchone()[0]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(settings.data_dir), "14"], stdout=subprocess.PIPE,
                                text=True) for _ in range(2)]
    time.sleep(1.5)
    for k in range(1, 11):
        with duckdb.connect(str(settings.warehouse_path)) as con:  # each publish carries its own marker
            con.execute(f"UPDATE marts.metric_values SET value = {k / 100} WHERE metric_id = 'chromebook_coverage' "
                        "AND school_id IS NULL AND subgroup_type = 'all'")
        publish(settings, f"run-{k:02d}", 7, 7)
        time.sleep(0.6)
    for reader in readers:
        seen, errors = json.loads(reader.communicate(timeout=120)[0])
        assert errors == []
        assert len(seen) >= 5, seen  # it read across several releases
        for count, marker in seen:
            assert count == base or marker == round((count - base) / 100, 6), (count, marker)
    assert len([p for p in settings.releases_dir.iterdir() if not p.name.startswith(".")]) == RELEASES_KEPT


def _small_filesystem(path, size_bytes: int):
    """A file system of `size_bytes` mounted at `path` (tmpfs, as root); None where mounting is refused."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    return path if done.returncode == 0 else None


def test_a_full_disk_during_publish_keeps_the_old_release_and_alerts(data_copy):
    from bps_pipeline.cli import run_pipeline, was_published

    settings = data_copy
    releases = settings.releases_dir
    current = os.readlink(settings.published_dir)
    kept = settings.data_dir / "releases_before"
    releases.rename(kept)
    size = sum(f.stat().st_size for f in (kept / os.path.basename(current)).rglob("*") if f.is_file())
    if _small_filesystem(releases, size + size // 2) is None:  # room for the old release and half a new one
        pytest.skip("mounting a small file system was refused (needs root)")
    try:
        shutil.copytree(kept / os.path.basename(current), releases / os.path.basename(current))
        before = (releases / os.path.basename(current) / "release.json").read_text()
        result = run_pipeline(settings, job_name="publish")
        assert not was_published(result)
        assert os.readlink(settings.published_dir) == current
        assert (settings.published_dir / "release.json").read_text() == before
        import duckdb

        with duckdb.connect(str(settings.published_path), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.metric_values").fetchone()[0] > 0
        assert not [p for p in releases.iterdir() if p.name.startswith(".")], "the partial release is removed"
        alerts = [json.loads(line) for line in settings.alert_log_path.read_text().splitlines()]
        (alert,) = [a for a in alerts if a["kind"] == "run_failed"]
        assert "published__published_duckdb" in alert["where"] and "No space left on device" in alert["observed"], alert
    finally:
        subprocess.run(["umount", str(releases)], check=True)


def _release_is_whole(settings) -> int:
    """The current release opens, its Parquet files are the manifest's, and the lock is free;
    returns how many publishes its log holds."""
    import fcntl
    import hashlib

    import duckdb

    release = settings.published_dir.resolve()
    manifest = json.loads((release / "release.json").read_text())
    for name, sha in manifest["parquet"].items():
        assert hashlib.sha256((release / "parquet" / name).read_bytes()).hexdigest() == sha, name
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        publishes = con.execute("SELECT count(*) FROM marts.publish_log").fetchone()[0]
        assert con.execute("SELECT count(*) FROM marts.metric_values").fetchone()[0] == manifest["tables"]["metric_values"]
    with open(settings.data_dir / "pipeline.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises while a killed run's lock lingered
    return publishes


def _figures(settings) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        return con.execute("SELECT metric_id, school_year, period_type, period, school_id, subgroup_type, "
                           "subgroup_value, numerator, denominator, value, prior_value, suppressed "
                           "FROM marts.metric_values ORDER BY ALL").fetchall()


def _stage(settings, since: float) -> str:
    """Where a run was when it stopped, from what it had left on disk."""
    releases = settings.releases_dir
    if any(p.stat().st_mtime >= since for p in releases.iterdir()):
        return "publish"
    docs = settings.gx_project_dir / "gx" / "uncommitted" / "validations"
    if docs.exists() and any(p.stat().st_mtime >= since for p in docs.rglob("*.json")):
        return "gate"
    runs = settings.dbt_runs_dir
    if runs.exists() and any(p.stat().st_mtime >= since for p in runs.iterdir()):
        return "dbt"
    return "ingest"


def test_runs_killed_at_any_point_leave_a_whole_release_and_the_next_run_converges(pipeline_run, tmp_path):
    """kill -9 of a run's processes at 20 points, in five chains: each kills four runs in a row,
    then lets the fifth finish. After every kill the published release is whole (an earlier one or
    the new one) and the lock is free; each chain's finishing run publishes exactly the figures a
    clean run of the same night does."""
    from tests.test_incremental import NEXT_DAY
    from bps_pipeline.generate.district import GenerateOptions, generate
    from tests.conftest import SMALL

    base_settings = pipeline_run[0]
    night = tmp_path / "night"
    generate(GenerateOptions(out=night, students=SMALL, seed=11, as_of=NEXT_DAY, night_only=True))
    landing = tmp_path / "landing"
    shutil.copytree(base_settings.landing_dir, landing)
    for f in night.rglob("*.csv"):
        shutil.copy(f, landing / f.parent.name / f.name)

    def fresh(name: str):
        data = tmp_path / name / "data"
        shutil.copytree(base_settings.data_dir, data, symlinks=True, ignore=shutil.ignore_patterns("dbt_runs"))
        env = {**os.environ, "BPS_DATA_DIR": str(data), "BPS_LANDING_DIR": str(landing),
               "BPS_ALERT_WEBHOOK_URL": "", "BPS_ALERT_SMTP_HOST": ""}
        from bps_pipeline.config import load_settings

        return env, load_settings(env)

    def run(env, kill_after: float | None = None) -> int | None:
        proc = subprocess.Popen([*CLI, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # its own process group: the run and its dbt
        try:
            proc.wait(timeout=kill_after)
            return proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            return None

    env, clean = fresh("clean")
    started = time.monotonic()
    assert run(env) == 0
    night_seconds = time.monotonic() - started
    want = _figures(clean)

    stages, points = [], [night_seconds * (k + 0.5) / 20 for k in range(20)]
    for chain in range(5):
        env, s = fresh(f"chain{chain}")
        publishes = _release_is_whole(s)
        for kill_after in points[chain::5]:  # each chain kills early, middle and late runs
            for _ in range(4):  # a run faster than the clean one can finish first: kill the next one sooner
                since = time.time()
                killed = run(env, kill_after) is None
                now = _release_is_whole(s)
                assert now in (publishes, publishes + 1)
                publishes = now
                if killed:
                    stages.append(_stage(s, since))
                    break
                kill_after *= 0.8
        assert run(env) == 0
        assert _figures(s) == want, f"chain {chain} did not converge"
    assert len(stages) >= 20 and {"ingest", "dbt", "gate"} <= set(stages), stages


def test_publishes_killed_while_writing_leave_a_whole_release(data_copy):
    """kill -9 while a release is being written, at several moments after it starts: the published
    release is the old one or the new one, whole, and the next publish works."""
    settings = data_copy
    env = {**os.environ}
    publishes = _release_is_whole(settings)
    killed = 0
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4):
        proc = subprocess.Popen([*CLI, "publish"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 300
        while proc.poll() is None and not list(settings.releases_dir.glob(".*.partial")):
            assert time.monotonic() < deadline
            time.sleep(0.002)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            killed += 1
        proc.wait()
        now = _release_is_whole(settings)
        assert now in (publishes, publishes + 1)
        publishes = now
    assert killed >= 4, "most publishes were killed while writing"
    assert subprocess.run([*CLI, "publish"], env=env, capture_output=True, timeout=300).returncode == 0
    assert _release_is_whole(settings) == publishes + 1
    assert not list(settings.releases_dir.glob(".*.partial"))  # the next publish cleared what the killed ones left

"""The quality gate blocks publication, alerts every channel once, and publishing is atomic.

Alerts go to a real HTTP server and a real SMTP server on 127.0.0.1, started by the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest
from aiosmtpd.controller import Controller

from bps_pipeline.cli import run_pipeline, was_published
from bps_pipeline.publish.release import publish
from tests.conftest import use_folders


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def channels():
    posts = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd's readiness check needs a real port number
        probe.bind(("127.0.0.1", 0))
        smtp_port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        yield {"url": f"http://127.0.0.1:{http.server_port}/hook", "posts": posts,
               "smtp_port": smtp_port, "inbox": inbox}
    finally:
        smtp.stop()
        http.shutdown()


@pytest.fixture
def published_copy(pipeline_run, tmp_path, monkeypatch, channels):
    """A private copy of the pipeline's data folder (warehouse + published file), alerts on."""
    settings, _ = pipeline_run
    data = tmp_path / "data"
    data.mkdir()
    for name in ("warehouse.duckdb", "published.duckdb"):
        shutil.copy(settings.data_dir / name, data / name)
    return use_folders(monkeypatch, data, settings.landing_dir,
                       BPS_ALERT_WEBHOOK_URL=channels["url"], BPS_ALERT_SMTP_HOST="127.0.0.1",
                       BPS_ALERT_SMTP_PORT=str(channels["smtp_port"]), BPS_ALERT_EMAIL_TO="oda@district.example")


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _alerts(settings) -> list[dict]:
    return [json.loads(l) for l in settings.alert_log_path.read_text().splitlines()] if settings.alert_log_path.exists() else []


CORRUPTIONS = {
    "rate-above-1": "UPDATE marts.metric_values SET value = 1.37 WHERE metric_id = 'chromebook_coverage' "
                    "AND school_id IS NULL AND subgroup_type = 'all'",
    "missing-school": "DELETE FROM marts.metric_values WHERE school_id = (SELECT min(school_id) FROM marts.metric_values)",
    # a cell published twice
    "duplicate-cell": "INSERT INTO marts.metric_values SELECT * FROM marts.metric_values WHERE rowid = "
                      "(SELECT min(rowid) FROM marts.metric_values WHERE metric_id = 'chromebook_coverage')",
    "unsuppressed-small-cell": "UPDATE marts.metric_values SET suppressed = false, value = 0.5, numerator = 2, denominator = 4 "
                               "WHERE rowid = (SELECT min(rowid) FROM marts.metric_values WHERE suppressed "
                               "AND metric_id = 'chromebook_coverage')",
    # a cell that says neither shown nor hidden (checked by GX alone since the marts' dbt tests went)
    "suppression-unknown": "UPDATE marts.metric_values SET suppressed = NULL WHERE rowid = "
                           "(SELECT min(rowid) FROM marts.metric_values WHERE metric_id = 'chromebook_coverage')",
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_failed_check_blocks_publish_and_alerts_once(published_copy, channels, corruption):
    settings = published_copy
    before = _sha(settings.published_path)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(CORRUPTIONS[corruption])
    result = run_pipeline(settings, job_name="publish")
    assert not was_published(result)
    failed = [e.event_specific_data for e in result.all_events
              if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed]
    # a small cell shown again also lets an attacker narrow its complements: the privacy audit fails too
    expected = ["gx_metric_values"] + (["privacy_audit"] if corruption == "unsuppressed-small-cell" else [])
    assert [f.check_name for f in failed] == expected
    assert _sha(settings.published_path) == before
    alerts = _alerts(settings)
    assert len(alerts) == len(expected), alerts  # once per failed check
    (alert,) = [a for a in alerts if a["where"].endswith("gx_metric_values")]
    assert alert["kind"] == "check_failed" and "metric_values" in alert["where"]
    assert alert["delivered"] == {"webhook": "ok", "email": "ok"}
    assert alert["data_docs"] and alert["data_docs"].endswith("index.html")
    assert len(channels["posts"]) == len(expected) and "gx_metric_values" in channels["posts"][0]["text"]
    assert len(channels["inbox"].messages) == len(expected) and "gx_metric_values" in channels["inbox"].messages[0]
    if corruption == "rate-above-1":
        assert "1.37" in alert["observed"] and alert["failing_rows"][0]["metric_id"] == "chromebook_coverage"
        assert alert["failing_rows"][0]["value"] == "1.37"
    if corruption == "duplicate-cell":
        assert "expect_compound_columns_to_be_unique(): 2 unexpected rows" in alert["observed"]
        assert [r["metric_id"] for r in alert["failing_rows"]] == ["chromebook_coverage"] * 2
    if corruption == "suppression-unknown":
        assert "expect_column_values_to_not_be_null(suppressed)" in alert["observed"]


def test_the_same_failure_alerts_once(published_copy, channels):
    from bps_pipeline.alerts.events import alert_on_result

    settings = published_copy
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(CORRUPTIONS["rate-above-1"])
    result = run_pipeline(settings, job_name="publish")
    assert alert_on_result(settings, result) == 0  # a sensor seeing it again sends nothing
    assert len(_alerts(settings)) == 1 and len(channels["posts"]) == 1


def test_a_warn_only_failure_alerts_but_publishes(published_copy, channels):
    settings = published_copy
    before = _sha(settings.published_path)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("UPDATE marts.anchor_goals SET value = NULL, direction = NULL WHERE commitment = 6")
    result = run_pipeline(settings, job_name="publish")
    assert was_published(result)
    assert _sha(settings.published_path) != before
    alerts = _alerts(settings)
    assert [a["kind"] for a in alerts] == ["check_warning"] and alerts[0]["severity"] == "WARN"
    with duckdb.connect(str(settings.published_path), read_only=True) as pub:
        checks_run, checks_passed = pub.execute(
            "SELECT checks_run, checks_passed FROM marts.publish_log ORDER BY published_at DESC LIMIT 1").fetchone()
        from bps_pipeline.quality.checks import gate_checks

        assert checks_run == len(gate_checks()) and checks_passed == checks_run - 1


def test_data_docs_are_written_and_old_results_pruned(published_copy):
    settings = published_copy
    gx_dir = settings.gx_project_dir / "gx" / "uncommitted"
    stale = gx_dir / "validations" / "metric_values" / "__none__" / "20200101T000000.000000Z" / "batch.json"
    stale_page = gx_dir / "data_docs" / "local_site" / "validations" / "metric_values" / "__none__" / "old.html"
    hundred_days_ago = time.time() - 100 * 86400
    for f in (stale, stale_page):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("{}")
        os.utime(f, (hundred_days_ago, hundred_days_ago))

    result = run_pipeline(settings, job_name="publish")
    assert was_published(result)
    docs = gx_dir / "data_docs" / "local_site"
    assert (docs / "index.html").exists()
    assert list(docs.glob("expectations/*.html"))
    this_run = [p for p in docs.glob("validations/metric_values/gate-*/**/*.html")]
    assert len(this_run) == 1, this_run
    assert not stale.exists(), "results older than VALIDATION_HISTORY_DAYS are pruned"
    assert not stale_page.exists(), "and so are their data-docs pages"
    assert list(gx_dir.glob("validations/metric_values/gate-*/**/*.json"))


def test_an_interrupted_publish_leaves_the_old_release(published_copy, monkeypatch):
    settings = published_copy
    publish(settings, "run-0", 5, 5)  # a release of the current layout to keep
    before, release = _sha(settings.published_path), os.readlink(settings.published_dir)
    import bps_pipeline.publish.release as pub_mod

    def boom(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pub_mod, "_append_publish_log", boom)
    with pytest.raises(OSError):
        publish(settings, "run-x", 5, 5)
    assert _sha(settings.published_path) == before and os.readlink(settings.published_dir) == release
    assert not list(settings.releases_dir.glob(".*")), "the half-written release is removed"


def test_check_failure_sensor_alerts_once_from_the_event_log(published_copy, channels):
    """Under the daemon a failed check reaches people through this sensor; it keeps a cursor and
    the alert key, so a failure already alerted (here by the CLI) is not sent again."""
    import dagster as dg

    from bps_pipeline.alerts.sensors import check_failure_alerts

    settings = published_copy
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute(CORRUPTIONS["rate-above-1"])
    settings.alert_log_path.unlink(missing_ok=True)
    result = run_pipeline(settings, job_name="publish")
    assert not was_published(result)
    settings.alert_log_path.unlink()  # as if the CLI had not alerted: the sensor must
    channels["posts"].clear()
    with dg.DagsterInstance.get() as instance:
        ctx = dg.build_sensor_context(instance=instance)
        check_failure_alerts.evaluate_tick(ctx)
        assert [a["kind"] for a in _alerts(settings)] == ["check_failed"]
        assert len(channels["posts"]) == 1
        again = dg.build_sensor_context(instance=instance)  # no cursor: sees the event again
        check_failure_alerts.evaluate_tick(again)
        assert len(_alerts(settings)) == 1 and len(channels["posts"]) == 1

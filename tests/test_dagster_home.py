"""The Dagster instance: its dagster.yaml, and the event log written through
ReusingSqliteEventLogStorage (the same files Dagster's own class reads)."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import yaml
from dagster import DagsterInstance
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from bps_pipeline.dagster_event_log import ENGINES_KEPT, ReusingSqliteEventLogStorage
from bps_pipeline.dagster_home import EARLIER_GENERATED, GENERATED, dagster_yaml, prepare_dagster_home
from tests.conftest import use_folders


def _entry(run_id: str, message: str) -> EventLogEntry:
    return EventLogEntry(error_info=None, level=logging.INFO, user_message=message, run_id=run_id,
                         timestamp=time.time(), step_key=None, job_name="pipeline", dagster_event=None)


def test_dagster_yaml_is_written_brought_up_to_date_and_an_operators_kept(tmp_path, monkeypatch):
    settings = use_folders(monkeypatch, tmp_path / "data", tmp_path / "landing")
    config = settings.dagster_home / "dagster.yaml"

    home = prepare_dagster_home(settings)  # none yet: written
    written = yaml.safe_load(config.read_text())
    assert written["telemetry"] == {"enabled": False}
    assert written["event_log_storage"]["class"] == "ReusingSqliteEventLogStorage"
    assert written["event_log_storage"]["config"]["base_dir"] == str(home / "history" / "runs")

    config.write_text(EARLIER_GENERATED)  # what an earlier version wrote: replaced
    prepare_dagster_home(settings)
    assert config.read_text() == dagster_yaml(home)

    config.write_text(GENERATED + "telemetry:\n  enabled: false\n")  # ours, out of date: replaced
    prepare_dagster_home(settings)
    assert config.read_text() == dagster_yaml(home)

    operators = "telemetry:\n  enabled: false\n# the district's own settings\n"
    config.write_text(operators)
    prepare_dagster_home(settings)
    assert config.read_text() == operators


def test_the_pipelines_events_are_written_through_it_and_read_by_dagsters_class(pipeline_run):
    settings, result = pipeline_run
    prepare_dagster_home(settings)
    with DagsterInstance.get() as instance:
        assert type(instance.event_log_storage) is ReusingSqliteEventLogStorage
        ours = instance.all_logs(result.run_id)
    stock = SqliteEventLogStorage(str(settings.dagster_home / "history" / "runs"))
    try:
        theirs = stock.get_logs_for_run(result.run_id)
        # the cross-run index too: the asset's newest materialization is this run's
        published = next(e.asset_key for e in result.get_asset_materialization_events()
                         if e.asset_key.path[0] == "published")
        newest = stock.get_latest_materialization_events([published])[published]
    finally:
        stock.dispose()
    assert len(ours) == len(theirs) > 0
    assert [e.dagster_event_type for e in ours] == [e.dagster_event_type for e in theirs]
    assert sum(1 for e in theirs if e.dagster_event_type and e.dagster_event_type.value == "ASSET_MATERIALIZATION") \
        == len(result.get_asset_materialization_events())
    assert newest is not None and newest.run_id == result.run_id


def test_another_process_watching_a_run_sees_its_events_as_they_are_written(tmp_path):
    """The Dagster UI follows a live run by watching the run's database file; an event written
    through the reusing storage must change that file (a connection kept open would not)."""
    writer = ReusingSqliteEventLogStorage(str(tmp_path))
    watcher = SqliteEventLogStorage(str(tmp_path))  # as the UI's process has it
    run_id = str(uuid.uuid4())
    seen, arrived = [], threading.Event()

    def on_event(entry, cursor):
        seen.append(entry.user_message)
        if entry.user_message == "third":
            arrived.set()

    try:
        writer.store_event(_entry(run_id, "first"))
        watcher.watch(run_id, None, on_event)
        time.sleep(0.5)  # the observer is running
        writer.store_event(_entry(run_id, "second"))
        writer.store_event(_entry(run_id, "third"))
        assert arrived.wait(10), f"the watcher saw only {seen}"
    finally:
        watcher.end_watch(run_id, on_event)
        watcher.dispose()
        writer.dispose()
    assert seen[-2:] == ["second", "third"]


def test_it_keeps_engines_for_a_bounded_number_of_database_files(tmp_path):
    storage = ReusingSqliteEventLogStorage(str(tmp_path))
    try:
        run_ids = [str(uuid.uuid4()) for _ in range(ENGINES_KEPT + 5)]
        for run_id in run_ids:
            storage.store_event(_entry(run_id, "hello"))
        assert len(storage._engines) == ENGINES_KEPT  # a UI process reads many runs' files
        assert all(len(storage.get_logs_for_run(r)) == 1 for r in run_ids)  # evicted ones reopen
    finally:
        storage.dispose()
    assert not storage._engines

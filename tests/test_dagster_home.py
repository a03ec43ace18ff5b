"""The Dagster instance: its generated dagster.yaml, and Dagster's stock storage under it."""

from __future__ import annotations

import yaml
from dagster import DagsterInstance

from bps_pipeline.dagster_home import DAGSTER_YAML, GENERATED, prepare_dagster_home
from tests.conftest import use_folders


def test_dagster_yaml_is_written_brought_up_to_date_and_an_operators_kept(tmp_path, monkeypatch):
    settings = use_folders(monkeypatch, tmp_path / "data", tmp_path / "landing")
    config = settings.dagster_home / "dagster.yaml"

    prepare_dagster_home(settings)  # none yet: written
    written = yaml.safe_load(config.read_text())
    assert written["telemetry"] == {"enabled": False}
    assert written["run_queue"] == {"max_concurrent_runs": 1}
    assert "event_log_storage" not in written  # Dagster's own SQLite storage

    config.write_text(GENERATED + "event_log_storage:\n  module: gone\n")  # ours, out of date: replaced
    prepare_dagster_home(settings)
    assert config.read_text() == DAGSTER_YAML

    operators = "telemetry:\n  enabled: false\n# the district's own settings\n"
    config.write_text(operators)
    prepare_dagster_home(settings)
    assert config.read_text() == operators


def test_the_instance_is_dagsters_own_with_telemetry_off(tmp_path, monkeypatch):
    settings = use_folders(monkeypatch, tmp_path / "data", tmp_path / "landing")
    prepare_dagster_home(settings)
    with DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__module__.startswith("dagster.")
        assert instance.root_directory == str(settings.dagster_home)
        assert not instance.telemetry_enabled

"""The Dagster instance the pipeline runs on: DAGSTER_HOME inside the data folder and its
dagster.yaml (stack-notes), with the event log in Dagster's default place, written through
bps_pipeline.dagster_event_log."""

from __future__ import annotations

import os
from pathlib import Path

from bps_pipeline.config import Settings

GENERATED = "# written by bps-pipeline on every run; remove this line to keep your own edits\n"
SETTINGS = """\
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 1
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""
EARLIER_GENERATED = SETTINGS  # what versions before the event log storage wrote: still ours to replace


def dagster_yaml(home: Path) -> str:
    """Telemetry off; one run at a time on the warehouse (DuckDB has one writer); no compute-log
    capture, whose `tail -F` helpers outlive an in-process run (the structured event log remains);
    the event log where Dagster keeps it by default, written through ReusingSqliteEventLogStorage."""
    return GENERATED + SETTINGS + f"""\
event_log_storage:
  module: bps_pipeline.dagster_event_log
  class: ReusingSqliteEventLogStorage
  config:
    base_dir: {home / "history" / "runs"}
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME inside the data folder with this project's dagster.yaml (stack-notes).

    A dagster.yaml this project wrote is brought up to date; one without the generated first line
    is an operator's and is left alone."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = dagster_yaml(home)
    current = config.read_text() if config.exists() else None
    if current != wanted and (current is None or current == EARLIER_GENERATED or current.startswith(GENERATED)):
        config.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home

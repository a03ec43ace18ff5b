"""The Dagster instance the pipeline runs on: DAGSTER_HOME inside the data folder, with Dagster's
default SQLite storage under it, and a dagster.yaml that turns telemetry off (stack-notes)."""

from __future__ import annotations

import os
from pathlib import Path

from bps_pipeline.config import Settings

GENERATED = "# written by bps-pipeline on every run; remove this line to keep your own edits\n"
# Telemetry off; one run at a time on the warehouse (DuckDB has one writer); no compute-log capture,
# whose `tail -F` helpers outlive an in-process run (the structured event log remains).
DAGSTER_YAML = GENERATED + """\
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 1
compute_logs:
  module: dagster._core.storage.noop_compute_log_manager
  class: NoOpComputeLogManager
"""


def prepare_dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME with this project's dagster.yaml; one without the generated first line is an
    operator's and is left alone."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    current = config.read_text() if config.exists() else None
    if current is None or (current.startswith(GENERATED) and current != DAGSTER_YAML):
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home

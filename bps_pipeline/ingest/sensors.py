"""The landing-folder sensor: starts the pipeline when new or changed extracts have settled."""

from __future__ import annotations

import hashlib
import json
import time

import dagster as dg
import duckdb
from dagster import DagsterRunStatus, RunsFilter

from bps_pipeline.config import load_settings
from bps_pipeline.ingest.loader import LastLoad, last_loads, scan_landing

ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def loaded_files(settings) -> dict[tuple[str, str], LastLoad] | None:
    """Every landing file's last load (the loader's own record); None while a run holds the warehouse."""
    if not settings.warehouse_path.exists():
        return {}
    try:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            return last_loads(con)
    except duckdb.IOException:  # the writer's lock: a run is loading
        return None


def build_landing_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(name="landing_files", job=job, minimum_interval_seconds=60,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Starts the pipeline when new or changed extracts land (settled for "
                           "BPS_SENSOR_DEBOUNCE_SECONDS, default 120) and no run is in progress.")
    def landing_files(context: dg.SensorEvaluationContext):
        settings = load_settings()
        debounce = settings.sensor_debounce_seconds
        if context.instance.get_runs(filters=RunsFilter(job_name=job.name, statuses=ACTIVE), limit=1):
            return dg.SkipReason("a pipeline run is in progress; new files will be picked up after it")
        loaded = loaded_files(settings)
        if loaded is None:
            return dg.SkipReason("the warehouse is locked by a run")
        new = []
        for f in scan_landing(settings.landing_dir):
            stat, prev = f.path.stat(), loaded.get((f.source, f.name))
            if prev is None or not prev.same_size_and_time(stat):  # what the loader would look at
                new.append((f.label, stat.st_size, stat.st_mtime))
        if not new:
            return dg.SkipReason("no new or changed files in the landing folder")
        settling = time.time() - max(m for _, _, m in new)
        if settling < debounce:
            return dg.SkipReason(f"{len(new)} new file(s) still settling ({settling:.0f}s < {debounce:.0f}s)")
        key = hashlib.sha256(json.dumps(sorted(new)).encode()).hexdigest()[:16]  # a same-size rewrite is new
        return dg.RunRequest(run_key=f"landing-{key}", tags={"bps/trigger": "landing_files", "bps/new_files": str(len(new))})

    return landing_files

"""Configuration by environment (architecture decision 8): every path and target has a default
that makes `make run` work with no setup, and a deployment changes only variables."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
# where the deploy parse keeps the manifest and partial-parse file (dbt_project.yml target-path)
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
# this interpreter's dbt, so the venv need not be on PATH
DBT_EXECUTABLE = Path(sys.executable).with_name("dbt")


class ConfigError(ValueError):
    """A setting that cannot be used; the message says which variable and why."""


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    path = Path(value) if value else default
    return path if path.is_absolute() else (PROJECT_ROOT / path)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be at least 1")
    return value


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    data_dir: Path
    min_cell_size: int
    webhook_url: str | None
    smtp_host: str | None
    smtp_port: int
    alert_email_to: str | None
    alert_email_from: str
    duckdb_memory_limit: str
    duckdb_threads: int

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        return self.data_dir / "published.duckdb"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def alert_log_path(self) -> Path:
        return self.data_dir / "alerts.jsonl"

    @property
    def tmp_dir(self) -> Path:
        return self.data_dir / "tmp"

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster_home"

    @property
    def dbt_runs_dir(self) -> Path:
        """One folder per dbt build (run_results.json, dbt.log), named for the Dagster run."""
        return self.data_dir / "dbt_runs"

    @property
    def run_output_path(self) -> Path:
        """What the last `bps-pipeline run` echoed of dbt (dbt's own debug log is in dbt_runs_dir)."""
        return self.data_dir / "logs" / "last_run_output.log"

    @property
    def gx_project_dir(self) -> Path:
        """Great Expectations' project folder; data docs under gx/uncommitted/data_docs/."""
        return self.data_dir / "gx_project"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment now (not at import time, so tests can point it elsewhere), or `env`:
    the settings a child process given that environment will have (the bench, tests)."""
    env = os.environ if env is None else env
    return Settings(
        landing_dir=_path(env, "BPS_LANDING_DIR", PROJECT_ROOT / "data" / "landing"),
        data_dir=_path(env, "BPS_DATA_DIR", PROJECT_ROOT / "data"),
        min_cell_size=_int(env, "BPS_MIN_CELL_SIZE", 10),
        webhook_url=env.get("BPS_ALERT_WEBHOOK_URL") or None,
        smtp_host=env.get("BPS_ALERT_SMTP_HOST") or None,
        smtp_port=_int(env, "BPS_ALERT_SMTP_PORT", 25),
        alert_email_to=env.get("BPS_ALERT_EMAIL_TO") or None,
        alert_email_from=env.get("BPS_ALERT_EMAIL_FROM", "bps-pipeline@localhost"),
        # DuckDB's limit bounds its buffer pool, not the Python process around it: 3GB keeps the
        # whole process under the 4 GiB target (the bench reports peak memory)
        duckdb_memory_limit=env.get("BPS_DUCKDB_MEMORY_LIMIT", "3GB"),
        duckdb_threads=_int(env, "BPS_DUCKDB_THREADS", 2),
    )

"""Configuration by environment (architecture decision 8): every path and target has a default
that makes `make run` work with no setup, and a deployment changes only variables."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
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


def _int(env: Mapping[str, str], name: str, default: int, least: int = 1, most: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < least or (most is not None and value > most):
        raise ConfigError(f"{name}={raw!r} must be {'at least ' + str(least) if most is None else f'{least} to {most}'}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 <= value < 86400:
        raise ConfigError(f"{name}={raw!r} must be 0 to 86400 seconds")
    return value


def _memory_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A memory size as DuckDB reads it (3GB, 500MB, 80%), asked of DuckDB itself."""
    import duckdb

    value = env.get(name, "").strip() or default
    try:
        with duckdb.connect(config={"memory_limit": value}) as con:
            if con.execute("SELECT current_setting('memory_limit')").fetchone()[0].startswith("0"):
                raise duckdb.Error("no memory at all")
    except duckdb.Error as err:
        raise ConfigError(f"{name}={value!r} is not a memory size DuckDB accepts, e.g. 3GB or 500MB "
                          f"({str(err).splitlines()[0]})") from None
    return value


def _storage_version(env: Mapping[str, str], name: str, default: str) -> str:
    import duckdb

    value = env.get(name, "").strip() or default
    try:
        with duckdb.connect() as con:
            con.execute(f"ATTACH ':memory:' AS probe (STORAGE_VERSION '{value.replace(chr(39), '')}')")
    except duckdb.Error:
        raise ConfigError(f"{name}={value!r} is not a DuckDB storage version this DuckDB can write, "
                          "e.g. v1.4.0") from None
    return value


CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
CRON_PART = re.compile(r"^(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?$")


def _cron(env: Mapping[str, str], name: str, default: str) -> str:
    """A five-field cron expression of numbers, *, ranges, steps and lists (what the schedules take)."""
    value = env.get(name, "").strip() or default
    fields = value.split()
    if len(fields) != 5:
        raise ConfigError(f"{name}={value!r} is not a cron expression: five fields (minute hour day month weekday)")
    for text, (what, low, high) in zip(fields, CRON_FIELDS):
        for part in text.split(","):
            m = CRON_PART.match(part)
            numbers = [int(n) for n in (m[2], m[3], m[4]) if n] if m else []
            if not m or any(not low <= n <= high for n in numbers[:2]) or (m[4] and int(m[4]) == 0):
                raise ConfigError(f"{name}={value!r}: the {what} field {text!r} is not one of * or {low}-{high}, "
                                  "a range, a step or a list of them")
    return value


def _timezone(env: Mapping[str, str], name: str, default: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = env.get(name, "").strip() or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={value!r} is not an IANA time zone such as America/New_York") from None
    return value


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (env.get(name, "").strip() or default).upper()
    if value not in choices:
        raise ConfigError(f"{name}={env.get(name)!r} is not one of {', '.join(choices)}")
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip() or None
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise ConfigError(f"{name}={value!r} is not an http:// or https:// address")
    return value


def _staleness_reference(env: Mapping[str, str], name: str) -> str | date:
    """What "now" is for stale-source alerts: data (the newest extract of any source, so a bundled or
    replayed district is judged against itself), today, or a date."""
    value = env.get(name, "").strip().lower() or "data"
    if value in ("data", "today"):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not 'data', 'today' or a YYYY-MM-DD date") from None


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    data_dir: Path
    min_cell_size: int
    privacy_protection_level: int
    webhook_url: str | None
    smtp_host: str | None
    smtp_port: int
    alert_email_to: str | None
    alert_email_from: str
    duckdb_memory_limit: str
    duckdb_threads: int
    log_level: str = "CRITICAL"
    schedule_cron: str = "0 5 * * *"
    schedule_timezone: str = "America/New_York"
    full_refresh_cron: str = "0 3 * * 0"
    sensor_debounce_seconds: float = 120.0
    staleness_reference: str | date = "data"
    run_wait_seconds: float = 0.0
    published_storage_version: str = "v1.4.0"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def published_path(self) -> Path:
        """What dashboards open: a link into the current release (publish/release.py)."""
        return self.data_dir / "published.duckdb"

    @property
    def published_dir(self) -> Path:
        """The current release: a link to one of releases_dir's folders."""
        return self.data_dir / "published"

    @property
    def report_dir(self) -> Path:
        """The progress report of the current release (report.html, report.pdf)."""
        return self.data_dir / "report"

    @property
    def releases_dir(self) -> Path:
        return self.data_dir / "releases"

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
    """Read and check every setting now (not at import time, so tests can point it elsewhere), or
    from `env`: the settings a child process given that environment will have (the bench, tests).
    A setting that cannot be used raises ConfigError naming the variable and why."""
    env = os.environ if env is None else env
    return Settings(
        landing_dir=_path(env, "BPS_LANDING_DIR", PROJECT_ROOT / "data" / "landing"),
        data_dir=_path(env, "BPS_DATA_DIR", PROJECT_ROOT / "data"),
        min_cell_size=_int(env, "BPS_MIN_CELL_SIZE", 10, most=1000),
        privacy_protection_level=_int(env, "BPS_PRIVACY_PROTECTION_LEVEL", 2, most=1000),
        webhook_url=_url(env, "BPS_ALERT_WEBHOOK_URL"),
        smtp_host=env.get("BPS_ALERT_SMTP_HOST") or None,
        smtp_port=_int(env, "BPS_ALERT_SMTP_PORT", 25, most=65535),
        alert_email_to=env.get("BPS_ALERT_EMAIL_TO") or None,
        alert_email_from=env.get("BPS_ALERT_EMAIL_FROM", "bps-pipeline@localhost"),
        # DuckDB's limit bounds its buffer pool, not the Python process around it: 3GB keeps the
        # whole process under the 4 GiB target (the bench reports peak memory)
        duckdb_memory_limit=_memory_limit(env, "BPS_DUCKDB_MEMORY_LIMIT", "3GB"),
        duckdb_threads=_int(env, "BPS_DUCKDB_THREADS", 2, most=256),
        log_level=_choice(env, "BPS_LOG_LEVEL", "CRITICAL", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
        schedule_cron=_cron(env, "BPS_SCHEDULE_CRON", "0 5 * * *"),
        schedule_timezone=_timezone(env, "BPS_SCHEDULE_TIMEZONE", "America/New_York"),
        full_refresh_cron=_cron(env, "BPS_FULL_REFRESH_CRON", "0 3 * * 0"),
        sensor_debounce_seconds=_seconds(env, "BPS_SENSOR_DEBOUNCE_SECONDS", 120),
        staleness_reference=_staleness_reference(env, "BPS_STALENESS_REFERENCE"),
        run_wait_seconds=_seconds(env, "BPS_RUN_WAIT_SECONDS", 0),
        # DuckDB 1.4 and later open a file of this storage version (dashboards embed older engines)
        published_storage_version=_storage_version(env, "BPS_PUBLISHED_STORAGE_VERSION", "v1.4.0"),
    )

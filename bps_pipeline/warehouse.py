"""Connections to the warehouse: opened per step and closed after (architecture decision 1), with
DuckDB's memory limit and spill directory set so large inputs spill instead of failing."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from bps_pipeline.config import DBT_EXECUTABLE, DBT_PROJECT_DIR, Settings


@contextmanager
def connect(settings: Settings, path: Path | None = None, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    path = path or settings.warehouse_path
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config=_config(settings))
    try:
        yield con
    finally:
        con.close()


def _config(settings: Settings) -> dict:
    spill = settings.tmp_dir / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    return {"memory_limit": settings.duckdb_memory_limit, "threads": settings.duckdb_threads,
            "temp_directory": str(spill)}


def sql_path(path: Path) -> str:
    """A file path inside a single-quoted SQL string literal."""
    return str(path).replace("'", "''")


def dbt_command(*args: str) -> list[str]:
    """A dbt command line on this project and its profile."""
    return [str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment dbt's profile reads (dbt_project/profiles.yml)."""
    return {
        "BPS_WAREHOUSE_PATH": str(settings.warehouse_path),
        "BPS_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "BPS_DUCKDB_THREADS": str(settings.duckdb_threads),
        "BPS_DUCKDB_TEMP_DIR": str(settings.tmp_dir / "duckdb"),
        "BPS_MIN_CELL_SIZE": str(settings.min_cell_size),
        "BPS_PRIVACY_PROTECTION_LEVEL": str(settings.privacy_protection_level),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }

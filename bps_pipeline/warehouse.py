"""Connections to the warehouse: opened per step and closed after (architecture decision 1), with
DuckDB's memory limit and spill directory set so large inputs spill instead of failing."""

from __future__ import annotations

import os
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


@contextmanager
def connect_scratch(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory database with the warehouse attached read-only as `warehouse`, in use: names
    resolve as on connect(read_only=True), while the tables and types a reader makes (the gate's
    ENUMs) go to the in-memory database, which a read-only file would refuse."""
    con = duckdb.connect(":memory:", config=_config(settings))
    try:
        con.execute(f"ATTACH '{sql_path(settings.warehouse_path)}' AS warehouse (READ_ONLY)")
        con.execute("USE warehouse")
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
    """The dbt command line the pipeline runs (`bps-dbt`) on this project and its profile."""
    return [str(DBT_EXECUTABLE), *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]


def default_dbt_env(settings: Settings) -> None:
    """Set the profile's environment from the settings where this process has not set it, so
    `bps-dbt` by hand runs as the pipeline does (the profile has no defaults of its own)."""
    for name, value in dbt_env(settings).items():
        os.environ.setdefault(name, value)


def dbt_env(settings: Settings) -> dict[str, str]:
    """The environment dbt's profile reads (dbt_project/profiles.yml)."""
    return {
        "BPS_WAREHOUSE_PATH": str(settings.warehouse_path),
        "BPS_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "BPS_DUCKDB_THREADS": str(settings.duckdb_threads),
        "BPS_DUCKDB_TEMP_DIR": str(settings.tmp_dir / "duckdb"),
        "BPS_MIN_CELL_SIZE": str(settings.min_cell_size),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }

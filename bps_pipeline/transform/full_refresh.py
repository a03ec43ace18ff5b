"""When a dbt build must rebuild in full, and the record that decides it.

A daily build rewrites only each incremental model's window (the last days, or the school years
whose inputs changed: macros/incremental.sql); rows outside it stay as an earlier build made them.
So a daily build may only follow a finished full build of the same code with the current figures.
The next build is a full one, naming why, when:
- the code differs from the last recorded build: a model, seed, macro or var, the raw tables'
  column types, or the dbt-core / dbt-duckdb / DuckDB versions (descriptions and tests are not
  code: they change no row);
- there is no record (a new warehouse);
- dbt built models by hand since (the project's on-run-start hook notes every invocation that can
  write models in raw._dbt_invocations, with the Dagster run that started it, if any);
- the newest full build did not finish, or was as of an earlier date.

The record lives in the warehouse (raw._dbt_builds), so a copied or restored warehouse carries its own.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import yaml

from bps_pipeline.config import DBT_PROJECT_DIR, Settings
from bps_pipeline.ingest.contract import EXTRACTS
from bps_pipeline.ingest.loader import raw_column_types
from bps_pipeline.warehouse import connect, dbt_env

BUILDS_TABLE = "raw._dbt_builds"
FULL_BUILD_STARTS_TABLE = "raw._dbt_full_build_starts"
INVOCATIONS_TABLE = "raw._dbt_invocations"  # written by macros/record_invocation.sql
# set for the dbt the pipeline starts; the hook records it, so an invocation without it is by hand
DAGSTER_RUN_ENV = "BPS_DAGSTER_RUN_ID"
RUN_PARAMETER_VARS = ("as_of_date",)  # a run's parameter, not code
ENGINE_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")
ENV_VAR = re.compile(r"""^\s*\{\{\s*env_var\(\s*['"](\w+)['"]\s*\)\s*\}\}\s*$""")
DESCRIPTIVE_CONFIG = ("meta", "docs", "tags", "group", "access", "persist_docs", "grants")
NO_RECORD = "no record of the dbt code that built the warehouse (a new one, or from before the record)"
NAMED_IN_MESSAGE = 5


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def project_vars(env: Mapping[str, str]) -> dict:
    """dbt_project.yml's vars as dbt resolves them (an `{{ env_var('X') }}` from env), less the run's parameters."""
    found = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text()).get("vars") or {}
    out = {}
    for name, value in found.items():
        if name in RUN_PARAMETER_VARS:
            continue
        ref = ENV_VAR.match(value) if isinstance(value, str) else None
        out[name] = env.get(ref[1]) if ref else value
    return out


def code_parts(manifest: dict, env: Mapping[str, str]) -> dict[str, str]:
    """One digest per part of what the project's rows are computed from."""
    project = manifest["metadata"]["project_name"]
    parts = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed", "snapshot") and node["package_name"] == project:
            config = {k: v for k, v in node["config"].items() if k not in DESCRIPTIVE_CONFIG}
            parts[f"{node['resource_type']} {node['name']}"] = digest([node["checksum"], config])
    for macro in manifest["macros"].values():
        if macro["package_name"] == project:
            parts[f"macro {macro['name']}"] = digest(macro["macro_sql"])
    for name, value in project_vars(env).items():
        parts[f"var {name}"] = digest(value)
    for ex in EXTRACTS:
        parts[f"raw types {ex.key}"] = digest(raw_column_types(ex))
    for package in ENGINE_PACKAGES:
        parts[package] = importlib.metadata.version(package)
    return parts


def changed_parts(before: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))


def why_rebuild(before: Mapping[str, str] | None, now: Mapping[str, str]) -> str | None:
    """Why code `now` must rebuild a warehouse built by code `before`; None when it is the same."""
    if before is None:
        return NO_RECORD
    changed = changed_parts(before, now)
    if not changed:
        return None
    more = f" and {len(changed) - NAMED_IN_MESSAGE} more" if len(changed) > NAMED_IN_MESSAGE else ""
    return f"the dbt code changed since the last build ({', '.join(changed[:NAMED_IN_MESSAGE])}{more})"


@dataclass(frozen=True)
class Build:
    run_id: str
    finished_at: datetime
    full_refresh_reason: str | None
    code: dict[str, str]


def last_build(settings: Settings, run_id: str | None = None) -> Build | None:
    """The newest recorded build (or run_id's); None without a warehouse, a record or that run's."""
    if not settings.warehouse_path.exists():
        return None
    with connect(settings, read_only=True) as con:
        return recorded_build(con, run_id)


def recorded_build(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> Build | None:
    where, args = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    row = _first_row(con, f"SELECT run_id, finished_at, full_refresh_reason, code FROM {BUILDS_TABLE} {where} "
                          "ORDER BY finished_at DESC LIMIT 1", args)
    return Build(row[0], row[1], row[2], json.loads(row[3])) if row else None


def current_code(settings: Settings) -> dict[str, str]:
    """The code parts of the project as it is now (parsed again if a file changed)."""
    from bps_pipeline.transform.project import ensure_manifest

    return code_parts(json.loads(ensure_manifest().read_text()), dbt_env(settings))


def full_refresh_reason(con: duckdb.DuckDBPyConnection, code: Mapping[str, str]) -> str | None:
    """Why a daily build of `code` on this warehouse must rebuild in full, or None (module docstring)."""
    built = recorded_build(con)
    reason = why_rebuild(built.code if built else None, code)
    if reason:
        return reason
    by_hand = _first_row(con, f"SELECT command, started_at FROM {INVOCATIONS_TABLE} "
                              "WHERE dagster_run_id IS NULL AND started_at > ? ORDER BY started_at DESC LIMIT 1",
                         [built.finished_at])
    if by_hand:
        return (f"dbt was run by hand on the warehouse after the last build the pipeline recorded "
                f"(`dbt {by_hand[0]}` at {by_hand[1]:%Y-%m-%d %H:%M:%S} UTC)")
    newest = _first_row(con, f"SELECT s.run_id, s.full_refresh_reason, s.as_of_date, b.run_id IS NOT NULL "
                             f"FROM {FULL_BUILD_STARTS_TABLE} s LEFT JOIN (SELECT DISTINCT run_id FROM {BUILDS_TABLE}) b "
                             f"USING (run_id) ORDER BY s.started_at DESC LIMIT 1")
    if newest is None:
        return None
    run_id, why, as_of_date, finished = newest
    if not finished:
        return f"the full build of run {run_id} ({why}) did not rebuild the whole project"
    if as_of_date:
        return f"the last build rebuilt the figures as of {as_of_date}"
    return None


def note_full_build_start(con: duckdb.DuckDBPyConnection, run_id: str, full_refresh_reason: str,
                          as_of_date: str | None) -> None:
    """Note, before it runs, that run_id rebuilds in full and as of which date (full_refresh_reason reads it)."""
    _append(con, FULL_BUILD_STARTS_TABLE,
            "run_id VARCHAR, started_at TIMESTAMP, full_refresh_reason VARCHAR, as_of_date DATE",
            [run_id, _now(), full_refresh_reason, as_of_date])


def record_build(con: duckdb.DuckDBPyConnection, run_id: str, parts: Mapping[str, str],
                 full_refresh_reason: str | None) -> None:
    """Note that run_id built the whole project with this code."""
    _append(con, BUILDS_TABLE, "run_id VARCHAR, finished_at TIMESTAMP, full_refresh_reason VARCHAR, code JSON",
            [run_id, _now(), full_refresh_reason, json.dumps(parts, sort_keys=True)])


def _append(con: duckdb.DuckDBPyConnection, table: str, columns: str, row: list) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in row)})", row)


def _first_row(con: duckdb.DuckDBPyConnection, sql: str, args: list | None = None) -> tuple | None:
    """The query's first row; None also when a table it reads does not exist yet."""
    try:
        return con.execute(sql, args or []).fetchone()
    except duckdb.CatalogException:
        return None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the record's times: UTC, without a zone

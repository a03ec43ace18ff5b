"""Which dbt code built the warehouse, so that the first daily build after a change of code is a
full one.

A daily build rebuilds each incremental model's window only: the last days before the newest it
holds, or the school years whose inputs changed (macros/incremental.sql). Rows outside the window
stay as an earlier build's code made them. So when anything the figures are computed from changes
- a model, a macro, a seed, a var, the raw tables' column types, dbt or DuckDB - the next build
runs with --full-refresh, once, and says which parts changed. The record of what built the warehouse is kept in the warehouse
(raw._dbt_builds, one row per build of the whole project that succeeded): a copied or restored
warehouse carries its own. A warehouse without a record (new, or built before the record existed)
is built full.

dbt run by hand (`bps-dbt build`, `run`, `seed`, ...) writes models that no record describes: of
other code perhaps, or a daily window on code that has changed since, or a seed edited and
reloaded. Such a command notes itself in the warehouse before dbt starts (raw._dbt_by_hand), and
the pipeline's next build is a full one, naming the command. Commands that only read (`ls`,
`compile`, `test`, `docs`) note nothing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import yaml

from bps_pipeline.config import DBT_PROJECT_DIR, Settings
from bps_pipeline.ingest.contract import EXTRACTS
from bps_pipeline.ingest.loader import raw_column_types
from bps_pipeline.warehouse import connect, dbt_env

BUILDS_TABLE = "raw._dbt_builds"
# full builds as they start, with their as-of date: the newest says whether a daily build may
# follow (full_refresh_reason)
FULL_BUILD_STARTS_TABLE = "raw._dbt_full_build_starts"
# vars that are a run's parameters, not code: an as-of build is a full refresh anyway
RUN_PARAMETER_VARS = ("as_of_date",)
# what computes the rows besides the project: dbt's own materializations, the adapter, the engine
ENGINE_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")
ENV_VAR = re.compile(r"""^\s*\{\{\s*env_var\(\s*['"](\w+)['"]\s*\)\s*\}\}\s*$""")
# node config that documents or governs a model but changes none of its rows
DESCRIPTIVE_CONFIG = ("meta", "docs", "tags", "group", "access", "persist_docs", "grants")
# bps-dbt commands by hand that note themselves: any that can write a model or seed
WRITING_COMMANDS = frozenset({"build", "run", "seed", "snapshot", "clone", "run-operation", "retry"})
BY_HAND_TABLE = "raw._dbt_by_hand"
# set by the pipeline's dbt step for the bps-dbt it starts: that build is recorded, not by hand
PIPELINE_ENV = "BPS_DBT_IN_PIPELINE"
# options of dbt_command() left out of a by-hand command as noted: they name this project
PROJECT_OPTIONS = ("--project-dir", "--profiles-dir")
NO_RECORD = "no record of the dbt code that built the warehouse (a new one, or from before the record)"
NAMED_IN_MESSAGE = 5  # changed parts a message names before "and N more"


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def project_vars(env: Mapping[str, str]) -> dict:
    """dbt_project.yml's vars as dbt resolves them, an `{{ env_var('X') }}` from env (how the
    pipeline hands dbt its settings, e.g. min_cell_size); the run's parameters left out."""
    found = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text()).get("vars") or {}
    out = {}
    for name, value in found.items():
        if name in RUN_PARAMETER_VARS:
            continue
        ref = ENV_VAR.match(value) if isinstance(value, str) else None
        out[name] = env.get(ref[1]) if ref else value
    return out


def code_parts(manifest: dict, env: Mapping[str, str]) -> dict[str, str]:
    """What the project's rows are computed from, one digest per part: each model and seed (its
    file's checksum and its config), each of the project's macros (its SQL), each var, the column
    types of each raw table, and the versions of dbt-core, dbt-duckdb and DuckDB. Descriptions,
    tags, meta, tests and sources change no row and are left out: changing them costs no full
    refresh."""
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
    for ex in EXTRACTS:  # the types ingest gives the rows (numbers were DOUBLE, now exact)
        parts[f"raw types {ex.key}"] = digest(raw_column_types(ex))
    for package in ENGINE_PACKAGES:
        parts[package] = importlib.metadata.version(package)
    return parts


def changed_parts(before: Mapping[str, str], now: Mapping[str, str]) -> list[str]:
    """The parts added, removed or changed, sorted."""
    return sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))


def why_rebuild(before: Mapping[str, str] | None, now: Mapping[str, str]) -> str | None:
    """Why a build of code `now` on a warehouse built by code `before` must be a full refresh, or
    None when the code is the same."""
    if before is None:
        return NO_RECORD
    changed = changed_parts(before, now)
    if not changed:
        return None
    named = ", ".join(changed[:NAMED_IN_MESSAGE])
    more = f" and {len(changed) - NAMED_IN_MESSAGE} more" if len(changed) > NAMED_IN_MESSAGE else ""
    return f"the dbt code changed since the last build ({named}{more})"


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
    """last_build on an open connection."""
    where, args = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
    row = _first_row(con, f"SELECT run_id, finished_at, full_refresh_reason, code FROM {BUILDS_TABLE} {where} "
                          "ORDER BY finished_at DESC LIMIT 1", args)
    return Build(row[0], row[1], row[2], json.loads(row[3])) if row else None


def current_code(settings: Settings) -> dict[str, str]:
    """The code parts of the project as it is now (its manifest parsed again if a file changed)."""
    from bps_pipeline.defs.dbt_project import ensure_manifest  # dagster-dbt: only when asked

    return code_parts(json.loads(ensure_manifest(any_profile=True).read_text()), dbt_env(settings))


def full_refresh_reason(con: duckdb.DuckDBPyConnection, code: Mapping[str, str]) -> str | None:
    """Why a daily build of `code` on this warehouse must rebuild in full, or None. A daily build
    rewrites only its window, so it may follow only a full build of this code that finished and
    left the current figures: not other code (the record of builds), nor the newest full build's
    start if that build never reached the record (it failed part-way, its code maybe taken back
    since, or built some models only) or was as of an earlier date (its tables hold that date's),
    nor dbt run by hand since the record's newest build (note_by_hand)."""
    built = recorded_build(con)
    reason = why_rebuild(built.code if built else None, code)
    if reason:
        return reason
    by_hand = _first_row(con, f"SELECT command, started_at FROM {BY_HAND_TABLE} WHERE started_at > ? "
                              "ORDER BY started_at DESC LIMIT 1", [built.finished_at])
    if by_hand:
        return (f"dbt was run by hand on the warehouse after the last build the pipeline recorded "
                f"(`{by_hand[0]}` at {by_hand[1]:%Y-%m-%d %H:%M:%S} UTC)")
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
    """Note, before it runs, that run_id rebuilds in full, and as of which date (see full_refresh_reason)."""
    _append(con, FULL_BUILD_STARTS_TABLE,
            "run_id VARCHAR, started_at TIMESTAMP, full_refresh_reason VARCHAR, as_of_date DATE",
            [run_id, _now(), full_refresh_reason, as_of_date])


def record_build(con: duckdb.DuckDBPyConnection, run_id: str, parts: Mapping[str, str],
                 full_refresh_reason: str | None) -> None:
    """Note, on the warehouse's connection, that the whole project was built with this code by run_id."""
    _append(con, BUILDS_TABLE, "run_id VARCHAR, finished_at TIMESTAMP, full_refresh_reason VARCHAR, code JSON",
            [run_id, _now(), full_refresh_reason, json.dumps(parts, sort_keys=True)])


def builds_by_hand(argv: list[str], env: Mapping[str, str]) -> bool:
    """Whether a `bps-dbt` command line is one to note: outside the pipeline, and naming a command
    that writes. Any argument counts, not only the first: global options come before the command
    (`--log-level debug build`); a false match only costs the next night a full build."""
    return not env.get(PIPELINE_ENV) and any(a in WRITING_COMMANDS for a in argv)


def note_by_hand(warehouse: Path, argv: list[str]) -> None:
    """Note in the warehouse that dbt is run by hand with `argv`, before it runs (a build that fails
    part-way has written some models too); nothing when there is no warehouse yet: without a
    record, the pipeline builds a new one in full anyway. Raises duckdb.Error when the warehouse
    cannot be written (another process holds it): dbt could not build it either."""
    if not warehouse.exists():
        return
    shown, args = [], iter(argv)
    for a in args:
        if a in PROJECT_OPTIONS:
            next(args, None)  # and its value
        else:
            shown.append(a)
    with duckdb.connect(str(warehouse)) as con:
        _append(con, BY_HAND_TABLE, "started_at TIMESTAMP, command VARCHAR", [_now(), " ".join(["bps-dbt", *shown])])


def _append(con: duckdb.DuckDBPyConnection, table: str, columns: str, row: list) -> None:
    """Add a row to one of the build record's tables, made on its first row (as the raw schema is)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
    con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' for _ in row)})", row)


def _first_row(con: duckdb.DuckDBPyConnection, sql: str, args: list | None = None) -> tuple | None:
    """The query's first row; None also when a table it reads does not exist yet (a warehouse from
    before that part of the record, or none of its kind noted)."""
    try:
        return con.execute(sql, args or []).fetchone()
    except duckdb.CatalogException:
        return None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # the record's times: UTC, without a zone

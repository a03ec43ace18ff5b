"""Publish: the audited marts as a new release, put in place in one step.

A release is a folder, data/releases/<id>/, holding published.duckdb (in the storage version
BPS_PUBLISHED_STORAGE_VERSION, which older DuckDB readers open), a Parquet copy of every table,
and release.json naming them. It is written whole under a hidden name, synced and renamed; then
the link data/published is pointed at it by one rename, so the DuckDB file and the Parquet files
change together. data/published.duckdb links to data/published/published.duckdb. A reader holding
the old release keeps reading it; an interrupted publish leaves the old release in place
(architecture decision 1). The newest RELEASES_KEPT releases stay on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from bps_pipeline.config import Settings
from bps_pipeline.warehouse import sql_path

PUBLISHED_SCHEMA = "marts"
RELEASES_KEPT = 3  # older releases are deleted; a reader that opened one keeps its open file
# descriptions of the two tables publish itself makes (the marts' come from the dbt yml)
OWN_TABLES = {
    "publish_log": ("One row per publish: when, by which run, as of which date, the extract date each source was "
                    "built from, the checks run and passed, and the rows of each table.", {
                        "published_at": "When the release was published (UTC).",
                        "run_id": "The Dagster run that published it.",
                        "as_of_date": "The as-of date the figures were rebuilt for; null for the newest data.",
                        "source_extract_dates": "JSON: the newest extract date loaded of each source extract.",
                        "checks_run": "Quality-gate checks evaluated in the run.",
                        "checks_passed": "Quality-gate checks that passed.",
                        "tables": "JSON: the rows of each published table."}),
    "metric_values_history": ("The district and school figures (subgroup all, no day rows) of every as-of date "
                              "published; the newest publish of a date wins.", {
                                  "published_as_of": "The as-of date of the publish (the newest extract date when none).",
                                  "published_at": "When that publish happened (UTC)."}),
}


@dataclass
class PublishResult:
    path: str
    release: str
    tables: dict[str, int]
    published_at: str


def source_extract_dates(con, as_of: str | None, database: str = "") -> dict[str, str]:
    """The newest extract date loaded per source extract (at or before as_of)."""
    where = "WHERE extract_date <= CAST(? AS DATE)" if as_of else ""
    prefix = f"{database}." if database else ""
    rows = con.execute(
        f"SELECT source || '/' || extract, max(extract_date)::VARCHAR FROM {prefix}raw._load_log {where} "
        "GROUP BY 1 ORDER BY 1", [as_of] if as_of else []).fetchall()
    return dict(rows)


def publish(settings: Settings, run_id: str, checks_run: int, checks_passed: int,
            as_of: str | None = None) -> PublishResult:
    published_at = datetime.now(timezone.utc).replace(microsecond=0)
    release = f"{published_at:%Y%m%dT%H%M%SZ}-{run_id[:8]}-{uuid.uuid4().hex[:6]}"
    releases = settings.releases_dir
    work = releases / f".{release}.partial"
    try:
        work.mkdir(parents=True)
        counts = _write_release(settings, work, release, run_id, published_at, as_of, checks_run, checks_passed)
        _sync_tree(work)
        os.rename(work, releases / release)
        _sync(releases)
        _point(settings.published_dir, Path("releases") / release)
        _point(settings.published_path, Path(settings.published_dir.name) / "published.duckdb")
        _sync(settings.data_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    prune_releases(settings, keep=RELEASES_KEPT)
    return PublishResult(str(settings.published_path), release, counts, published_at.isoformat())


def _write_release(settings: Settings, work: Path, release: str, run_id: str, published_at: datetime,
                   as_of: str | None, checks_run: int, checks_passed: int) -> dict[str, int]:
    """published.duckdb and the Parquet files of one release, in `work`; the rows of each table."""
    with duckdb.connect(":memory:", config={"memory_limit": settings.duckdb_memory_limit,
                                            "threads": settings.duckdb_threads}) as con:
        con.execute(f"ATTACH '{sql_path(settings.warehouse_path)}' AS wh (READ_ONLY)")
        if settings.published_path.exists():  # the current release: its log and history carry over
            con.execute(f"ATTACH '{sql_path(settings.published_path)}' AS old (READ_ONLY)")
        con.execute(f"ATTACH '{sql_path(work / 'published.duckdb')}' AS out "
                    f"(STORAGE_VERSION '{settings.published_storage_version}')")
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'wh' AND schema_name = 'marts' ORDER BY 1"
        ).fetchall()]
        if not tables:
            raise RuntimeError("the warehouse has no marts to publish; run dbt first")
        con.execute(f"CREATE SCHEMA out.{PUBLISHED_SCHEMA}")
        counts = {}
        for t in tables:
            con.execute(f"CREATE TABLE out.{PUBLISHED_SCHEMA}.{t} AS SELECT * FROM wh.marts.{t}")
            counts[t] = con.execute(f"SELECT count(*) FROM out.{PUBLISHED_SCHEMA}.{t}").fetchone()[0]
        _copy_comments(con, tables)
        sources = source_extract_dates(con, as_of, database="wh")
        _append_publish_log(con, run_id, published_at, as_of, sources, checks_run, checks_passed, counts)
        _append_history(con, published_at, as_of or max(sources.values(), default=None))
        figures = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE database_name = 'wh' "
                                   "AND schema_name = 'marts' AND table_name = 'metric_values'").fetchall())
        for t, (about, columns) in OWN_TABLES.items():  # the history's other columns are metric_values'
            _comment(con, t, about, {**(figures if t == "metric_values_history" else {}), **columns})
        for t in (*tables, *OWN_TABLES):
            counts[t] = con.execute(f"SELECT count(*) FROM out.{PUBLISHED_SCHEMA}.{t}").fetchone()[0]
        (work / "parquet").mkdir()
        for t in counts:
            con.execute(f"COPY out.{PUBLISHED_SCHEMA}.{t} TO '{sql_path(work / 'parquet' / f'{t}.parquet')}' "
                        f"(FORMAT parquet, KV_METADATA {{release: '{release}'}})")
        con.execute("DETACH out")
    manifest = {"release": release, "run_id": run_id, "published_at": published_at.isoformat(), "as_of_date": as_of,
                "storage_version": settings.published_storage_version, "tables": counts,
                "parquet": {f"{t}.parquet": _sha256(work / "parquet" / f"{t}.parquet") for t in counts}}
    (work / "release.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return counts


def _copy_comments(con, tables: list[str]) -> None:
    """The marts' descriptions (dbt's persist_docs put them on the warehouse tables) on the published ones."""
    for t, comment in con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'wh' "
                                  "AND schema_name = 'marts'").fetchall():
        columns = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE database_name = 'wh' "
                                   "AND schema_name = 'marts' AND table_name = ?", [t]).fetchall())
        if t in tables:
            _comment(con, t, comment, columns)


def _comment(con, table: str, about: str | None, columns: dict[str, str | None]) -> None:
    def text(value: str) -> str:
        return "'" + " ".join(value.split()).replace("'", "''") + "'"

    if about:
        con.execute(f"COMMENT ON TABLE out.{PUBLISHED_SCHEMA}.{table} IS {text(about)}")
    present = {c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'out' "
                                         "AND table_name = ?", [table]).fetchall()}
    for column, comment in columns.items():
        if comment and column in present:
            con.execute(f'COMMENT ON COLUMN out.{PUBLISHED_SCHEMA}.{table}."{column}" IS {text(comment)}')


def _has_old(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'old' AND schema_name = ? "
                            "AND table_name = ?", [PUBLISHED_SCHEMA, table]).fetchone()[0])


def _append_history(con, published_at: datetime, as_of: str | None) -> None:
    """metric_values_history: the district and school figures of every as-of date published (the
    newest publish of a date wins), for trends and for what the district would have published."""
    con.execute(f"""CREATE TABLE out.{PUBLISHED_SCHEMA}.metric_values_history AS
        SELECT CAST(? AS DATE) AS published_as_of, CAST(? AS TIMESTAMP) AS published_at, metric_id, commitment,
               school_year, period_type, period, as_of_date, school_id, value, prior_value, suppressed
        FROM out.{PUBLISHED_SCHEMA}.metric_values WHERE subgroup_type = 'all' AND period_type <> 'day'""",
                [as_of, published_at.replace(tzinfo=None)])
    if _has_old(con, "metric_values_history"):
        con.execute(f"""INSERT INTO out.{PUBLISHED_SCHEMA}.metric_values_history BY NAME
                        SELECT * FROM old.{PUBLISHED_SCHEMA}.metric_values_history
                        WHERE published_as_of IS DISTINCT FROM CAST(? AS DATE)""", [as_of])


def _append_publish_log(con, run_id: str, published_at: datetime, as_of: str | None, sources: dict[str, str],
                        checks_run: int, checks_passed: int, counts: dict[str, int]) -> None:
    """publish_log keeps every earlier publish's row (carried over from the current release) plus this one."""
    con.execute(f"""CREATE TABLE out.{PUBLISHED_SCHEMA}.publish_log (
        published_at TIMESTAMP, run_id VARCHAR, as_of_date DATE, source_extract_dates VARCHAR,
        checks_run INTEGER, checks_passed INTEGER, tables VARCHAR)""")
    if _has_old(con, "publish_log"):
        con.execute(f"INSERT INTO out.{PUBLISHED_SCHEMA}.publish_log SELECT * FROM old.{PUBLISHED_SCHEMA}.publish_log")
    con.execute(f"INSERT INTO out.{PUBLISHED_SCHEMA}.publish_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                [published_at.replace(tzinfo=None), run_id, as_of, json.dumps(sources), checks_run,
                 checks_passed, json.dumps(counts)])


def _point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` (relative to the link's folder) in one rename,
    replacing what was there: an older link, or the single file an earlier version published."""
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    tmp = link.with_name(f".{link.name}.{uuid.uuid4().hex}.link")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except IsADirectoryError:  # never made by this code; not ours to replace
        tmp.unlink()
        raise RuntimeError(f"{link} is a folder, not the link publish makes; "
                           "move it aside and publish again") from None


def current_release(settings: Settings) -> str | None:
    link = settings.published_dir
    return Path(os.readlink(link)).name if link.is_symlink() else None


def prune_releases(settings: Settings, keep: int) -> list[str]:
    """Delete all but the newest `keep` releases (never the current one), and the release folders
    and links an interrupted publish left; returns what went."""
    if not settings.releases_dir.is_dir():
        return []
    current = current_release(settings)
    done = sorted((p for p in settings.releases_dir.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.name, reverse=True)
    gone = [p for p in done[keep:] if p.name != current]
    gone += [p for p in settings.releases_dir.glob(".*.partial")]
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    for link in settings.data_dir.glob(".*.link"):  # made, then killed before the rename
        link.unlink(missing_ok=True)
        gone.append(link)
    return [p.name for p in gone]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _sync(path)

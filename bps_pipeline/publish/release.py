"""Publish: copy the audited marts into a complete new published.duckdb and rename it into place.

A dashboard holding the old file keeps its snapshot, new readers see the new file whole, and a
failed or interrupted publish leaves the old file as it was (architecture decision 1).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from bps_pipeline.config import Settings
from bps_pipeline.warehouse import connect, sql_path

PUBLISHED_SCHEMA = "marts"


@dataclass
class PublishResult:
    path: str
    tables: dict[str, int]
    published_at: str


def source_extract_dates(con, as_of: str | None, database: str = "") -> dict[str, str]:
    """The newest extract date loaded per source extract (at or before as_of)."""
    where = "WHERE extract_date <= CAST(? AS DATE)" if as_of else ""
    prefix = f"{database}." if database else ""
    rows = con.execute(
        f"SELECT source || '/' || extract, max(extract_date)::VARCHAR FROM {prefix}raw._load_log {where} "
        "GROUP BY 1 ORDER BY 1",
        [as_of] if as_of else []).fetchall()
    return dict(rows)


def publish(settings: Settings, run_id: str, checks_run: int, checks_passed: int,
            as_of: str | None = None) -> PublishResult:
    final = settings.published_path
    tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
    published_at = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        with connect(settings, path=tmp) as out:
            out.execute(f"ATTACH '{sql_path(settings.warehouse_path)}' AS wh (READ_ONLY)")
            tables = [r[0] for r in out.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'wh' AND schema_name = 'marts' ORDER BY 1"
            ).fetchall()]
            if not tables:
                raise RuntimeError("the warehouse has no marts to publish; run dbt first")
            out.execute(f"CREATE SCHEMA {PUBLISHED_SCHEMA}")
            counts = {}
            for t in tables:
                out.execute(f"CREATE TABLE {PUBLISHED_SCHEMA}.{t} AS SELECT * FROM wh.marts.{t}")
                counts[t] = out.execute(f"SELECT count(*) FROM {PUBLISHED_SCHEMA}.{t}").fetchone()[0]
            sources = source_extract_dates(out, as_of, database="wh")
            _append_publish_log(out, settings, run_id, published_at, as_of, sources, checks_run, checks_passed, counts)
            _append_history(out, settings, published_at, as_of or max(sources.values(), default=None))
            out.execute("DETACH wh")
            out.execute("CHECKPOINT")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return PublishResult(str(final), counts, published_at.isoformat())


def _append_history(out, settings: Settings, published_at: datetime, as_of: str | None) -> None:
    """metric_values_history: the district and school figures of every as-of date published
    (one set per as-of date, the newest publish of it wins), for trends and for what the district
    would have published on a given day."""
    out.execute(f"""CREATE TABLE {PUBLISHED_SCHEMA}.metric_values_history AS
        SELECT CAST(? AS DATE) AS published_as_of, CAST(? AS TIMESTAMP) AS published_at, metric_id, commitment,
               school_year, period_type, period, as_of_date, school_id, value, prior_value, suppressed
        FROM {PUBLISHED_SCHEMA}.metric_values WHERE subgroup_type = 'all' AND period_type <> 'day'""",
                [as_of, published_at.replace(tzinfo=None)])
    if settings.published_path.exists():
        out.execute(f"ATTACH '{sql_path(settings.published_path)}' AS old (READ_ONLY)")
        try:
            out.execute(f"""INSERT INTO {PUBLISHED_SCHEMA}.metric_values_history
                            SELECT * FROM old.marts.metric_values_history WHERE published_as_of <> CAST(? AS DATE)""", [as_of])
        except Exception:  # an older file without history starts it here
            pass
        out.execute("DETACH old")


def _append_publish_log(out, settings: Settings, run_id: str, published_at: datetime, as_of: str | None,
                        sources: dict[str, str], checks_run: int, checks_passed: int, counts: dict[str, int]) -> None:
    """publish_log keeps every earlier publish's row (carried over from the old file) plus this one."""
    out.execute(f"""CREATE TABLE {PUBLISHED_SCHEMA}.publish_log (
        published_at TIMESTAMP, run_id VARCHAR, as_of_date DATE, source_extract_dates VARCHAR,
        checks_run INTEGER, checks_passed INTEGER, tables VARCHAR)""")
    if settings.published_path.exists():
        out.execute(f"ATTACH '{sql_path(settings.published_path)}' AS old (READ_ONLY)")
        try:
            out.execute(f"INSERT INTO {PUBLISHED_SCHEMA}.publish_log SELECT * FROM old.marts.publish_log")
        except Exception:  # an old file without a log (or another layout) starts a new log
            pass
        out.execute("DETACH old")
    out.execute(f"INSERT INTO {PUBLISHED_SCHEMA}.publish_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                [published_at.replace(tzinfo=None), run_id, as_of, json.dumps(sources), checks_run,
                 checks_passed, json.dumps(counts)])

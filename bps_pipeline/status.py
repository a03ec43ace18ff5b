"""The state of the data: per source, the newest extract loaded, rows and staleness; the last
publish and its checks; quarantined files. Read-only; `bps-pipeline status` prints it and the
freshness sensor alerts from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from bps_pipeline.alerts.channels import Alert, send_alert
from bps_pipeline.config import Settings
from bps_pipeline.ingest.contract import EXTRACTS


@dataclass
class SourceStatus:
    extract: str
    newest: date | None
    files: int
    rows: int
    age_days: int | None
    max_age_days: int

    @property
    def stale(self) -> bool:
        return self.newest is None or (self.age_days is not None and self.age_days > self.max_age_days)


def reference_date(settings: Settings, newest_of_all: date | None) -> date | None:
    """What "now" is for staleness (BPS_STALENESS_REFERENCE: config.py)."""
    ref = settings.staleness_reference
    if ref == "data":
        return newest_of_all
    return date.today() if ref == "today" else ref


def source_status(settings: Settings) -> list[SourceStatus]:
    loaded: dict[str, tuple] = {}
    if settings.warehouse_path.exists():
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            if con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = '_load_log'").fetchone()[0]:
                for key, newest, files, rows in con.execute(
                        "SELECT source || '__' || extract, max(extract_date), count(DISTINCT file_name), sum(rows) "
                        "FROM raw._load_log GROUP BY 1").fetchall():
                    loaded[key] = (newest, files, int(rows or 0))
    newest_all = max((v[0] for v in loaded.values()), default=None)
    ref = reference_date(settings, newest_all)
    out = []
    for ex in EXTRACTS:
        newest, files, rows = loaded.get(ex.key, (None, 0, 0))
        age = (ref - newest).days if (ref and newest) else None
        out.append(SourceStatus(f"{ex.source}/{ex.name}", newest, files, rows, age, ex.max_age_days))
    return out


def quarantined_files(settings: Settings) -> list[tuple[str, str]]:
    """(file, reason) for every file waiting in quarantine."""
    out = []
    for reason_file in sorted(settings.quarantine_dir.glob("*/*.reason.txt")):
        reason = next((l.removeprefix("reason: ") for l in reason_file.read_text().splitlines()
                       if l.startswith("reason: ")), "")
        out.append((f"{reason_file.parent.name}/{reason_file.name.removesuffix('.reason.txt')}", reason))
    return out


def last_publish(settings: Settings) -> dict | None:
    if not settings.published_path.exists():
        return None
    with duckdb.connect(str(settings.published_path), read_only=True) as con:
        row = con.execute("SELECT published_at, run_id, checks_run, checks_passed, source_extract_dates "
                          "FROM marts.publish_log ORDER BY published_at DESC LIMIT 1").fetchone()
        count = con.execute("SELECT count(*) FROM marts.publish_log").fetchone()[0]
    return {"published_at": row[0], "run_id": row[1], "checks_run": row[2], "checks_passed": row[3],
            "sources": row[4], "publishes": count} if row else None


def alert_stale_sources(settings: Settings) -> int:
    """One alert per stale source and newest extract date (a new extract clears it)."""
    sent = 0
    for s in source_status(settings):
        if s.stale:
            observed = ("no extract loaded yet" if s.newest is None
                        else f"newest extract {s.newest} is {s.age_days} days old (expected within {s.max_age_days})")
            sent += send_alert(settings, Alert(
                kind="source_stale", key=f"stale:{s.extract}:{s.newest}", severity="WARN",
                title=f"Source stale: {s.extract}", where=f"landing/{s.extract}_YYYYMMDD.csv", observed=observed))
    return sent

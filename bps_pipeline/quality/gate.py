"""The quality gate: the Great Expectations suites of expectations/ run against the marts.

The marts are small aggregate tables, so each is read once into pandas and validated there
(stack-notes: GX's SQL route needs patching on DuckDB; this one does not). Each expectation's GX
`severity` says whether a failure blocks publication (critical) or only alerts (warning). Each
suite runs as a GX Checkpoint whose UpdateDataDocsAction renders the data docs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from bps_pipeline.catalog import metric_catalog
from bps_pipeline.config import EXPECTATIONS_DIR, Settings
from bps_pipeline.warehouse import connect

if TYPE_CHECKING:
    import pandas as pd

VALIDATION_HISTORY_DAYS = 90  # stored GX validation results (and their data-docs pages) kept
BLOCKING = "critical"  # GX's severity that blocks publication; warning and info only alert


@dataclass
class Failure:
    expectation: str
    column: str | None
    severity: str  # ERROR (blocks) or WARN
    observed: str
    failing_rows: list[dict] = field(default_factory=list)
    why: str = ""


@dataclass
class SuiteResult:
    suite: str
    mart: str
    evaluated: int
    failures: list[Failure]
    data_docs: str | None = None

    @property
    def severity(self) -> str | None:
        """ERROR if any blocking expectation failed, WARN if only warnings, None if all passed."""
        if any(f.severity == "ERROR" for f in self.failures):
            return "ERROR"
        return "WARN" if self.failures else None

    @property
    def passed(self) -> bool:
        return not self.failures


def suite_names() -> list[str]:
    return sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json"))


def load_suite(name: str) -> dict:
    return json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text())


def suite_parameters(settings: Settings, con: duckdb.DuckDBPyConnection, as_of: str | None) -> dict:
    """The values the suites name as {"$PARAMETER": ...}, each from its one home (expectations/README.md)."""
    where = "WHERE extract_date <= CAST(? AS DATE)" if as_of else ""
    args = [as_of] if as_of else []
    sources = {r[0] for r in con.execute(f"SELECT DISTINCT source || '/' || extract FROM raw._load_log {where}", args).fetchall()}
    params: dict = {"metric_ids": sorted(m for m, r in metric_catalog().items() if r["main_source"] in sources),
                    "min_cell_size": settings.min_cell_size}
    params["school_ids"] = [r[0] for r in con.execute("""
        SELECT DISTINCT s.school_id FROM staging.stg_sis__schools s
        JOIN intermediate.int_students st ON st.school_year = s.school_year AND st.school_id = s.school_id AND st.is_active
        WHERE s.school_type <> 'CENTRAL' AND s.school_year = (SELECT max(school_year) FROM intermediate.int_students)
        ORDER BY 1""").fetchall()]
    newest = con.execute(f"SELECT max(extract_date) FROM raw._load_log {where}", args).fetchone()[0]
    params["newest_as_of"] = (newest or date.min).isoformat()
    for name in suite_names():
        # rows must not collapse against the last publish; an as-of rebuild is compared with nothing
        params[f"min_rows_{name}"] = 0 if as_of else _previous_rows(settings, name) // 2
    return params


def _previous_rows(settings: Settings, table: str) -> int:
    if not settings.published_path.exists():
        return 0
    try:
        with duckdb.connect(str(settings.published_path), read_only=True) as pub:
            return pub.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0]
    except duckdb.Error:
        return 0


def audit_frame(con: duckdb.DuckDBPyConnection, mart: str) -> pd.DataFrame:
    """The mart as a DataFrame; a mart of metrics also gets two facts of each row's metric from the
    catalog seed, which the suites' row conditions name: `is_rate` (a fraction 0..1) and
    `counts_people` (a rate whose denominator counts people, so suppressed below min_cell_size).
    Dates stay dates (pandas would make them timestamps, which GX cannot compare with a date), and
    text is a pandas category: GX copies the frame for every metric it computes, and a category
    copies as integer codes, not a Python string per row."""
    columns = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE marts.{mart})").fetchall())
    query = f"SELECT * FROM marts.{mart}"
    if "metric_id" in columns:
        query = f"""SELECT m.*, coalesce(c.display = 'percent', false) AS is_rate,
                           coalesce(c.unit = 'rate' AND c.counts = 'people' AND c.suppress, false) AS counts_people
                    FROM marts.{mart} m LEFT JOIN reference.metric_catalog c USING (metric_id)"""
    frame = con.execute(query).df()
    for name, kind in columns.items():
        if kind == "DATE":
            frame[name] = frame[name].dt.date
        elif kind == "VARCHAR":
            frame[name] = frame[name].astype("category")
    return frame


def run_gate(settings: Settings, as_of: str | None = None) -> list[SuiteResult]:
    """Validate every suite's mart and render the data docs. Reads the warehouse read-only, briefly."""
    with connect(settings, read_only=True) as con:
        params = suite_parameters(settings, con, as_of)
        frames = {name: audit_frame(con, name) for name in suite_names()}
    return _validate(settings, frames, params)


def prune_validation_results(root: Path, keep_days: int = VALIDATION_HISTORY_DAYS) -> int:
    """Delete stored validation results and their pages older than keep_days (GX keeps every one,
    and rebuilds its index from them; Dagster's run history keeps every night's check results)."""
    uncommitted = root / "gx" / "uncommitted"
    cutoff = time.time() - keep_days * 86400
    old = [f for folder in (uncommitted / "validations", uncommitted / "data_docs" / "local_site" / "validations")
           for f in folder.rglob("*") if f.is_file() and f.stat().st_mtime < cutoff]
    for f in old:
        f.unlink()
    return len(old)


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx

    return gx


def _validate(settings: Settings, frames: dict[str, pd.DataFrame], params: dict) -> list[SuiteResult]:
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    root = settings.gx_project_dir
    prune_validation_results(root)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    try:  # kept between runs with its assets (add_or_update would drop them)
        datasource = context.data_sources.get("marts")
    except KeyError:
        datasource = context.data_sources.add_pandas("marts")
    run_id = RunIdentifier(run_name=f"gate-{os.urandom(6).hex()}")
    results = []
    for name, frame in frames.items():
        spec = load_suite(name)
        suite = gx.ExpectationSuite(name=name, meta=spec.get("meta", {}))
        for e in spec["expectations"]:
            suite.add_expectation_configuration(ExpectationConfiguration(**e))
        suite = context.suites.add_or_update(suite)
        try:
            asset = datasource.get_asset(name)
        except LookupError:
            asset = datasource.add_dataframe_asset(name)
        batch = next(iter(asset.batch_definitions), None) or asset.add_batch_definition_whole_dataframe("whole")
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=f"gate_{name}", validation_definitions=[validation],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="update_data_docs")],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5}))
        run = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=params, run_id=run_id)
        (validated,) = run.run_results.values()
        failures = [_failure(r, frame) for r in validated.results if not r.success]
        results.append(SuiteResult(name, spec.get("meta", {}).get("mart", name), len(validated.results), failures))
    docs = root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    for r in results:
        r.data_docs = str(docs) if docs.exists() else None
    return results


def _failure(r, frame: pd.DataFrame) -> Failure:
    """One failed expectation: what it saw and up to five of the rows it failed on."""
    cfg = r.expectation_config
    column = cfg.kwargs.get("column")
    observed = r.result.get("observed_value")
    unexpected = r.result.get("partial_unexpected_list") or []
    if cfg.type == "expect_column_distinct_values_to_contain_set" and column in frame.columns:
        missing = sorted(set(cfg.kwargs["value_set"]) - set(frame[column].dropna().unique()))
        observed = f"missing: {', '.join(map(str, missing))}"
    elif (r.exception_info or {}).get("raised_exception"):
        observed = f"the expectation could not be evaluated: {r.exception_info['exception_message']}"
    elif observed is None:
        observed = f"{r.result.get('unexpected_count')} unexpected rows, e.g. {unexpected[:3]}"
    rows = frame.iloc[0:0]
    if column in frame.columns and unexpected:
        rows = frame[frame[column].isin(unexpected)]
    elif unexpected and isinstance(unexpected[0], dict):  # a compound key: the rows that share it
        keys = list(unexpected[0])
        rows = frame.merge(frame.__class__(unexpected).drop_duplicates(), on=keys)
    severity = getattr(cfg.severity, "value", cfg.severity)
    return Failure(cfg.type, column, "ERROR" if severity == BLOCKING else "WARN", str(observed),
                   rows.head(5).astype(str).to_dict("records"), (cfg.meta or {}).get("why", ""))

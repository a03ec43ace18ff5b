"""The quality gate: the Great Expectations suites of expectations/ run against the marts.

The marts are small aggregate tables, so each is read once into pandas and validated there
(stack-notes: no patching of GX's SQL path, no warehouse lock held while GX runs). Each
expectation's meta.severity says whether a failure blocks publication (ERROR) or only alerts
(WARN). Validation results are rendered as GX data docs in the data folder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from bps_pipeline.catalog import RATE_UNITS, metric_catalog
from bps_pipeline.config import EXPECTATIONS_DIR, Settings
from bps_pipeline.warehouse import connect_scratch

if TYPE_CHECKING:  # pandas loads with GX on the gate's import thread, not at definitions load
    import pandas as pd

EPOCH = date(1970, 1, 1)
# Derived columns whose values mean nothing to a reader (cell_key numbers the cells): an alert
# shows the failing rows' own columns instead of quoting these.
INTERNAL_COLUMNS = ("cell_key",)
VALIDATION_HISTORY_DAYS = 90  # stored GX validation results (and their data-docs pages) kept


@dataclass
class Failure:
    expectation: str
    column: str | None
    severity: str
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
    """The values the suites name as $parameters, each from its one home."""
    where = "WHERE extract_date <= CAST(? AS DATE)" if as_of else ""
    args = [as_of] if as_of else []
    sources = {r[0] for r in con.execute(f"SELECT DISTINCT source || '/' || extract FROM raw._load_log {where}", args).fetchall()}
    # every metric whose main source had an extract by the as-of date must be published
    params: dict = {"metric_ids": sorted(m for m, r in metric_catalog().items() if r["main_source"] in sources),
                    "min_cell_size": settings.min_cell_size}
    params["school_ids"] = [r[0] for r in con.execute("""
        SELECT DISTINCT s.school_id FROM staging.stg_sis__schools s
        JOIN intermediate.int_students st ON st.school_year = s.school_year AND st.school_id = s.school_id AND st.is_active
        WHERE s.school_type <> 'CENTRAL' AND s.school_year = (SELECT max(school_year) FROM intermediate.int_students)
        ORDER BY 1""").fetchall()]
    newest = con.execute(f"SELECT max(extract_date) FROM raw._load_log {where}", args).fetchone()[0]
    params["newest_as_of"] = (newest - EPOCH).days if newest else 0
    for name in suite_names():
        # rows must not collapse against the last publish; a rebuild as of an earlier date is
        # compared with nothing (the last publish is of other dates)
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


def _substitute(value, params: dict):
    if isinstance(value, str) and value.startswith("$"):
        return params[value[1:]]
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    return value


def prepared_frame(con: duckdb.DuckDBPyConnection, suite: str, settings: Settings) -> pd.DataFrame:
    """The mart as a DataFrame, with the derived columns the suites check, computed in DuckDB.
    `con` is connect_scratch's: the frame's ENUM types go to its in-memory database."""
    columns = {r[0] for r in con.execute(f"DESCRIBE marts.{suite}").fetchall()}
    if "metric_id" not in columns:
        return fetch_frame(con, f"SELECT * FROM marts.{suite}")
    import pandas as pd

    catalog = pd.DataFrame(
        [(m, r.get("unit"), r.get("suppress") == "true" and r.get("counts") == "people")
         for m, r in metric_catalog().items()], columns=["metric_id", "unit", "counts_people"])
    con.register("_catalog", catalog)
    rates = ", ".join(f"'{u}'" for u in sorted(RATE_UNITS))
    derived = ["c.unit", f"CASE WHEN c.unit IN ({rates}) THEN m.value END AS rate_value"]
    if suite == "metric_values":
        derived += [
            # must be <= 0 for rates: the numerator is a part of the denominator
            f"CASE WHEN c.unit IN ({rates}) THEN m.numerator - m.denominator END AS numerator_minus_denominator",
            # a shown cell whose denominator counts fewer people than min_cell_size (metrics whose
            # denominator counts people, per the catalog's `counts`; person-day metrics are suppressed
            # on their cell size, which the published file does not carry)
            f"coalesce(c.counts_people AND c.unit = 'rate' AND NOT m.suppressed "
            f"AND m.denominator < {int(settings.min_cell_size)}, false) AS unsuppressed_small_cell",
            # a suppressed cell that still shows a number
            "coalesce(m.suppressed AND (m.value IS NOT NULL OR m.numerator IS NOT NULL OR m.denominator IS NOT NULL "
            "OR m.prior_value IS NOT NULL), false) AS suppressed_but_shown",
            f"{_cell_key(con)} AS cell_key",
            # as_of_date as days since 1970-01-01, for the freshness expectation
            "date_diff('day', DATE '1970-01-01', m.as_of_date) AS as_of_day",
        ]
    try:
        return fetch_frame(con, f"SELECT m.*, {', '.join(derived)} FROM marts.{suite} m LEFT JOIN _catalog c USING (metric_id)")
    finally:
        con.unregister("_catalog")


CELL = "m.metric_id, m.school_year, m.period_type, m.period, m.school_id, m.subgroup_type, m.subgroup_value"


def _cell_key(con: duckdb.DuckDBPyConnection) -> str:
    """metric_values' cell identity as a number: rows with the same metric, period, school (none =
    district: NULLs are peers) and subgroup share one, so duplicated cells share one (a string key
    made GX's per-expectation copies and batch hash cost seconds at 4x).

    A hash of the identity costs nothing, but two different cells could share one (about 1 in 10^8
    at 4x) and read as a duplicate; when any two rows share a hash - duplicates or such a
    collision - the cells are numbered exactly, by a sort (0.6 s at 4x)."""
    key = f"hash({CELL})"
    exact = con.execute(f"SELECT count(DISTINCT {key}) = count(*) FROM marts.metric_values m").fetchone()[0]
    return key if exact else f"dense_rank() OVER (ORDER BY {CELL})"


def fetch_frame(con: duckdb.DuckDBPyConnection, query: str) -> pd.DataFrame:
    """A query's rows as a DataFrame, text that repeats (metric ids, periods, subgroups: at most
    half the rows distinct) as pandas categories.

    GX copies the frame for every expectation and hashes it for the batch, and a category is an
    integer code per row, not a Python string. The categories are made in DuckDB, as ENUM types,
    which DuckDB hands to pandas as categories without a Python string per row (at 4x, the
    metric_values frame took 2.0 s with strings converted in pandas). Values, NULLs and every
    check's result are the same as with plain strings."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _frame AS {query}")
    types: list[str] = []
    try:
        columns = con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                              "WHERE database_name = 'temp' AND table_name = '_frame' ORDER BY column_index").fetchall()
        text = [name for name, kind in columns if kind == "VARCHAR"]
        rows, *distinct = con.execute(
            "SELECT count(*)" + "".join(f', count(DISTINCT "{c}")' for c in text) + " FROM _frame").fetchone()
        repeating = {c for c, n in zip(text, distinct) if 0 < n <= rows // 2}
        select = []
        for name, _ in columns:
            if name in repeating:
                types.append(f"_frame_enum_{len(types)}")
                con.execute(f'CREATE TYPE memory.main.{types[-1]} AS ENUM '
                            f'(SELECT DISTINCT "{name}" FROM _frame WHERE "{name}" IS NOT NULL)')
                select.append(f'CAST("{name}" AS memory.main.{types[-1]}) AS "{name}"')
            else:
                select.append(f'"{name}"')
        return con.execute(f"SELECT {', '.join(select)} FROM _frame").df()
    finally:
        con.execute("DROP TABLE IF EXISTS _frame")
        for t in types:
            con.execute(f"DROP TYPE IF EXISTS memory.main.{t}")


def run_gate(settings: Settings, as_of: str | None = None, suites: list[str] | None = None) -> list[SuiteResult]:
    """Validate every suite's mart; build data docs. Opens the warehouse read-only, briefly."""
    names = suites or suite_names()
    with connect_scratch(settings) as con:
        params = suite_parameters(settings, con, as_of)
        frames = {name: prepared_frame(con, name, settings) for name in names}
    return _validate(settings, frames, params)


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx

    return gx


def import_gx_in_background() -> None:
    """Import Great Expectations (3-5 s of one core) on a thread while dbt builds the marts.

    dbt's start-up and parse use one core of two, so the gate that follows finds GX loaded; if the
    import is still running then, the gate's own import simply waits for it."""
    threading.Thread(target=_import_gx, name="gx-import", daemon=True).start()


def prune_validation_results(root: Path, keep_days: int = VALIDATION_HISTORY_DAYS) -> int:
    """Delete stored validation results and their data-docs pages older than keep_days; returns
    how many files.

    One result and one page per suite per night would otherwise grow without end, and with them
    the index GX rebuilds. Dagster's run history keeps every night's check results."""
    uncommitted = root / "gx" / "uncommitted"
    cutoff = time.time() - keep_days * 86400
    old = [f for folder in (uncommitted / "validations", uncommitted / "data_docs" / "local_site" / "validations")
           for f in folder.rglob("*") if f.is_file() and f.stat().st_mtime < cutoff]
    for f in old:
        f.unlink()
    return len(old)


def checked_columns(spec: dict, frame: pd.DataFrame) -> list[str]:
    """The frame's columns the suite's expectations name anywhere in their arguments (`column`,
    `column_list`, a `row_condition`'s expression, ...), in the frame's order: a name that only
    looks like a column keeps a column GX did not need, never drops one it does. Every column when
    an expectation looks at the table's columns as such (`expect_table_column...`: their set, order
    or count) or when none is named."""
    if any(e["type"].startswith("expect_table_column") for e in spec["expectations"]):
        return list(frame.columns)
    words: set[str] = set()

    def collect(value) -> None:
        if isinstance(value, str):
            words.update(re.findall(r"\w+", value))
        elif isinstance(value, (list, tuple, dict)):
            for v in value.values() if isinstance(value, dict) else value:
                collect(v)

    for e in spec["expectations"]:
        collect(e["kwargs"])
    return [c for c in frame.columns if c in words] or list(frame.columns)


def _validate(settings: Settings, frames: dict[str, pd.DataFrame], params: dict) -> list[SuiteResult]:
    gx = _import_gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    root = settings.gx_project_dir
    context = gx.get_context(mode="file", project_root_dir=str(root))
    try:
        context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    except Exception:  # older/newer GX: the bars are only cosmetic
        pass
    try:  # kept between runs with its assets (add_or_update would drop them)
        datasource = context.data_sources.get("marts")
    except KeyError:
        datasource = context.data_sources.add_pandas("marts")
    definitions, meta, checked = [], {}, {}
    for name in frames:
        spec = load_suite(name)
        checked[name] = checked_columns(spec, frames[name])
        expectations = []
        for i, e in enumerate(spec["expectations"]):
            cls = gx.expectations.registry.get_expectation_impl(e["type"])
            meta_i = {**e.get("meta", {}), "index": i}
            expectations.append(cls(**_substitute(e["kwargs"], params), meta=meta_i))
        suite = context.suites.add_or_update(gx.ExpectationSuite(name=name, expectations=expectations))
        try:
            asset = datasource.get_asset(name)
        except LookupError:
            asset = datasource.add_dataframe_asset(name)
        batch = next(iter(asset.batch_definitions), None) or asset.add_batch_definition_whole_dataframe("whole")
        vd = context.validation_definitions.add_or_update(gx.ValidationDefinition(name=name, data=batch, suite=suite))
        definitions.append((name, vd))
        meta[name] = spec.get("meta", {})
    results = []
    run_id = RunIdentifier(run_name=f"gate-{uuid.uuid4().hex[:12]}", run_time=datetime.now(UTC))
    for name, vd in definitions:
        frame = frames[name]
        # GX copies the frame it validates for each expectation: only the checked columns (the
        # whole frame stays for the failing rows an alert shows)
        run = vd.run(batch_parameters={"dataframe": frame[checked[name]]}, run_id=run_id,
                     result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5})
        failures = []
        for r in run.results:
            if r.success:
                continue
            cfg = r.expectation_config
            column = cfg.kwargs.get("column")
            observed = r.result.get("observed_value")
            unexpected = r.result.get("partial_unexpected_list") or []
            if cfg.type == "expect_column_distinct_values_to_contain_set" and column in frame.columns:
                missing = sorted(set(cfg.kwargs["value_set"]) - set(frame[column].dropna().unique()))
                observed = f"missing: {', '.join(map(str, missing))}"
            elif observed is None:
                examples = "" if column in INTERNAL_COLUMNS else f", e.g. {unexpected[:3]}"
                observed = f"{r.result.get('unexpected_count')} unexpected rows{examples}"
            rows = []
            if column in frame.columns and unexpected:
                rows = (frame[frame[column].isin(unexpected)].head(5)
                        .drop(columns=[c for c in INTERNAL_COLUMNS if c in frame.columns])
                        .astype(str).to_dict("records"))
            failures.append(Failure(cfg.type, column, cfg.meta.get("severity", "ERROR"), str(observed), rows,
                                    cfg.meta.get("why", "")))
        results.append(SuiteResult(name, meta[name].get("mart", name), len(run.results), failures))
    # pages for the suites and this run's results only (every stored result grows with the history)
    prune_validation_results(root)
    this_run = [k for k in context.validation_results_store.list_keys() if k.run_id.run_name == run_id.run_name]
    context.build_data_docs(resource_identifiers=[ExpectationSuiteIdentifier(name=n) for n, _ in definitions]
                            + this_run)
    docs = root / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    for r in results:
        r.data_docs = str(docs) if docs.exists() else None
    return results

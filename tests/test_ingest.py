"""Ingest with real files: every extract loads, reloads are no-ops, and each kind of bad file is
quarantined with a precise reason while the warehouse keeps exactly what it had."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from bps_pipeline.ingest.contract import BY_KEY, EXTRACTS
from bps_pipeline.ingest.loader import Loader, scan_landing
from bps_pipeline.warehouse import connect
from tests.conftest import ingest


def ingest_all(settings, load_id="test-load"):
    return ingest(settings, load_id, *EXTRACTS)


def warehouse_state(settings) -> dict:
    """Row counts of every raw table and the load log, to compare before and after."""
    with connect(settings, read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name <> '_rejections' "
            "ORDER BY 1").fetchall()]
        state = {t: con.execute(f"SELECT count(*) FROM raw.{t}").fetchone()[0] for t in tables}
        state["_load_log_rows"] = con.execute(
            "SELECT list(file_name || sha256 ORDER BY file_name) FROM raw._load_log").fetchone()[0]
        return state


def test_every_extract_loads_and_a_second_load_is_a_no_op(settings):
    results = ingest_all(settings)
    assert results and all(r.status == "loaded" for r in results), [r for r in results if r.status != "loaded"]
    state = warehouse_state(settings)
    for ex in EXTRACTS:
        assert state[ex.key] > 0, f"raw.{ex.key} is empty"
    with connect(settings, read_only=True) as con:
        stamped = con.execute("SELECT count(*) FROM raw.sis__students WHERE _file_name IS NULL OR _extract_date IS NULL "
                              "OR _load_id IS NULL OR _loaded_at IS NULL").fetchone()[0]
        assert stamped == 0
        # the planted mess arrives clean
        assert con.execute("SELECT encoding FROM raw._load_log WHERE file_name = 'schools_20201207.csv'").fetchone()[0] == "windows-1252"
        assert con.execute("SELECT count(*) FROM raw.sis__schools WHERE school_name = 'Escuela Hernández K-8'").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM raw.sis__schools WHERE school_name LIKE 'John D. O’Bryant%'").fetchone()[0] > 0
        assert con.execute("SELECT drift_columns FROM raw._load_log WHERE extract = 'chromebook_assignments' LIMIT 1").fetchone()[0] == "purchase_date"
        assert con.execute("SELECT count(*) FROM raw.sis__enrollments WHERE entry_date IS NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM raw.staff__roster WHERE hispanic_ind IS NULL").fetchone()[0] == 0
    again = ingest_all(settings, "second-load")
    assert again == []
    assert warehouse_state(settings) == state


def test_a_changed_file_replaces_its_earlier_rows(settings):
    ingest_all(settings)
    path = settings.landing_dir / "survey" / "invitations_20201207.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n")
    (result,) = ingest(settings, "reload", BY_KEY[("survey", "invitations")])
    assert result.status == "replaced" and result.rows == 2
    with connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.survey__invitations").fetchone()[0] == 2


def _index(con, kind: str = "snapshot") -> set[tuple]:
    """raw._snapshots (kind 'snapshot') or raw._days ('daily'), as ingest wrote it."""
    table, part = ("raw._snapshots", "school_year") if kind == "snapshot" else ("raw._days", "day")
    return set(con.execute(
        f"SELECT source, extract, file_name, {part}, extract_date, rows, loaded_at FROM {table}").fetchall())


def _index_from_raw(con, kind: str = "snapshot") -> set[tuple]:
    """What that index must hold, counted from the raw tables themselves."""
    want = set()
    for ex in EXTRACTS:
        if ex.kind == kind:
            part = ex.day_column if kind == "daily" else ex.year_column or "NULL"
            want |= {(ex.source, ex.name, *r) for r in con.execute(
                f"SELECT _file_name, {part}, _extract_date, count(*), _loaded_at FROM {ex.table} GROUP BY ALL"
            ).fetchall()}
    return want


def test_the_snapshot_index_follows_loads_and_replacements(settings):
    """raw._snapshots (which staging reads to find each school year's newest snapshot) holds every
    snapshot file's rows per school year - bulk-loaded, loaded alone (the Windows-1252 schools
    file) and replaced - and no daily file. The rows a load logs for a file are counted as it is
    indexed; they must be the file's own data rows."""
    ingest_all(settings)
    with connect(settings, read_only=True) as con:
        logged = dict(con.execute("SELECT source || '/' || file_name, rows FROM raw._load_log").fetchall())
    for ex in EXTRACTS:
        for f in (settings.landing_dir / ex.source).glob(f"{ex.name}_*.csv"):
            with open(f, newline="", encoding="utf-8", errors="replace") as fh:
                assert logged[f"{ex.source}/{f.name}"] == sum(1 for _ in csv.reader(fh)) - 1, f.name
    marks = BY_KEY[("sis", "course_marks")]
    path = sorted((settings.landing_dir / "sis").glob("course_marks_*.csv"))[-1]
    header, first, second = path.read_text().splitlines()[:3]
    year = header.split(",").index("school_year")
    cells = second.split(",")
    cells[year] = "2019"  # the replacement holds two school years, one row each
    path.write_text("\n".join([header, first, ",".join(cells)]) + "\n")
    (result,) = ingest(settings, "reload", marks)
    assert result.status == "replaced" and result.rows == 2  # one row in each of two school years
    with connect(settings, read_only=True) as con:
        index = _index(con)
        assert index == _index_from_raw(con)
        assert {(r[3], r[5]) for r in index if r[2] == path.name} == {(int(first.split(",")[year]), 1), (2019, 1)}
        assert {r[:2] for r in index} == {(e.source, e.name) for e in EXTRACTS if e.kind == "snapshot"}
        assert any(r[:2] == ("sis", "schools") for r in index)


def test_the_day_index_follows_loads_and_replacements(settings):
    """raw._days (which staging reads to find each day's newest file and how far a year's data
    reaches) holds every daily file's rows per day - bulk-loaded and replaced, also by a file
    holding two days - and no snapshot file."""
    ingest_all(settings)
    path = sorted((settings.landing_dir / "staff").glob("signins_*.csv"))[-1]
    header, first, second = path.read_text().splitlines()[:3]
    day = header.split(",").index("signin_date")
    cells = second.split(",")
    cells[day] = "2020-12-31"  # the replacement holds two days, one row each
    path.write_text("\n".join([header, first, ",".join(cells)]) + "\n")
    (result,) = ingest(settings, "reload", BY_KEY[("staff", "signins")])
    assert result.status == "replaced" and result.rows == 2
    with connect(settings, read_only=True) as con:
        index = _index(con, "daily")
        assert index == _index_from_raw(con, "daily")
        assert {(str(r[3]), r[5]) for r in index if r[2] == path.name} == {(first.split(",")[day], 1), ("2020-12-31", 1)}
        assert {r[:2] for r in index} == {(e.source, e.name) for e in EXTRACTS if e.kind == "daily"}
        files = {(e.source, f.name) for e in EXTRACTS if e.kind == "daily"
                 for f in (settings.landing_dir / e.source).glob(f"{e.name}_*.csv")}
        assert {(r[0], r[2]) for r in index} == files


@pytest.mark.parametrize("before", ["DROP TABLE raw._snapshots", "ALTER TABLE raw._snapshots DROP COLUMN loaded_at",
                                    "DROP TABLE raw._days"])
def test_a_warehouse_from_before_an_index_gets_it(settings, before):
    """A warehouse loaded before raw._snapshots or raw._days existed, or before the snapshot index
    kept load times: the next ingest indexes every file it holds, and staging finds the same
    newest files."""
    ingest_all(settings)
    with connect(settings) as con:
        want = _index(con), _index(con, "daily")
        con.execute(before)
    assert ingest_all(settings, "after-upgrade") == []
    with connect(settings, read_only=True) as con:
        assert (_index(con), _index(con, "daily")) == want


def test_an_index_build_that_fails_leaves_no_index(settings, monkeypatch):
    """Building an index from the raw tables is one transaction: when it fails halfway (after the
    logins are indexed, at the sign-ins) there is no index that looks complete and lacks the
    sign-ins, and the next ingest builds it whole."""
    import bps_pipeline.ingest.loader as loader

    ingest_all(settings)
    with connect(settings) as con:
        want = _index(con, "daily")
        con.execute("DROP TABLE raw._days")
    real = loader.index_files

    def index_files(con, ex, *args, **kwargs):
        if ex.name == "signins":
            raise duckdb.IOException("disk full (simulated)")
        return real(con, ex, *args, **kwargs)

    monkeypatch.setattr(loader, "index_files", index_files)
    with connect(settings) as con, pytest.raises(duckdb.IOException):
        loader.ensure_raw_schema(con)
    with connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw' AND table_name = '_days'").fetchone()[0] == 0
    monkeypatch.undo()
    assert ingest_all(settings, "after-failure") == []
    with connect(settings, read_only=True) as con:
        assert _index(con, "daily") == want


def test_numbers_are_stored_exact(settings):
    """Dollars (and FTE, GPA, absence portions) are decimals kept to 6 places, so sums of them are
    exact and the same in any order: as DOUBLEs, 0.10 + 0.20 is 0.30000000000000004, and two builds
    of the same files published budget figures that differed in the last digit."""
    path = settings.landing_dir / "finance" / "budget_allocations_20201208.csv"
    path.write_text("school_id,fiscal_year,allocation_id,category,amount,need_based\n"
                    "0101,2021,X1,Test,0.10,Y\n0101,2021,X2,Test,.20,Y\n0101,2021,X3,Test,12.3456789,N\n")
    ingest_all(settings)
    with connect(settings, read_only=True) as con:
        rows = con.execute("SELECT allocation_id, amount FROM raw.finance__budget_allocations "
                           "WHERE _file_name = ? ORDER BY 1", [path.name]).fetchall()
        assert rows == [("X1", Decimal("0.1")), ("X2", Decimal("0.2")), ("X3", Decimal("12.345679"))]
        assert con.execute("SELECT sum(amount)::DOUBLE FROM raw.finance__budget_allocations "
                           "WHERE allocation_id IN ('X1', 'X2')").fetchone()[0] == 0.3


def _column_types(con, *columns: tuple[str, str]) -> list[str]:
    return [con.execute("SELECT data_type FROM duckdb_columns() WHERE schema_name = 'raw' AND table_name = ? "
                        "AND column_name = ?", list(c)).fetchone()[0] for c in columns]


AMOUNT, FTE = ("finance__budget_allocations", "amount"), ("staff__roster", "fte")


def test_a_warehouse_with_double_numbers_is_retyped_once(settings):
    """A warehouse loaded when numbers were DOUBLE: the next ingest converts its rows to the
    contract's decimals, says which columns it changed, and the one after has nothing to change."""
    from bps_pipeline.ingest.landing import ingest_landing

    ingest_all(settings)
    with connect(settings) as con:
        want = con.execute("SELECT sum(amount), sum(fte) FROM raw.finance__budget_allocations, "
                           "(SELECT sum(fte) AS fte FROM raw.staff__roster)").fetchone()
        for table, column in (AMOUNT, FTE):
            con.execute(f"ALTER TABLE raw.{table} ALTER {column} SET DATA TYPE DOUBLE")
    retyped = {load.extract.key: load.retyped for load in ingest_landing(settings, "upgrade", EXTRACTS, strays=False)
               if load.retyped}
    assert retyped == {"finance__budget_allocations": ["raw.finance__budget_allocations.amount: DOUBLE -> DECIMAL(18,6)"],
                       "staff__roster": ["raw.staff__roster.fte: DOUBLE -> DECIMAL(18,6)"]}
    with connect(settings, read_only=True) as con:
        assert _column_types(con, AMOUNT, FTE) == ["DECIMAL(18,6)", "DECIMAL(18,6)"]
        assert con.execute("SELECT sum(amount), sum(fte) FROM raw.finance__budget_allocations, "
                           "(SELECT sum(fte) AS fte FROM raw.staff__roster)").fetchone() == want
    assert all(not load.retyped for load in ingest_landing(settings, "next", EXTRACTS, strays=False))


def test_a_number_that_cannot_be_retyped_stops_ingest_and_changes_nothing(settings):
    """A DOUBLE too large for the contract's decimal: ingest stops with the column and both types
    named, and every column keeps its type and rows, including one converted before it failed."""
    from bps_pipeline.ingest.loader import RetypeError

    ingest_all(settings)
    with connect(settings) as con:
        for table, column in (FTE, AMOUNT):  # the roster's fte converts first, then amount fails
            con.execute(f"ALTER TABLE raw.{table} ALTER {column} SET DATA TYPE DOUBLE")
        con.execute("UPDATE raw.finance__budget_allocations SET amount = 1e15 WHERE allocation_id = "
                    "(SELECT min(allocation_id) FROM raw.finance__budget_allocations)")
    before = warehouse_state(settings)
    with pytest.raises(RetypeError) as err:
        ingest_all(settings, "upgrade")
    assert str(err.value).startswith("raw.finance__budget_allocations.amount: cannot change its type from "
                                     "DOUBLE to the contract's DECIMAL(18,6) (")
    assert str(err.value).endswith("; the warehouse is unchanged")
    assert warehouse_state(settings) == before
    with connect(settings, read_only=True) as con:
        assert _column_types(con, FTE, AMOUNT) == ["DOUBLE", "DOUBLE"]
        assert con.execute("SELECT max(amount) FROM raw.finance__budget_allocations").fetchone()[0] == 1e15


def _count_hashes(monkeypatch) -> list[str]:
    from bps_pipeline.ingest import loader

    hashed: list[str] = []
    real = loader._scan
    monkeypatch.setattr(loader, "_scan", lambda path: hashed.append(path.name) or real(path))
    return hashed


def test_unchanged_files_are_not_read_again(settings, monkeypatch):
    """The landing folder keeps every night's files: a second run must not hash them all again,
    but a file rewritten with the same size is still read and its new content loaded."""
    import os

    ingest_all(settings)
    hashed = _count_hashes(monkeypatch)
    assert ingest_all(settings, "second-load") == [] and hashed == []

    invitations = BY_KEY[("survey", "invitations")]
    path = settings.landing_dir / "survey" / "invitations_20201207.csv"
    text = path.read_text()
    os.utime(path)  # touched, same bytes: hashed once, unchanged, and not hashed again
    assert ingest(settings, "touched", invitations) == []
    assert ingest(settings, "touched-again", invitations) == []
    assert hashed == [path.name]
    lines = text.splitlines(keepends=True)
    lines[1], lines[-1] = lines[-1], lines[1]  # same size, other bytes
    assert lines[1] != lines[-1]
    path.write_text("".join(lines))
    (result,) = ingest(settings, "rewritten", invitations)
    assert result.status == "replaced", result


def test_a_load_log_from_before_modification_times_is_migrated(settings, monkeypatch):
    """A warehouse logged without modification times: the column is added, every file is hashed
    once (all unchanged, nothing loaded twice), and from then on none is."""
    ingest_all(settings)
    before = warehouse_state(settings)
    with connect(settings) as con:
        con.execute("ALTER TABLE raw._load_log DROP COLUMN modified_ns")
    hashed = _count_hashes(monkeypatch)
    assert ingest_all(settings, "after-upgrade") == []
    assert len(hashed) == len(scan_landing(settings.landing_dir))
    assert warehouse_state(settings) == before
    hashed.clear()
    assert ingest_all(settings, "next-night") == [] and hashed == []


def _rewrite(path: Path, fn) -> None:
    path.write_bytes(fn(path.read_bytes()))


def _bad_cell(column: int, value: str, line: int = 5):
    def fn(data: bytes) -> bytes:
        lines = data.decode("utf-8-sig").splitlines()
        cells = lines[line - 1].split(",")
        cells[column] = value
        lines[line - 1] = ",".join(cells)
        return ("\n".join(lines) + "\n").encode()
    return fn


def test_misnamed_file_is_quarantined(settings):
    stray = settings.landing_dir / "sis" / "studnets_20201207.csv"
    stray.write_text("a,b\n1,2\n")
    (result,) = ingest(settings, "strays", strays=True)
    assert result.status == "quarantined" and "known extract" in result.reason
    assert (settings.quarantine_dir / "sis" / "studnets_20201207.csv").exists()


def test_header_names_match_case_insensitively_after_trimming(tmp_path, settings):
    path = settings.landing_dir / "partners" / "partnerships_20200615.csv"
    lines = path.read_text().splitlines()
    lines[0] = " School_ID ,SCHOOL_YEAR,Partner_Name , in_opportunity_portfolio"
    path.write_text("\n".join(lines) + "\n")
    (result,) = ingest(settings, "case", BY_KEY[("partners", "partnerships")])
    assert result.status == "loaded"


def _loader(con, settings, load_id: str, before_execute) -> Loader:
    """A Loader on `con` whose every statement first goes through before_execute(sql), which may
    record it or raise a simulated failure."""
    loader = Loader(con, settings.quarantine_dir, settings.tmp_dir, load_id)

    def execute(sql, *args):
        before_execute(sql)
        return con.execute(sql, *args)

    loader.con = type("C", (), {"execute": staticmethod(execute)})()
    return loader


def _fail_on(prefix: str, error: Exception, containing: str = ""):
    def before_execute(sql):
        if sql.startswith(prefix) and containing in sql:
            raise error
    return before_execute


def test_a_batch_loads_in_one_transaction(settings):
    """Files of one extract load together; a failure after the insert rolls the whole batch back."""
    files = [f for f in scan_landing(settings.landing_dir) if f.extract == "signins"]
    assert len(files) > 1
    with connect(settings) as con:
        loader = _loader(con, settings, "tx", _fail_on("INSERT INTO raw._load_log", duckdb.IOException("disk full (simulated)")))
        with pytest.raises(duckdb.IOException):
            loader.load_all(files)
        assert con.execute("SELECT count(*) FROM raw.staff__signins").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM raw._load_log").fetchone()[0] == 0


def test_a_failure_that_is_not_the_files_fault_quarantines_nothing(settings):
    """Out of memory during the bulk insert rolls back and fails the load: the files stay in the
    landing folder for the next run instead of being quarantined as if they were broken."""
    files = [f for f in scan_landing(settings.landing_dir) if f.extract == "signins"]
    with connect(settings) as con:
        loader = _loader(con, settings, "oom", _fail_on(  # the bulk insert
            "INSERT INTO raw.staff__signins", duckdb.OutOfMemoryException("could not allocate (simulated)"), "read_csv"))
        with pytest.raises(duckdb.OutOfMemoryException):
            loader.load_all(files)
        assert con.execute("SELECT count(*) FROM raw._load_log").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM raw._rejections").fetchone()[0] == 0
    assert all(f.path.exists() for f in files) and not settings.quarantine_dir.exists()


def test_out_of_memory_while_staging_a_bad_file_quarantines_nothing(settings):
    """The careful way's text staging too: only a CSV or encoding error is the file's fault."""
    bad = settings.landing_dir / "staff" / "signins_20201210.csv"
    shutil.copy(sorted(bad.parent.glob("signins_*.csv"))[-1], bad)
    _rewrite(bad, _bad_cell(2, "soon", line=7))
    (f,) = [f for f in scan_landing(settings.landing_dir) if f.path == bad]
    with connect(settings) as con:
        loader = _loader(con, settings, "oom", _fail_on(
            "CREATE OR REPLACE TEMP TABLE _stage", duckdb.OutOfMemoryException("could not allocate (simulated)")))
        with pytest.raises(duckdb.OutOfMemoryException):
            loader.load_all([f])
    assert bad.exists() and not settings.quarantine_dir.exists()


def _header_only(data: bytes) -> bytes:
    return data.splitlines(keepends=True)[0]


@pytest.mark.parametrize("breaker,reason", [
    (_bad_cell(2, "soon", line=7), "line 7, column sign_in_time: 'soon' is not a time"),
    (_header_only, "file has a header but no data rows"),
], ids=["bad-row", "header-only"])
def test_a_bad_file_in_a_batch_leaves_the_good_ones_loading(settings, breaker, reason):
    """The bulk insert refuses the batch; file by file, the bad one alone is quarantined with its
    reason and the good one loads."""
    ingest_all(settings)
    before = warehouse_state(settings)
    source = settings.landing_dir / "staff"
    template = sorted(source.glob("signins_*.csv"))[-1]
    good, bad = source / "signins_20201209.csv", source / "signins_20201210.csv"
    shutil.copy(template, good)
    shutil.copy(template, bad)
    _rewrite(bad, breaker)
    results = ingest(settings, "mixed", BY_KEY[("staff", "signins")])
    assert [(r.file, r.status) for r in results] == [("staff/signins_20201209.csv", "loaded"),
                                                       ("staff/signins_20201210.csv", "quarantined")]
    assert reason in results[1].reason
    after = warehouse_state(settings)
    rows = results[0].rows
    assert rows == len(template.read_text().splitlines()) - 1  # the file's own data lines
    assert rows > 0 and after["staff__signins"] == before["staff__signins"] + rows
    with connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw.staff__signins WHERE _file_name = 'signins_20201210.csv'").fetchone()[0] == 0
        assert con.execute("SELECT list(DISTINCT _extract_date::VARCHAR) FROM raw.staff__signins "
                           "WHERE _file_name = 'signins_20201209.csv'").fetchone()[0] == ["2020-12-09"]
        assert con.execute("SELECT rows FROM raw._load_log WHERE file_name = 'signins_20201209.csv'").fetchone()[0] == rows


def test_a_broken_replacement_keeps_the_earlier_rows(settings):
    """A changed file with the same name replaces its earlier rows inside the insert's transaction;
    when a row of it breaks the contract, the transaction rolls back and the earlier rows, their
    load log entry and their snapshot index entries stay."""
    ingest_all(settings)
    with connect(settings, read_only=True) as con:
        index_before = _index(con)
    before = warehouse_state(settings)
    path = sorted((settings.landing_dir / "sis").glob("course_marks_*.csv"))[-1]
    _rewrite(path, _bad_cell(3, "soon", line=4))  # term
    (result,) = ingest(settings, "bad-replacement", BY_KEY[("sis", "course_marks")])
    assert result.status == "quarantined" and "line 4, column term: 'soon'" in result.reason
    assert warehouse_state(settings) == before
    with connect(settings, read_only=True) as con:
        assert _index(con) == index_before
        assert con.execute("SELECT count(*) FROM raw.sis__course_marks WHERE _file_name = ?", [path.name]).fetchone()[0] > 0


def test_clean_files_are_read_once(settings):
    """A batch of clean files is one read of the CSV files, inserted as it is read: no staged copy."""
    files = [f for f in scan_landing(settings.landing_dir) if f.extract == "signins"]
    assert len(files) > 1
    statements = []
    with connect(settings) as con:
        results = _loader(con, settings, "once", statements.append).load_all(files)
    assert {r.status for r in results} == {"loaded"}
    reads = [s for s in statements if "read_csv" in s]
    assert len(reads) == 1 and reads[0].startswith("INSERT INTO raw.staff__signins")
    assert not [s for s in statements if "TEMP TABLE" in s]


def test_the_ingest_step_loads_the_selected_extracts_and_reports_a_failing_one(settings, monkeypatch):
    """One Dagster step loads every extract on one connection. An unexpected failure in one extract
    fails the step with the extract's name and why, and every other extract still loads."""
    import dagster as dg

    from bps_pipeline.ingest.assets import DAY_INDEX, SNAPSHOT_INDEX, ingest, raw_key

    students, signins = BY_KEY[("sis", "students")], BY_KEY[("staff", "signins")]
    from bps_pipeline.warehouse_lock import WarehouseLock

    resources = {"warehouse_lock": WarehouseLock()}
    only = dg.materialize([ingest], selection=[raw_key(students)], resources=resources)
    assert only.success
    assert [m.asset_key for m in only.asset_materializations_for_node("ingest")] == [raw_key(students)]
    assert warehouse_state(settings)["staff__signins"] == 0, "an unselected extract is not loaded"

    real = Loader.pending

    def pending(self, files):
        if files and files[0].extract == "signins":
            raise OSError("landing share went away (simulated)")
        return real(self, files)

    monkeypatch.setattr(Loader, "pending", pending)
    result = dg.materialize([ingest], raise_on_error=False, resources=resources)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "raw/staff__signins (landing share went away (simulated))" in message
    loaded = {m.asset_key: m for m in result.asset_materializations_for_node("ingest")}
    assert raw_key(signins) not in loaded and len(loaded) == len(EXTRACTS) + 2  # the 17 others, strays, 2 indexes
    # each index reports the files it took in: every snapshot file but the students' (loaded
    # before), every daily file but the sign-ins' (failed)
    kinds = [getattr(BY_KEY.get((f.source, f.extract)), "kind", None) for f in scan_landing(settings.landing_dir)
             if f.extract not in ("students", "signins")]
    assert loaded[SNAPSHOT_INDEX].metadata["snapshot_files_indexed"].value == kinds.count("snapshot") > 0
    assert loaded[DAY_INDEX].metadata["daily_files_indexed"].value == kinds.count("daily") > 0
    state = warehouse_state(settings)
    assert state["staff__signins"] == 0 and all(state[e.key] > 0 for e in EXTRACTS if e is not signins)

"""Contract-checked, idempotent loads of landing files into `raw.<source>__<extract>`.

New files of one extract that share a header are read together by one DuckDB `read_csv` and
inserted straight into the raw table, every value typed in the read and the rows stamped with
file, extract date, load id and load time, in one transaction that records them in
`raw._load_log`; a row that breaks the contract stops that insert. A batch the bulk insert refuses
is tried file by file, and a file it refuses alone (a broken row, a CSV error, not UTF-8, no data
rows) goes the careful way: staged as text, checked rule by rule, and either loaded or moved to
quarantine beside a one-line reason, with nothing of it loaded. Loading an unchanged file again is
a no-op; a changed file with the same name replaces its earlier rows. The same transaction records
which school years each snapshot file holds in `raw._snapshots`, and which days each daily file
holds in `raw._days`, so staging finds the newest snapshot per school year and the newest file per
day without reading the raw tables' whole history.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import stat
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from bps_pipeline.ingest.contract import (
    BY_KEY, DATE, FLAG, INT, NUMBER, TEXT, TIME, TIMESTAMP, Column, Extract, EXTRACTS,
)
from bps_pipeline.warehouse import sql_path

FILE_NAME = re.compile(r"^(?P<extract>[a-z][a-z0-9_]*)_(?P<date>\d{8})\.csv$", re.IGNORECASE)
TRUE_FLAGS, FALSE_FLAGS = ("Y", "1", "TRUE"), ("N", "0", "FALSE")
META_COLUMNS = "_file_name VARCHAR, _extract_date DATE, _load_id VARCHAR, _loaded_at TIMESTAMP"
# the contract's numbers: exact (a DOUBLE's sum depends on the order DuckDB's threads add the rows
# in, so two builds of the same files could differ in the last digit); 12 digits before the point,
# 6 after (more decimals are rounded to 6)
NUMBER_SQL = "DECIMAL(18,6)"
# each kind of extract's index of its files (index_files): the table and what a file's rows are counted by
FILE_INDEXES = {"snapshot": ("raw._snapshots", "school_year INTEGER"), "daily": ("raw._days", "day DATE")}


# what a file that is not CSV text starts with, and what it is
NOT_TEXT = ((b"\x1f\x8b", "gzip-compressed data"), (b"PK\x03\x04", "a zip archive (an .xlsx workbook is one)"),
            (b"\xd0\xcf\x11\xe0", "an Office 97-2003 document (.xls)"), (b"%PDF", "a PDF document"),
            (b"BZh", "bzip2-compressed data"), (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
            (b"\xff\xfe", "UTF-16 text (little-endian byte-order mark)"),
            (b"\xfe\xff", "UTF-16 text (big-endian byte-order mark)"))
# bytes a Windows-1252 file never holds (undefined there); with valid UTF-8 sequences elsewhere in the
# same file they mean a mix of encodings, which no single reading makes right
UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


class _NotUtf8(Exception):
    pass


@dataclass(frozen=True)
class _Scan:
    """One read of a file's bytes: its hash, its modification time before the read, and where
    (byte, line) the first NUL byte is, if any."""
    sha256: str
    modified_ns: int
    nul_at: tuple[int, int] | None


class _Refused(Exception):
    """The bulk insert refused the data (see Loader._insert)."""


class ContractError(Exception):
    """The file breaks the contract; str() is the one-line reason."""


class RetypeError(Exception):
    """A raw column's rows do not fit the contract's new type for it; str() says which and why."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    source: str
    extract: str
    extract_date: date | None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def label(self) -> str:
        return f"{self.source}/{self.name}"


@dataclass
class _Checked:
    """A file past the cheap checks (name, size, hash, header), ready to be read."""
    file: LandingFile
    extract: Extract
    sha: str
    size: int
    names: list[str]
    encoding: str
    drift: list[str]
    loaded_before: bool
    modified_ns: int


@dataclass
class LoadResult:
    file: str
    status: str  # loaded | replaced | unchanged | quarantined
    rows: int = 0
    reason: str = ""
    encoding: str = "utf-8"
    drift: list[str] = field(default_factory=list)


def scan_landing(landing_dir: Path) -> list[LandingFile]:
    """Every candidate file under landing/<source>/, in a stable order (oldest extract first): the
    regular files, and anything else named like a .csv (a directory, a pipe, a broken or outside
    link), which ingest then rejects with its reason rather than passing over in silence."""
    files = []
    if not landing_dir.exists():
        return files
    for path in sorted(landing_dir.glob("*/*")):
        if path.name.startswith(".") or path.name.endswith((".tmp", ".part")):
            continue
        if not path.is_file() and not path.name.lower().endswith(".csv"):
            continue  # a folder of the source's own (an archive, say)
        m = FILE_NAME.match(path.name)
        files.append(LandingFile(path, path.parent.name, m["extract"].lower() if m else "", extract_date_of(path.name)))
    return sorted(files, key=lambda f: (f.extract_date or date.min, f.source, f.name))


def extract_date_of(file_name: str) -> date | None:
    """The extract date a file's name gives (`<extract>_<YYYYMMDD>.csv`); None when it gives none
    or not a real date."""
    m = FILE_NAME.match(file_name)
    try:
        return datetime.strptime(m["date"], "%Y%m%d").date() if m else None
    except ValueError:
        return None


@dataclass(frozen=True)
class LastLoad:
    """A landing file's newest row in the load log."""
    sha256: str
    size_bytes: int
    modified_ns: int | None  # None: logged before modification times were

    def same_size_and_time(self, stat) -> bool:
        """The quick check (make's and rsync's): size and modification time as at the last load
        means the file is taken as unchanged without reading it."""
        return (self.size_bytes, self.modified_ns) == (stat.st_size, stat.st_mtime_ns)


def last_loads(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], LastLoad]:
    """(source, file name) -> its last load. Also reads a read-only warehouse from before the log
    or its modified_ns column existed (the landing sensor's), where ensure_raw_schema cannot run."""
    columns = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' AND table_name = '_load_log'").fetchall()}
    if not columns:
        return {}
    mtime = "arg_max(modified_ns, loaded_at)" if "modified_ns" in columns else "NULL"
    return {(s, f): LastLoad(sha, size, modified) for s, f, sha, size, modified in con.execute(
        f"SELECT source, file_name, arg_max(sha256, loaded_at), arg_max(size_bytes, loaded_at), {mtime} "
        "FROM raw._load_log GROUP BY 1, 2").fetchall()}


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Create what is missing of the raw schema and give its columns the contract's types; returns
    the columns retyped, by table (retype_raw_columns)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("""CREATE TABLE IF NOT EXISTS raw._load_log (
        load_id VARCHAR, file_name VARCHAR, source VARCHAR, extract VARCHAR, extract_date DATE,
        sha256 VARCHAR, size_bytes BIGINT, rows BIGINT, encoding VARCHAR, drift_columns VARCHAR,
        status VARCHAR, loaded_at TIMESTAMP, modified_ns BIGINT)""")
    # warehouses made before the file's modification time was logged (pending()'s quick check)
    con.execute("ALTER TABLE raw._load_log ADD COLUMN IF NOT EXISTS modified_ns BIGINT")
    con.execute("""CREATE TABLE IF NOT EXISTS raw._rejections (
        load_id VARCHAR, file_name VARCHAR, source VARCHAR, reason VARCHAR, quarantine_path VARCHAR,
        rejected_at TIMESTAMP)""")
    for ex in EXTRACTS:
        cols = ", ".join(f'"{name}" {typ}' for name, typ in raw_column_types(ex).items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {ex.table} ({cols}, {META_COLUMNS})")
    retyped = retype_raw_columns(con)
    complete = {t for (t,) in con.execute("SELECT table_schema || '.' || table_name FROM information_schema.columns "
                                          "WHERE table_schema = 'raw' AND column_name = 'loaded_at'").fetchall()}
    for kind, (table, _) in FILE_INDEXES.items():
        if table not in complete:  # a new warehouse, or one from before the index or its load times
            _build_index(con, kind)
    return retyped


def _build_index(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """(Re)create the index of one kind of extract from every file its raw tables hold, in one
    transaction: a process stopped halfway leaves no index that looks complete and is not."""
    table, part = FILE_INDEXES[kind]
    con.execute("BEGIN")
    try:
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TABLE {table} (source VARCHAR, extract VARCHAR, file_name VARCHAR, {part}, "
                    "extract_date DATE, rows BIGINT, loaded_at TIMESTAMP)")
        for ex in EXTRACTS:
            if ex.kind == kind:
                index_files(con, ex)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def retype_raw_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Give the raw tables' columns the contract's types where a warehouse from an earlier contract
    has others (numbers were DOUBLE), converting the rows they hold, all in one transaction.
    Returns what changed by table, each as `table.column: old -> new`. A value that does not
    convert stops it with the column named and leaves every table as it was. The raw types are part
    of the code record (transform/full_refresh.py), so the next dbt build after a change is a full one."""
    have = {(f"raw.{t}", c): typ for t, c, typ in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'raw'").fetchall()}
    changes = [(ex.table, name, have[(ex.table, name)], typ) for ex in EXTRACTS
               for name, typ in raw_column_types(ex).items()
               if (ex.table, name) in have and have[(ex.table, name)] != typ]
    if not changes:
        return {}
    con.execute("BEGIN")
    try:
        for table, name, old, new in changes:
            try:
                con.execute(f'ALTER TABLE {table} ALTER COLUMN "{name}" SET DATA TYPE {new}')
            except duckdb.Error as e:
                raise RetypeError(f"{table}.{name}: cannot change its type from {old} to the contract's {new} "
                                  f"({str(e).splitlines()[0]}); the warehouse is unchanged") from e
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    retyped: dict[str, list[str]] = {}
    for table, name, old, new in changes:
        retyped.setdefault(table, []).append(f"{table}.{name}: {old} -> {new}")
    return retyped


def index_files(con: duckdb.DuckDBPyConnection, ex: Extract, loaded_at: datetime | None = None,
                files: list[str] | None = None) -> dict[str, int]:
    """Record the files of an extract (all, or `files` loaded at `loaded_at`) in its index, with
    their load time: a snapshot file's rows per school year in raw._snapshots, a daily file's rows
    per day in raw._days. Returns the rows indexed per file, so a load counts its new rows in this
    one scan of them.

    Staging reads these small tables instead of grouping the raw tables, whose history grows every
    night (newest_snapshot, daily_extract_days). The snapshot index's load time also tells the
    models rebuilt by school year that a year's snapshot changed, also when the same file is sent
    again. school_year is NULL where the extract has no year column: staging takes the school year
    of the extract date."""
    table = FILE_INDEXES[ex.kind][0]
    if ex.kind == "daily":
        part = f'"{ex.day_column}"'
    else:
        part = f'"{ex.year_column}"' if ex.year_column else "NULL"
    where, args = "", []
    if files is not None:  # the load time first: its zone maps skip every earlier load's rows
        where = f"WHERE _loaded_at = ? AND _file_name IN ({', '.join('?' for _ in files)})"
        args = [loaded_at, *files]
    rows: dict[str, int] = {}
    for file_name, n in con.execute(
            f"INSERT INTO {table} SELECT '{ex.source}', '{ex.name}', _file_name, {part}, _extract_date, "
            f"count(*), _loaded_at FROM {ex.table} {where} GROUP BY ALL RETURNING file_name, rows", args).fetchall():
        rows[file_name] = rows.get(file_name, 0) + n  # a file's rows of each school year or day it holds
    return rows


def insert_csv(con: duckdb.DuckDBPyConnection, ex: Extract, names: list[str], files: list[tuple[str, str, date]],
               load_id: str, loaded_at: datetime, checked: bool = True) -> None:
    """INSERT the rows of CSV files that share one header (`names`) into the extract's raw table,
    typed as they are read and stamped with file name, extract date, load id and load time; files
    are (path to read, file name, extract date). Checked, a row that breaks the contract stops the
    insert: the first value is DuckDB's error() where any rule fails (an InvalidInputException, as
    a CSV error or bytes that are not UTF-8 raise). The bench's floor inserts unchecked."""
    position = {n: f"c{i}" for i, n in enumerate(names)}
    present = [c for c in ex.columns if c.name in position]
    # each value trimmed and typed once, in the inner select; the rules read those results
    inner = ", ".join(f'{_v(position[c.name])} AS "_text_{c.name}", {_parsed(c, position[c.name])} AS "{c.name}"'
                      for c in present)
    values = [f'"{c.name}"' for c in present]
    if checked:
        rules = _rules(ex, lambda c: f'"_text_{c.name}"', lambda c: f'"{c.name}"', present)
        broken = " OR ".join(f"({pred})" for _, _, pred in rules) or "false"
        values[0] = f"CASE WHEN {broken} THEN error('a row breaks the contract') ELSE {values[0]} END"
    paths = "[" + ", ".join(f"'{sql_path(path)}'" for path, _, _ in files) + "]"
    cols = ", ".join(f'"{c.name}"' for c in present)
    con.execute(
        f"INSERT INTO {ex.table} ({cols}, _file_name, _extract_date, _load_id, _loaded_at) "
        f"SELECT {', '.join(values)}, f.name, f.extract_date, ?, ? "
        f"FROM (SELECT {inner}, filename FROM read_csv({paths}, {_csv_options(len(names))}, filename=true)) r "
        f"JOIN (VALUES {', '.join('(?, ?, ?::DATE)' for _ in files)}) AS f(src, name, extract_date) ON r.filename = f.src",
        [load_id, loaded_at, *(v for f in files for v in f)])


def has_repeated_key(con: duckdb.DuckDBPyConnection, ex: Extract, loaded_at: datetime, files: list[str]) -> bool:
    """Whether two rows of one of these just-loaded files share the extract's key."""
    keys = ", ".join(f'"{k}"' for k in ex.unique_key)
    present = " AND ".join(f'"{k}" IS NOT NULL' for k in ex.unique_key)
    return con.execute(
        f"SELECT 1 FROM {ex.table} WHERE _loaded_at = ? AND _file_name IN ({', '.join('?' for _ in files)}) "
        f"AND {present} GROUP BY _file_name, {keys} HAVING count(*) > 1 LIMIT 1", [loaded_at, *files]).fetchone() is not None


def forget_file(con: duckdb.DuckDBPyConnection, ex: Extract, file_name: str) -> None:
    """Delete a file's earlier load (its rows and its index entries) before loading it again."""
    con.execute(f"DELETE FROM {ex.table} WHERE _file_name = ?", [file_name])
    con.execute(f"DELETE FROM {FILE_INDEXES[ex.kind][0]} WHERE source = ? AND extract = ? AND file_name = ?",
                [ex.source, ex.name, file_name])


def _sql_type(col: Column) -> str:
    return {DATE: "DATE", FLAG: "BOOLEAN", INT: "BIGINT", NUMBER: NUMBER_SQL, TIME: "TIME",
            TIMESTAMP: "TIMESTAMP"}.get(col.type if isinstance(col.type, str) else TEXT, "VARCHAR")


def raw_column_types(ex: Extract) -> dict[str, str]:
    """The SQL type of each of the extract's columns in its raw table."""
    return {c.name: _sql_type(c) for c in ex.columns}


def _v(col: str) -> str:
    return f"nullif(trim({col}), '')"


def _parsed(col: Column, src: str) -> str:
    """SQL that turns the text value into the column's type (NULL when it cannot)."""
    v = _v(src)
    t = col.type
    if isinstance(t, tuple):  # allowed values, matched case-insensitively, stored canonically
        cases = " ".join(f"WHEN '{a.lower()}' THEN '{a}'" for a in t)
        return f"CASE lower({v}) {cases} END"
    return {
        TEXT: v,
        DATE: f"coalesce(try_strptime({v}, '%Y-%m-%d'), try_strptime({v}, '%m/%d/%Y'))::DATE",
        FLAG: f"CASE WHEN upper({v}) IN {TRUE_FLAGS} THEN true WHEN upper({v}) IN {FALSE_FLAGS} THEN false END",
        INT: f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+') THEN try_cast({v} AS BIGINT) END",  # not 12.5 or 1e3
        NUMBER: f"try_cast({v} AS {NUMBER_SQL})",
        TIME: f"coalesce(try_strptime({v}, '%H:%M:%S'), try_strptime({v}, '%H:%M'))::TIME",
        TIMESTAMP: f"try_cast({v} AS TIMESTAMP)",
    }[t]


def _rules(ex: Extract, text_of, typed_of, present: list[Column]) -> list[tuple[str, str, str]]:
    """(column, what is wrong, SQL predicate true on a breaking row) for every present column;
    text_of and typed_of give a column's trimmed text (NULL when blank) and its typed value."""
    rules = []
    for c in present:
        if c.not_blank:
            rules.append((c.name, "is blank", f"{text_of(c)} IS NULL"))
        if c.type != TEXT:
            rules.append((c.name, f"is not {_rule(c)}", f"{text_of(c)} IS NOT NULL AND {typed_of(c)} IS NULL"))
    return rules


def _rule(col: Column) -> str:
    t = col.type
    if isinstance(t, tuple):
        return "one of " + ", ".join(t)
    return {TEXT: "text", DATE: "a date (YYYY-MM-DD or MM/DD/YYYY)", FLAG: "a flag (Y/N, 1/0, TRUE/FALSE)",
            INT: "a whole number", NUMBER: "a number under a trillion", TIME: "a time (HH:MM:SS)",
            TIMESTAMP: "a timestamp (YYYY-MM-DD HH:MM:SS)"}[t]


def _scan(path: Path) -> _Scan:
    """Hash a file and find its first NUL byte, in one read."""
    modified_ns = path.stat().st_mtime_ns  # before the read: a rewrite during it shows next run
    h, offset, lines, nul_at = hashlib.sha256(), 0, 0, None
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            if nul_at is None:
                at = chunk.find(b"\x00")
                if at >= 0:
                    nul_at = (offset + at, lines + chunk.count(b"\n", 0, at) + 1)
                else:
                    lines += chunk.count(b"\n")
            offset += len(chunk)
    return _Scan(h.hexdigest(), modified_ns, nul_at)


def read_header(path: Path) -> tuple[list[str], str]:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    line = head.splitlines()[0] if head else b""
    try:
        text, encoding = line.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = line.decode("cp1252", errors="replace"), "windows-1252"
    return next(csv.reader(io.StringIO(text)), []), encoding


def _csv_errors(message: str) -> str:
    """DuckDB's CSV error, cut to the line and the rule."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    cols = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
    if line and cols:
        return (f"line {line[1]}: expected {cols[1]} fields, found {cols[2]} "
                "(truncated or malformed row)")
    # DuckDB's explanation sits between the original line and its "Possible fixes"
    why = re.search(r"Original Line:.*?\n\n(.+?)\n\n", message, re.S)
    said = why[1].strip().rstrip(".").lower() if why else message.strip().splitlines()[0]
    if "unterminated quote" in said:
        said += " (a quoted field never closes: the file may be cut short)"
    return f"line {line[1]}: {said}" if line else said


class Loader:
    """Loads landing files into one open warehouse connection; one instance per ingest step."""

    def __init__(self, con: duckdb.DuckDBPyConnection, quarantine_dir: Path, tmp_dir: Path, load_id: str,
                 landing_dir: Path | None = None):
        self.con, self.quarantine_dir, self.tmp_dir, self.load_id = con, quarantine_dir, tmp_dir, load_id
        self.landing_dir = landing_dir
        self._scans: dict[Path, _Scan] = {}  # one read of each file per step
        self.retyped = ensure_raw_schema(con)  # by table, `raw.table.column: old -> new`, for the step's log

    def _scan(self, path: Path) -> _Scan:
        if path not in self._scans:
            self._scans[path] = _scan(path)
        return self._scans[path]

    def _hash(self, path: Path) -> str:
        return self._scan(path).sha256

    def pending(self, files: list[LandingFile]) -> list[LandingFile]:
        """Files whose name and content are not in the load log.

        Files stay in the landing folder, so hashing every one every night would cost more each
        night of the year. A file that passes the quick check (LastLoad.same_size_and_time) is not
        read; any other of the same size is hashed. A hashed file found unchanged (touched, or
        logged before modification times were) gets its time logged, so it is not read again and
        the landing sensor, which uses the same check, stops seeing it as new."""
        known = last_loads(self.con)
        out, touched = [], []
        for f in files:
            prev = known.get((f.source, f.name))
            try:
                stat = f.path.stat()
            except OSError:  # a broken link, say: the precheck says what is wrong with it
                out.append(f)
                continue
            if prev is None or prev.size_bytes != stat.st_size or not f.path.is_file():
                out.append(f)
            elif not prev.same_size_and_time(stat):
                if prev.sha256 != self._hash(f.path):
                    out.append(f)
                else:
                    touched.append((self._scan(f.path).modified_ns, f.source, f.name))
        if touched:
            self.con.executemany(
                "UPDATE raw._load_log l SET modified_ns = ? WHERE source = ? AND file_name = ? AND loaded_at = "
                "(SELECT max(loaded_at) FROM raw._load_log m WHERE m.source = l.source AND m.file_name = l.file_name)",
                touched)
        return out

    BATCH_BYTES = 256 << 20  # files inserted per transaction: a bounded transaction, and retry when refused

    def load(self, f: LandingFile) -> LoadResult:
        (result,) = self.load_all([f])
        return result

    def load_all(self, files: list[LandingFile]) -> list[LoadResult]:
        """Load files in bulk where they share an extract and a header; one result per file."""
        results: dict[Path, LoadResult] = {}
        batches: dict[tuple, list[_Checked]] = {}
        for f in files:
            try:
                checked = self._precheck(f)
            except ContractError as err:
                results[f.path] = self._quarantine(f, str(err))
                continue
            if checked is None:
                results[f.path] = LoadResult(f.label, "unchanged")
            elif checked.encoding != "utf-8":
                results[f.path] = self._load_one(checked)
            else:
                batches.setdefault((checked.extract.key, tuple(checked.names)), []).append(checked)
        for batch in batches.values():
            for part in _split(batch, self.BATCH_BYTES):
                results.update(self._load_batch(part))
        return [results[f.path] for f in files]

    # -- the steps ---------------------------------------------------------------------------

    def _precheck(self, f: LandingFile) -> _Checked | None:
        """The checks that need no read of the data; None when the file is already loaded as is."""
        ex = BY_KEY.get((f.source, f.extract))
        if ex is None:
            known = ", ".join(sorted({f"{e.source}/{e.name}" for e in EXTRACTS}))
            raise ContractError(f"file name: not <extract>_<YYYYMMDD>.csv of a known extract ({known})")
        if f.extract_date is None:
            raise ContractError("file name: the date part is not a real YYYYMMDD date")
        if f.extract_date > date.today():
            raise ContractError(f"file name: its extract date {f.extract_date} is in the future")
        self._check_file_itself(f)
        size = f.path.stat().st_size
        if size == 0:
            raise ContractError("file is empty (0 bytes): expected a header row and data rows")
        try:
            scan = self._scan(f.path)
            with open(f.path, "rb") as fh:
                start = fh.read(8)
        except OSError as err:
            raise ContractError(f"file cannot be read: {err.strerror or err}") from None
        kind = next((what for magic, what in NOT_TEXT if start.startswith(magic)), None)
        if kind:
            raise ContractError(f"file is {kind}, not CSV text (it starts with bytes {start[:4].hex(' ')}); "
                                "export it as CSV")
        if scan.nul_at:
            raise ContractError(f"line {scan.nul_at[1]}: a NUL byte (0x00) at byte {scan.nul_at[0]}: "
                                "the file is not text, or was cut or corrupted in transfer")
        sha = scan.sha256
        prev = self.con.execute(
            "SELECT arg_max(sha256, loaded_at) FROM raw._load_log WHERE source = ? AND file_name = ?",
            [f.source, f.name]).fetchone()[0]
        if prev == sha:
            return None
        header, encoding = read_header(f.path)
        names = [h.strip().lower() for h in header]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ContractError(f"header: column(s) {', '.join(dupes)} appear more than once")
        missing = [c.name for c in ex.required if c.name not in names]
        if missing:
            raise ContractError(f"header: required column(s) {', '.join(missing)} missing "
                                f"(found: {', '.join(names)})")
        drift = [n for n in names if n not in {c.name for c in ex.columns}]
        return _Checked(f, ex, sha, size, names, encoding, drift, loaded_before=prev is not None,
                        modified_ns=scan.modified_ns)

    def _check_file_itself(self, f: LandingFile) -> None:
        """What the landing folder's entry is: a regular file, or a link to one inside the folder."""
        path = f.path
        if path.is_symlink():
            try:
                target = Path(os.path.realpath(path, strict=True))
            except FileNotFoundError:
                raise ContractError(f"file is a symbolic link to {os.path.realpath(path)}, which does not exist") from None
            except OSError as err:  # a loop of links
                raise ContractError(f"file cannot be read: {err.strerror or err}") from None
            if self.landing_dir is not None and not target.is_relative_to(os.path.realpath(self.landing_dir)):
                raise ContractError(f"file is a symbolic link to {target}, outside the landing folder: not read")
        try:
            mode = path.stat().st_mode
        except OSError as err:
            raise ContractError(f"file cannot be read: {err.strerror or err}") from None
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else "not a regular file"
            raise ContractError(f"file is {kind}, not a file of data")

    def _load_batch(self, batch: list[_Checked]) -> dict[Path, LoadResult]:
        """One read and one transaction for files sharing a header. A batch the bulk insert refuses
        is tried file by file, and a file it refuses alone goes the careful way (_load_one), which
        finds the precise reason."""
        results = self._insert(batch)
        if results is not None:
            return results
        if len(batch) > 1:
            return {path: r for c in batch for path, r in self._load_batch([c]).items()}
        return {batch[0].file.path: self._load_one(batch[0])}

    def _insert(self, batch: list[_Checked]) -> dict[Path, LoadResult] | None:
        """The batch inserted by insert_csv (checked) in one transaction with the load log and the
        file index; None, with nothing loaded, when the data is refused (a row breaks the
        contract, a CSV error, bytes that are not UTF-8) or a file has no data rows. Any other error
        (out of memory, a full disk) rolls back and is raised: it is not the file's fault, so no
        quarantine. A clean file is read and written once; only a refused one is read again."""
        ex, names = batch[0].extract, [c.file.name for c in batch]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.con.execute("BEGIN")
        try:
            for c in batch:
                if c.loaded_before:
                    forget_file(self.con, ex, c.file.name)
            try:
                insert_csv(self.con, ex, batch[0].names,
                           [(str(c.file.path), c.file.name, c.file.extract_date) for c in batch], self.load_id, now)
            except duckdb.InvalidInputException as err:
                raise _Refused() from err
            rows = index_files(self.con, ex, now, names)  # the new rows, counted as indexed
            if not all(rows.get(n) for n in names):  # a header and no data rows
                raise _Refused()
            if ex.unique_key and has_repeated_key(self.con, ex, now, names):
                raise _Refused()
            for c in batch:
                self._log(c, rows[c.file.name], now)
            self.con.execute("COMMIT")
        except _Refused:
            self.con.execute("ROLLBACK")
            return None
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        return {c.file.path: LoadResult(c.file.label, "replaced" if c.loaded_before else "loaded", rows[c.file.name],
                                        encoding=c.encoding, drift=c.drift) for c in batch}

    def _log(self, c: _Checked, rows: int, now: datetime) -> None:
        f = c.file
        self.con.execute(
            "INSERT INTO raw._load_log (load_id, file_name, source, extract, extract_date, sha256, size_bytes, "
            "rows, encoding, drift_columns, status, loaded_at, modified_ns) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [self.load_id, f.name, f.source, f.extract, f.extract_date, c.sha, c.size, rows, c.encoding,
             ",".join(c.drift) or None, "replaced" if c.loaded_before else "loaded", now, c.modified_ns])

    def _load_one(self, c: _Checked) -> LoadResult:
        """The careful way for one file: staged as text, checked rule by rule, loaded or quarantined."""
        try:
            return self._load_staged(c)
        except ContractError as err:
            return self._quarantine(c.file, str(err))

    def _load_staged(self, c: _Checked) -> LoadResult:
        f, ex = c.file, c.extract
        encoding = self._stage_file(f, len(c.names), c.encoding)
        rows = self.con.execute("SELECT count(*) FROM _stage").fetchone()[0]
        if rows == 0:
            raise ContractError("file has a header but no data rows")
        position = {n: f"c{i}" for i, n in enumerate(c.names)}
        self._check(ex, position)
        self._check_key(ex, position)
        c.encoding = encoding
        present = [col for col in ex.columns if col.name in position]
        cols = ", ".join(f'"{col.name}"' for col in present)
        exprs = ", ".join(_parsed(col, position[col.name]) for col in present)
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        self.con.execute("BEGIN")
        try:
            if c.loaded_before:
                forget_file(self.con, ex, f.name)
            self.con.execute(
                f"INSERT INTO {ex.table} ({cols}, _file_name, _extract_date, _load_id, _loaded_at) "
                f"SELECT {exprs}, ?, ?, ?, ? FROM _stage",
                [f.name, f.extract_date, self.load_id, now])
            index_files(self.con, ex, now, [f.name])
            self._log(c, rows, now)
            self.con.execute("COMMIT")
        except Exception:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.execute("DROP TABLE IF EXISTS _stage")
        return LoadResult(f.label, "replaced" if c.loaded_before else "loaded", rows, encoding=encoding, drift=c.drift)

    def _stage_file(self, f: LandingFile, n: int, header_encoding: str) -> str:
        """Stage the file as text; a file that is not UTF-8 is read as Windows-1252 (returned)."""
        if header_encoding == "utf-8":
            try:
                self._stage(f.path, n)
                return "utf-8"
            except _NotUtf8:
                pass
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"{self.load_id}_{f.source}_{f.name}"
        data = f.path.read_bytes()
        line_of = lambda at: data.count(b"\n", 0, at) + 1  # noqa: E731
        try:
            data.decode("utf-8")
            bad = None
        except UnicodeDecodeError as err:
            bad = err.start
        mixed = UTF8_SEQUENCE.search(data) if bad is not None else None
        if mixed:
            raise ContractError(f"encoding: line {line_of(bad)}: bytes that are not UTF-8 (byte {bad}), while line "
                                f"{line_of(mixed.start())} holds UTF-8 text: a mix of encodings, which no one "
                                "reading makes right")
        try:
            tmp.write_text(data.decode("cp1252").lstrip("\ufeff"), encoding="utf-8")
        except UnicodeDecodeError as err:
            raise ContractError(f"encoding: line {line_of(err.start)}: neither UTF-8 nor Windows-1252 "
                                f"(byte {err.start}, 0x{data[err.start]:02x})") from None
        try:
            self._stage(tmp, n)
        finally:
            tmp.unlink(missing_ok=True)
        return "windows-1252"

    def _stage(self, path: Path, n: int) -> None:
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS SELECT * FROM read_csv('{sql_path(path)}', {_csv_options(n)})")
        except duckdb.InvalidInputException as err:  # the data; memory or disk errors are raised
            if "unicode" in str(err).lower():
                raise _NotUtf8() from None
            raise ContractError(_csv_errors(str(err))) from None

    def _check(self, ex: Extract, position: dict[str, str]) -> None:
        """Every rule of every present column in one scan; report the first broken one."""
        present = [c for c in ex.columns if c.name in position]
        rules = _rules(ex, lambda c: _v(position[c.name]), lambda c: f"({_parsed(c, position[c.name])})", present)
        if not rules:
            return
        aggs = ", ".join(f"min(rowid) FILTER (WHERE {pred})" for _, _, pred in rules)
        firsts = self.con.execute(f"SELECT {aggs} FROM _stage").fetchone()
        broken = [(row, i) for i, row in enumerate(firsts) if row is not None]
        if not broken:
            return
        row, i = min(broken)
        column, what, pred = rules[i]
        count = self.con.execute(f"SELECT count(*) FROM _stage WHERE {pred}").fetchone()[0]
        value = self.con.execute(f"SELECT {position[column]} FROM _stage WHERE rowid = ?", [row]).fetchone()[0]
        more = f" ({count - 1} more rows like it)" if count > 1 else ""
        shown = "" if value is None or not value.strip() else f"{value!r} "
        raise ContractError(f"line {row + 2}, column {column}: {shown}{what}{more}")

    def _check_key(self, ex: Extract, position: dict[str, str]) -> None:
        """No two rows share the snapshot's key (typed, so 12/07/2020 and 2020-12-07 are one date)."""
        key = [c for c in ex.columns if c.name in ex.unique_key and c.name in position]
        if not ex.unique_key or len(key) < len(ex.unique_key):
            return
        values = [f"({_parsed(c, position[c.name])})" for c in key]
        found = self.con.execute(
            f"SELECT {', '.join(values)}, list(rowid ORDER BY rowid)[1:2], count(*), count(*) OVER () FROM _stage "
            f"WHERE {' AND '.join(f'{v} IS NOT NULL' for v in values)} GROUP BY ALL HAVING count(*) > 1 "
            "ORDER BY min(rowid) LIMIT 1").fetchone()
        if found:
            *shown, (first, second), n, keys = found
            more = f"; {keys - 1} other keys repeat too" if keys > 1 else ""
            raise ContractError(f"lines {first + 2} and {second + 2}: the key ({', '.join(ex.unique_key)}) = "
                                f"({', '.join(str(v) for v in shown)}) appears {n} times, and a snapshot holds "
                                f"each key once{more}")

    def _quarantine(self, f: LandingFile, reason: str) -> LoadResult:
        target_dir = self.quarantine_dir / (f.source or "_unknown")
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f.name
        if target.exists():
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            target = target_dir / f"{f.path.stem}.{stamp}{f.path.suffix}"
        shutil.move(str(f.path), target)
        message = f"{f.label}: {reason}"
        (target.parent / f"{target.name}.reason.txt").write_text(
            f"file: {f.label}\nrejected: {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n"
            f"load_id: {self.load_id}\nreason: {reason}\n"
            "nothing of this file was loaded; fix it and drop it in the landing folder again\n")
        self.con.execute("INSERT INTO raw._rejections VALUES (?, ?, ?, ?, ?, ?)",
                         [self.load_id, f.name, f.source, reason, str(target),
                          datetime.now(timezone.utc).replace(tzinfo=None)])
        return LoadResult(f.label, "quarantined", reason=message)


def _csv_options(n: int) -> str:
    """read_csv options of the contract: n text columns c0.., header skipped, strict quoting."""
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n)) + "}"
    return (f"header=true, auto_detect=false, columns={columns}, delim=',', quote='\"', escape='\"', "
            "strict_mode=true, null_padding=false")


def _split(batch: list[_Checked], limit: int) -> list[list[_Checked]]:
    parts, size = [[]], 0
    for c in batch:
        if parts[-1] and size + c.size > limit:
            parts.append([])
            size = 0
        parts[-1].append(c)
        size += c.size
    return parts

